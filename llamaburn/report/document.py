"""What a report holds: the runs as stored (config, system snapshot, model info, summary, iterations), their
comparison from ``service.compare`` and the charts the UI draws, gathered once for every format.

The rows of a summary come from the run's declared metric set, as ``compare`` does, so a plugin's modality
reports by its own metrics; a number no modality declares still shows, under its stored name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from llamaburn import __version__
from llamaburn.engine.format import number, titled
from llamaburn.engine.metrics import Metric
from llamaburn.engine.modality import Modality
from llamaburn.errors import ConfigError
from llamaburn.service.charts import bar_chart, chart_groups, iteration_chart
from llamaburn.service.compare import Comparison, compare, metric_set
from llamaburn.storage.records import RunRecord
from llamaburn.storage.store import Store

STATS = ("mean", "min", "max", "stdev", "p50", "p90", "p99")
"""The statistics of ``engine.metrics.summarize`` a summary table shows, in order."""


@dataclass(frozen=True, slots=True)
class Chart:
    """One ECharts chart: the page element's id, its title and the options ``echarts.setOption`` takes."""

    id: str
    title: str
    options: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """A metric's statistics over a run's measured iterations, each already formatted with its unit."""

    metric: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunSection:
    """One run as the report shows it; the stored dicts are flattened to ``(dotted key, text)`` pairs."""

    run: RunRecord
    label: str
    config: list[tuple[str, str]]
    system: list[tuple[str, str]]
    model_info: list[tuple[str, str]]
    summary: list[SummaryRow]
    iterations: int
    chart: Chart | None


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a report file shows; ``comparison`` is ``None`` for a single run."""

    title: str
    generated_at: datetime
    version: str
    runs: list[RunSection]
    comparison: Comparison | None
    comparison_charts: list[Chart]

    @property
    def charts(self) -> list[Chart]:
        """Every chart in the report, in page order: the comparison's, then each run's iterations."""
        return [*self.comparison_charts, *(run.chart for run in self.runs if run.chart is not None)]


def flat(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """A stored dict as ``(key, text)`` pairs: nested dicts become dotted keys, lists and other values JSON
    (strings as they are), so any plugin's config reads as a two-column table."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            pairs.extend(flat(value, f"{name}."))
        else:
            pairs.append((name, value if isinstance(value, str) else json.dumps(value, default=str)))
    return pairs


def summary_rows(summary: Mapping[str, Any], metrics: Iterable[Metric]) -> list[SummaryRow]:
    """The declared metrics the summary holds, labelled with their units, then any other stored number."""
    rows = []
    declared = {metric.name: metric for metric in metrics}
    for metric in declared.values():
        if isinstance(stats := summary.get(metric.name), Mapping):
            rows.append(SummaryRow(titled(metric), tuple(number(stats.get(s), metric.unit, 2) for s in STATS)))
    for name, stats in summary.items():
        if name not in declared and isinstance(stats, Mapping):
            rows.append(SummaryRow(name, tuple(number(stats.get(s), "", 2) for s in STATS)))
    return rows


def build_report(store: Store, modalities: Mapping[str, Modality], run_ids: list[str]) -> Report:
    """The report of ``run_ids`` (ids or unique prefixes, in that order); an unknown id raises
    ``ConfigError`` from the store before anything is rendered."""
    if not run_ids:
        raise ConfigError("a report needs at least one run id")
    runs = store.get_runs(run_ids)
    metrics = metric_set(modalities, runs)
    comparison = compare(runs, metrics) if len(runs) > 1 else None
    labels = [column.label for column in comparison.runs] if comparison else [f"{runs[0].model} ({runs[0].id[:8]})"]
    sections = []
    for index, (run, label) in enumerate(zip(runs, labels, strict=True)):
        own = metric_set(modalities, [run])
        measured = [it.metrics for it in store.iterations(run.id) if not it.warmup]
        chart = None
        if measured:
            chart = Chart(f"chart-run-{index}", f"Iterations: {label}", iteration_chart(own, measured))
        sections.append(
            RunSection(
                run=run,
                label=label,
                config=flat(run.config),
                system=flat(run.system),
                model_info=flat(run.model_info or {}),
                summary=summary_rows(run.summary, own),
                iterations=len(measured),
                chart=chart,
            )
        )
    charts = []
    if comparison is not None:
        for index, (title, rows) in enumerate(chart_groups(comparison, metrics)):
            charts.append(Chart(f"chart-comparison-{index}", title, bar_chart(comparison, title, rows)))
    title = "LlamaBurn report: " + " vs ".join(dict.fromkeys(run.model for run in runs))
    return Report(title, datetime.now(UTC), __version__, sections, comparison, charts)
