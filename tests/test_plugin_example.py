"""The plugin promise, end to end: build the llamaburn-embeddings example's wheel, pip install it into a fresh
virtual environment next to llamaburn, and nothing else: it is listed, it runs from the CLI, its tab runs in
the app, and its own test suite passes against the installed wheel.

The environment sees the packages of the interpreter running the tests (a ``.pth`` file adds its site
directories), so llamaburn and its dependencies are there without a download, whether that interpreter is a
virtualenv's or the system's; the wheel is built and installed offline (``--no-index``).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from llamaburn.storage.store import Store
from tests.system import needs_debian_packages, served_app, venv_with_project

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "llamaburn-embeddings"
PROJECT = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
CHROMIUM = "/usr/bin/chromium"
DECLARED = ("embeddings_per_s", "input_tokens_per_s", "batch_latency_ms_p50", "batch_latency_ms_p95", "dimension")


def _load_fake() -> ModuleType:
    """The example's own fake server, so both suites test against the same one (it is not a package here)."""
    spec = importlib.util.spec_from_file_location("fake_embeddings", EXAMPLE / "tests" / "fake_embeddings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


fake_embeddings = _load_fake()


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment holding the example's wheel; its python is returned."""
    return venv_with_project(EXAMPLE, tmp_path_factory.mktemp("plugin-example"))


@pytest.fixture
def fake() -> Iterator[Any]:
    with fake_embeddings.FakeEmbeddingsServer() as server:
        yield server


def in_venv(python: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    return subprocess.run([str(python), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_llamaburn_plugins_lists_it_with_its_distribution_and_version(venv: Path) -> None:
    result = in_venv(venv, "-m", "llamaburn", "plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row for row in rows if row["name"] == "embeddings"] == [
        {"kind": "modality", "name": "embeddings", "label": "Embeddings", "available": True,
         "distribution": "llamaburn-embeddings", "version": PROJECT["version"], "error": None}
    ]
    assert all(row["error"] is None for row in rows)


@pytest.mark.parametrize(("backend", "path"), [("ollama", "/api/embed"), ("openai", "/v1/embeddings")])
def test_llamaburn_bench_runs_it_and_stores_the_run(venv: Path, fake: Any, backend: str, path: str) -> None:
    result = in_venv(venv, "-m", "llamaburn", "bench", "--modality", "embeddings", "--backend", backend,
                     "--url", fake.url, "--model", fake_embeddings.DEFAULT_MODEL, "--iterations", "2", "--json",
                     "--input", "batch_size=3")  # the plugin's own field, from the command line
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["status"], report["modality"], report["backend"]) == ("completed", "embeddings", backend)
    assert report["config"]["inputs"]["batch_size"] == 3
    assert len(report["iterations"]) == 2
    assert set(DECLARED) <= set(report["summary"])
    assert all((it["dimension"], it["batches"]) == (8, 3) for it in report["iterations"])
    # The default eight texts in batches of 3, 3 and 2, for the warmup and each iteration.
    assert [len(r.body["input"]) for r in fake.embed_requests] == [3, 3, 2] * 3
    assert {r.path for r in fake.embed_requests} == {path}
    assert "batch 1/3: 3 x 8-d vectors" in result.stderr  # the live progress shows each batch
    assert "Embeddings/s" in result.stderr  # and each iteration's declared metrics, by their labels
    [stored] = Store().list_runs()
    assert (stored.id, stored.modality, stored.status) == (report["run_id"], "embeddings", "completed")


def test_a_bad_value_for_its_own_field_is_one_line_and_exit_2(venv: Path, fake: Any) -> None:
    result = in_venv(venv, "-m", "llamaburn", "bench", "--modality", "embeddings", "--backend", "ollama",
                     "--url", fake.url, "--input", "batch_size=0")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "llamaburn: error: batch_size: Input should be greater than or equal to 1 (got '0')"
    )
    assert fake.embed_requests == []


def test_its_own_test_suite_passes_against_the_installed_wheel(venv: Path, tmp_path: Path) -> None:
    # From a neutral folder, so the package imported is the installed wheel, not the source folder.
    result = in_venv(venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_its_package_imports_only_the_public_plugin_api() -> None:
    imported = set()
    for source in (EXAMPLE / "llamaburn_embeddings").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert {name for name in imported if name.split(".")[0] == "llamaburn"} == {"llamaburn.plugin"}


@pytest.fixture
def app_url(venv: Path, fake: Any, tmp_path: Path) -> Iterator[str]:
    """The app as a user starts it from the environment, with its Ollama pointed at the fake server."""
    with served_app(venv, tmp_path, OLLAMA_HOST=fake.url, NICEGUI_STORAGE_PATH=str(tmp_path / "storage")) as url:
        yield url


@needs_debian_packages("browser")
def test_its_tab_renders_its_form_and_runs_live_in_the_app(app_url: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(app_url)
            expect(page.get_by_text(re.compile(r"^connected"))).to_be_visible(timeout=15_000)
            tab = page.get_by_role("tab", name="Embeddings")
            expect(tab).to_be_visible()
            tab.click()
            form = page.locator(".q-tab-panel").filter(has=page.get_by_label("Batch size"))  # its own form
            expect(form.get_by_label("Texts (one per line)")).to_have_value(re.compile(r"^The quick brown fox"))
            expect(form.get_by_label("Batch size")).to_have_value("8")
            form.get_by_label("Iterations").fill("2")
            form.get_by_label("Warmup").fill("0")
            page.get_by_role("button", name="Run").click()  # the one Run button runs the selected tab
            expect(page.get_by_text("Complete", exact=True)).to_be_visible(timeout=20_000)
            live = page.locator(".whitespace-pre-wrap:visible")  # the answer; the thinking label stays hidden
            expect(live).to_contain_text("batch 1/1: 8 x 8-d vectors, 84 tokens in")
            # Results, live table and history show the plugin's declared metrics, not text's.
            for card in ("Avg Embeddings/s", "Avg Input TPS", "Avg Batch latency p95"):
                expect(page.get_by_text(card, exact=True)).to_be_visible()
            expect(page.get_by_text("Avg TTFT", exact=True)).to_have_count(0)
            expect(page.locator("th").filter(has_text="Embeddings/s").first).to_be_visible()
            history = page.locator(".q-table tbody tr").filter(has_text="embeddings")
            expect(history.filter(has_text="completed")).to_have_count(1, timeout=5_000)
            table = page.locator(".q-table").filter(has_text="Backend")  # history: the plugin's own first two columns
            expect(table.locator("thead")).to_contain_text("Embeddings/s (emb/s)")
            expect(table.locator("thead")).not_to_contain_text("TTFT (ms)")  # no text metric of its own
        finally:
            browser.close()
