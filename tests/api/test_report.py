"""``GET /api/report``: the same file as ``llamaburn report``, as HTML or Markdown, with its media type and a
file name; bad input is a 422 or a 404 in the API's usual form."""

from __future__ import annotations

import httpx

from llamaburn.report import build_report, render
from llamaburn.service.runs import RunService
from tests.reports import FAST, SLOW, store_runs


async def test_the_api_returns_the_html_report(client: httpx.AsyncClient, service: RunService) -> None:
    store_runs(service.store)
    response = await client.get("/api/report", params={"runs": f"{FAST[:8]}, {SLOW[:8]}"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-disposition"] == f'inline; filename="llamaburn-report-{FAST[:8]}-{SLOW[:8]}.html"'
    html = response.text
    assert 'id="comparison-table"' in html and "globalThis.echarts = " in html
    assert f"<code>{SLOW}</code>" in html


async def test_the_api_returns_markdown_as_the_cli_writes_it(client: httpx.AsyncClient, service: RunService) -> None:
    store_runs(service.store)
    response = await client.get("/api/report", params={"runs": FAST, "format": "md"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    expected = render(build_report(service.store, service.registry.modalities, [FAST]), "md")
    generated = "Generated "  # the one line that names the moment it was made
    assert [line for line in response.text.splitlines() if not line.startswith(generated)] == [
        line for line in expected.splitlines() if not line.startswith(generated)
    ]


async def test_bad_input_is_refused(client: httpx.AsyncClient, service: RunService) -> None:
    store_runs(service.store)
    unknown = await client.get("/api/report", params={"runs": f"{FAST},nope"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    empty = await client.get("/api/report", params={"runs": " , "})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["query", "runs"]
    bad_format = await client.get("/api/report", params={"runs": FAST, "format": "pdf"})
    assert bad_format.status_code == 422 and bad_format.json()["detail"][0]["loc"] == ["query", "format"]
    assert (await client.get("/api/report")).status_code == 422
