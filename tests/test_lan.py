"""`llamaburn --lan`: every page and API call needs the token; login, cookie, rate limit."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.system import OUTPUT, served_app

TOKEN = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def lan_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("lan")
    with served_app(Path(sys.executable), folder, "--lan", ready="/login", LLAMABURN_TOKEN=TOKEN,
                    LLAMABURN_DB_URL=f"sqlite:///{folder / 'lan.db'}", OLLAMA_HOST="127.0.0.1:9") as url:
        yield url
    assert f"Access token: {TOKEN}" in (folder / OUTPUT).read_text()


def test_pages_redirect_to_login_and_the_api_answers_401(lan_app: str) -> None:
    url = lan_app
    page = httpx.get(url, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert "Access token" in httpx.get(f"{url}/login").text
    for path in ("/api/history", "/api/plugins", "/docs"):
        response = httpx.get(f"{url}{path}")
        assert response.status_code in (401, 303), path
    assert httpx.get(f"{url}/api/history").status_code == 401
    assert httpx.get(f"{url}/api/history", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_bearer_token_opens_the_api(lan_app: str) -> None:
    url = lan_app
    response = httpx.get(f"{url}/api/plugins", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert any(row["name"] == "text" for row in response.json())


def test_login_sets_a_session_cookie_that_opens_the_pages(lan_app: str) -> None:
    url = lan_app
    with httpx.Client(base_url=url) as browser:
        wrong = browser.post("/login", data={"token": "nope"})
        assert wrong.status_code == 401 and "Wrong token." in wrong.text
        assert browser.get("/", follow_redirects=False).status_code == 303
        right = browser.post("/login", data={"token": TOKEN}, follow_redirects=False)
        assert right.status_code == 303
        cookie = browser.cookies.get("llamaburn_session")
        assert cookie and TOKEN not in cookie  # the cookie is an HMAC of the token, not the token
        home = browser.get("/")
        assert home.status_code == 200 and "<title>LlamaBurn</title>" in home.text


def test_failed_logins_are_rate_limited(lan_app: str) -> None:
    url = lan_app
    with httpx.Client(base_url=url) as attacker:
        codes = [attacker.post("/login", data={"token": f"guess-{i}"}).status_code for i in range(6)]
        assert codes[-1] == 429
        blocked = attacker.post("/login", data={"token": TOKEN})
        assert blocked.status_code == 429 and "retry-after" in blocked.headers


def test_openapi_docs_and_json_404_with_the_token(lan_app: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{lan_app}/docs", headers=headers).status_code == 200
    schema = httpx.get(f"{lan_app}/openapi.json", headers=headers).json()
    assert "/api/benchmark" in schema["paths"]
    missing = httpx.get(f"{lan_app}/api/nope", headers=headers)
    assert missing.status_code == 404 and "no API endpoint /api/nope" in missing.json()["detail"]
