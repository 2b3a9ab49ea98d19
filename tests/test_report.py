"""A report's content for known runs, in both formats: the comparison table, each run's summary, config,
system snapshot and model info; and the package data a wheel must carry for it."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from llamaburn.engine.registry import load_registry
from llamaburn.errors import ConfigError
from llamaburn.report import build_report, filename, render
from llamaburn.report.echarts import EChartsNotFound, echarts_script
from llamaburn.storage.store import Store
from tests.reports import FAST, SLOW, store_runs

PROJECT = Path(__file__).parent.parent


@pytest.fixture
def store() -> Store:
    store = Store()
    store_runs(store)
    return store


def test_the_report_holds_the_comparison_and_each_runs_records(store: Store) -> None:
    report = build_report(store, load_registry().modalities, [FAST[:8], SLOW])
    assert report.comparison is not None
    assert [section.run.id for section in report.runs] == [FAST, SLOW]
    assert [section.iterations for section in report.runs] == [3, 2]  # warmups are not measured iterations
    fast = report.runs[0]
    assert ("inputs.prompt", "Say <hi> | twice") in fast.config
    assert ("cpu.cores", "2") in fast.system
    assert ("quantization", "Q4_K_M") in fast.model_info
    assert report.runs[1].model_info == []
    tps = fast.summary[0]
    assert (tps.metric, tps.values[:3]) == ("TPS (tok/s)", ("110.00 tok/s", "100.00 tok/s", "120.00 tok/s"))
    assert [chart.id for chart in report.charts] == [
        *(f"chart-comparison-{i}" for i in range(len(report.comparison_charts))),
        "chart-run-0",
        "chart-run-1",
    ]
    assert fast.chart is not None and fast.chart.options["series"][0]["data"] == [100.0, 110.0, 120.0]
    assert filename(report, "md") == f"llamaburn-report-{FAST[:8]}-{SLOW[:8]}.md"


def test_the_markdown_report_pastes_as_tables(store: Store) -> None:
    text = render(build_report(store, load_registry().modalities, [FAST, SLOW]), "md")
    header = f"| Metric | Better | llama3.2:1b @ host-a ({FAST[:8]}) | qwen3:4b @ host-b ({SLOW[:8]}) |"
    assert header in text
    assert (
        f"| Avg TPS (tok/s) | higher | **110.00 tok/s** | 55.00 tok/s | -50.0% | llama3.2:1b @ host-a ({FAST[:8]}) |"
        in text
    )
    assert "| Avg TTFT (ms) | lower | **40.00 ms** | 85.00 ms | +112.5% |" in text
    assert "| Avg ITL p50" not in text  # a row no run has a value for is left out
    assert "| Quant | | Q4_K_M | - | | |" in text
    assert "| inputs.prompt | Say &lt;hi> \\| twice |" in text  # a pipe does not split the cell
    assert "| TTFT (ms) | 85.00 ms | 80.00 ms | 90.00 ms | 7.07 ms |" in text
    assert "<script" not in text
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert all(line.endswith("|") for line in rows)


def test_the_html_report_is_one_file_with_echarts_inlined(store: Store) -> None:
    report = build_report(store, load_registry().modalities, [FAST, SLOW])
    html = render(report, "html")
    assert echarts_script() in html
    assert "globalThis.echarts = " in html
    page = html.replace(echarts_script(), "")  # ECharts' own code holds markup in strings
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)  # nothing loaded from elsewhere
    assert "Say &lt;hi&gt; | twice" in html  # stored text is escaped, never markup
    assert f'<code>{FAST}</code>' in html
    for chart in report.charts:
        assert f'id="{chart.id}"' in html


def test_a_single_run_reports_without_a_comparison(store: Store) -> None:
    report = build_report(store, load_registry().modalities, [SLOW])
    assert report.comparison is None and report.comparison_charts == []
    text = render(report, "md")
    assert "## Comparison" not in text
    assert f"## qwen3:4b ({SLOW[:8]})" in text
    assert "| iterations | 2 |" in text


def test_unknown_or_no_runs_are_refused_before_rendering(store: Store) -> None:
    with pytest.raises(ConfigError, match="nope"):
        build_report(store, load_registry().modalities, [FAST, "nope"])
    with pytest.raises(ConfigError, match="at least one run"):
        build_report(store, load_registry().modalities, [])


def test_the_wheel_ships_the_templates(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "--wheel-dir", str(tmp_path), str(PROJECT)],
        check=True,
    )
    [wheel] = tmp_path.glob("llamaburn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"llamaburn/report/templates/report.html.j2", "llamaburn/report/templates/report.md.j2"} <= set(names)


def test_echarts_comes_from_nicegui_and_a_changed_bundle_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = echarts_script()
    assert script.rstrip().endswith(";") and "globalThis.echarts = " in script
    assert "\nexport{" not in script and not re.search(r"export\s*\{[^}]*\}\s*;?\s*$", script)
    dist = tmp_path / "elements" / "echart" / "dist"
    dist.mkdir(parents=True)
    (dist / "index.js").write_text('export * from "./somewhere-else.js";')
    monkeypatch.setattr("llamaburn.report.echarts.nicegui_dir", lambda: tmp_path)
    echarts_script.cache_clear()
    try:
        with pytest.raises(EChartsNotFound, match="does not re-export echarts"):
            echarts_script()
    finally:
        echarts_script.cache_clear()
