"""A report as text: HTML (one self-contained file, ECharts inlined) or Markdown (for pasting into an issue),
both rendered from the Jinja2 templates shipped in ``llamaburn/report/templates``."""

from __future__ import annotations

import functools
import json
from typing import Any, Literal

import jinja2

from llamaburn.engine.format import number
from llamaburn.report.document import STATS, Report
from llamaburn.report.echarts import echarts_script

Format = Literal["html", "md"]
FORMATS: tuple[Format, ...] = ("html", "md")
MEDIA_TYPES: dict[Format, str] = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8"}


def md_cell(value: Any) -> str:
    """A Markdown table cell: a pipe would end the cell, a newline the row, and ``<`` could start HTML."""
    return str(value).replace("|", "\\|").replace("<", "&lt;").replace("\r", " ").replace("\n", " ")


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: ``</`` would end it."""
    return json.dumps(value, default=str).replace("</", "<\\/")


def diff(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("llamaburn.report", "templates"),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(number=number, md=md_cell, diff=diff, script_json=script_json)
    return env


def render(report: Report, fmt: Format) -> str:
    """The report in ``fmt``; the HTML inlines ECharts, so it draws its charts from disk with no network."""
    template = environment().get_template(f"report.{fmt}.j2")
    extra: dict[str, Any] = {}
    if fmt == "html" and report.charts:
        extra = {"echarts": echarts_script(), "charts": [{"id": c.id, "options": c.options} for c in report.charts]}
    return template.render(report=report, stats=STATS, **extra)


def filename(report: Report, fmt: Format) -> str:
    """``llamaburn-report-<id8>-<id8>.html``: names the runs, so two downloads do not overwrite each other."""
    return "llamaburn-report-" + "-".join(section.run.id[:8] for section in report.runs) + f".{fmt}"
