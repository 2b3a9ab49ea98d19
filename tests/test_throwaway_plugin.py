"""A plugin no face has heard of, pip-installed with its entry point: its modality's integer and choice fields
and its backend's URL reach the CLI, the API's OpenAPI schema and the app's form and header, with no face
edited. This is the plugin contract's promise (issue 12): the faces read declarations, never names."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from llamaburn.testing import FakeServer
from tests.system import needs_debian_packages, served_app, venv_with_project

PLUGIN = Path(__file__).parent / "data" / "llamaburn-dial"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return venv_with_project(PLUGIN, tmp_path_factory.mktemp("dial"))


def in_venv(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    return subprocess.run([str(python), "-m", "llamaburn", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_bench_input_takes_its_fields_and_refuses_a_bad_one_in_one_line(venv: Path) -> None:
    result = in_venv(venv, "bench", "--modality", "dial", "--backend", "dial", "--iterations", "2", "--warmup", "0",
                     "--input", "level=3", "--input", "flavour=sour", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["status"], report["backend"], report["model"]) == ("completed", "dial", "dial-1")
    assert {k: report["config"]["inputs"][k] for k in ("level", "flavour")} == {"level": 3, "flavour": "sour"}
    bad = in_venv(venv, "bench", "--modality", "dial", "--backend", "dial", "--input", "flavour=salty")
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("llamaburn: error: flavour: Input should be 'sweet' or 'sour'")
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeServer]:
    """The app's default backend, so the page settles on it (and never starts the embedded server)."""
    with FakeServer() as server:
        yield server


@pytest.fixture(scope="module")
def app_url(venv: Path, ollama: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("dial-app")
    with served_app(venv, tmp, OLLAMA_HOST=ollama.url, NICEGUI_STORAGE_PATH=str(tmp / "storage"),
                    LLAMABURN_DB_URL=f"sqlite:///{tmp / 'history.db'}") as url:
        yield url


def _schemas_with(spec: dict[str, Any], field: str) -> list[dict[str, Any]]:
    return [schema for schema in spec["components"]["schemas"].values() if field in schema.get("properties", {})]


def test_openapi_has_its_schema_with_its_fields(app_url: str) -> None:
    spec = httpx.get(f"{app_url}/openapi.json", timeout=10).json()
    [dial] = _schemas_with(spec, "flavour")
    assert dial["properties"]["level"]["type"] == "integer"
    assert (dial["properties"]["level"]["minimum"], dial["properties"]["level"]["maximum"]) == (1, 9)
    assert dial["properties"]["flavour"]["enum"] == ["sweet", "sour"]
    assert dial["properties"]["type"]["const"] == "dial" and "type" in dial["required"]
    bodies = spec["paths"]["/api/benchmark"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert {"$ref": "#/components/schemas/DialRunBody"} in bodies


@needs_debian_packages("browser")
def test_its_fields_show_in_the_form_and_its_backend_gets_a_url_field(app_url: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(app_url)
            expect(page.get_by_text(re.compile(r"^connected"))).to_be_visible(timeout=15_000)  # the page is live
            page.get_by_role("tab", name="Dial").click()
            form = page.locator(".q-tab-panel").filter(has=page.get_by_label("Level"))
            expect(form.get_by_label("Level")).to_have_value("4")
            expect(form.get_by_label("Flavour")).to_be_visible()
            page.get_by_label("Backend", exact=True).click()
            page.get_by_role("option", name="Dial server").click()
            url = page.get_by_label("URL", exact=True)
            expect(url).to_be_visible()
            expect(url).to_have_attribute("placeholder", re.compile(r"dial\.local:7777"))
            expect(page.get_by_text("connected · 1 model")).to_be_visible(timeout=15_000)
        finally:
            browser.close()
