"""No endpoint reads files: path-like ids in ``/api/history/{id}`` and ``/api/models/{id}/info`` get 404
or 422, and a server URL that is not HTTP is refused before any request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llamaburn.storage.records import IterationRecord, RunRecord
from llamaburn.storage.store import Store, now
from llamaburn.testing import DEFAULT_MODEL, FakeServer

PATH_LIKE_IDS = [
    "%2E%2E",  # ".." itself would be resolved away by the client before it is sent
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2Fetc%2Fpasswd",
    "..%5C..%5C..%5Cwindows%5Cwin.ini",
    "file%3A%2F%2F%2Fetc%2Fpasswd",
    "%00",
    "etc%2Fpasswd%00",
    "~root",
]
SECRETS_ON_DISK = [Path("/etc/passwd"), Path("/etc/hostname")]


def assert_no_file_contents(response: httpx.Response) -> None:
    for path in SECRETS_ON_DISK:
        if path.exists():
            first = path.read_text(errors="replace").splitlines()[0].strip()
            assert not first or first not in response.text, path
    assert "root:x:0:0" not in response.text


@pytest.fixture
async def with_a_run(api: httpx.AsyncClient, db_url: str) -> httpx.AsyncClient:
    store = Store()
    store.create_run(
        RunRecord(
            id="7b4d2e8f-0000-4000-8000-000000000001",
            created_at=now(),
            modality="text",
            backend="ollama",
            model=DEFAULT_MODEL,
            status="completed",
        )
    )
    store.add_iteration(IterationRecord(run_id="7b4d2e8f-0000-4000-8000-000000000001", index=1, output="kept"))
    return api


@pytest.mark.parametrize("run_id", PATH_LIKE_IDS)
async def test_path_like_run_ids_are_404(with_a_run: httpx.AsyncClient, run_id: str) -> None:
    for method in ("GET", "DELETE"):
        response = await with_a_run.request(method, f"/api/history/{run_id}")
        assert response.status_code in (404, 422), (method, run_id, response.status_code)
        assert_no_file_contents(response)
    assert (await with_a_run.get("/api/history")).json()["total"] == 1


@pytest.mark.parametrize("run_id", ["____", "%25%25%25%25", "7b4d%25", "7b4d____"])
async def test_wildcard_run_ids_name_no_run(with_a_run: httpx.AsyncClient, run_id: str) -> None:
    assert (await with_a_run.get(f"/api/history/{run_id}")).status_code == 404
    assert (await with_a_run.delete(f"/api/history/{run_id}")).status_code == 404
    assert (await with_a_run.get("/api/history")).json()["total"] == 1


@pytest.fixture(scope="module")
def model_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.mark.parametrize("model_id", [*PATH_LIKE_IDS, "..%2F..%2Fapi%2Ftags", "%2F..%2F..%2Fetc%2Fshadow"])
async def test_path_like_model_ids_are_404(api: httpx.AsyncClient, model_server: FakeServer, model_id: str) -> None:
    params = {"backend": "ollama", "url": model_server.url}
    response = await api.get(f"/api/models/{model_id}/info", params=params)
    assert response.status_code in (404, 422), (model_id, response.status_code, response.text)
    assert_no_file_contents(response)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "/etc/passwd", "ftp://127.0.0.1/etc/passwd", "gopher://127.0.0.1:70/", "http://[::1"]
)
async def test_server_urls_that_are_not_http_are_422(api: httpx.AsyncClient, url: str) -> None:
    for path in ("/api/models", f"/api/models/{DEFAULT_MODEL}/info"):
        response = await api.get(path, params={"backend": "ollama", "url": url})
        assert response.status_code == 422, (path, url, response.text)
        assert response.json()["detail"][0]["loc"] == ["query", "url"]
        assert_no_file_contents(response)
    started = await api.post("/api/benchmark", json={"backend": "ollama", "url": url, "prompt": "hi"})
    assert started.status_code == 422 and started.json()["detail"][0]["loc"] == ["body", "url"]


async def test_an_unknown_api_path_is_a_json_404_and_an_unknown_page_is_the_html_one(api: httpx.AsyncClient) -> None:
    missing = await api.get("/api/nope/..%2F..%2Fetc%2Fpasswd")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"
    assert missing.json()["detail"].startswith("no API endpoint /api/nope/") and "see /docs" in missing.json()["detail"]
    assert_no_file_contents(missing)
    page = await api.get("/nope")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
