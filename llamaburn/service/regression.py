"""The regression guard behind ``llamaburn check`` and ``POST /api/check``: a run against its baseline.

A metric regresses when it moves the wrong way (by its declared direction) by more than its threshold
*and* Welch's test says the move is not noise. A slower run whose difference is not significant passes,
and says "within noise"; a run with fewer than two iterations cannot be tested, so it is no verdict at all
(the CLI exits 2, not 0). docs/metrics.md, "Regression check", gives the rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from llamaburn.engine.metrics import Metric
from llamaburn.errors import ConfigError
from llamaburn.service.compare import Samples
from llamaburn.service.statistics import Estimate, estimate, too_short, welch
from llamaburn.storage.records import RunRecord

DEFAULT_MAX_REGRESSION_PCT = 5.0
"""The threshold of the headline metric when ``--max-regression`` names none."""
_PAIR = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*%?\s*$")

Verdict = Literal["pass", "regression", "within noise", "too few iterations"]


class Threshold(BaseModel):
    metric: str
    max_pct: float


class MetricCheck(BaseModel):
    """One metric of the run against the baseline: ``regression_pct`` is positive when the run is worse."""

    metric: str
    label: str
    unit: str
    direction: Literal["higher", "lower"]
    max_regression_pct: float
    baseline: Estimate | None
    current: Estimate | None
    change_pct: float | None
    regression_pct: float | None
    p_value: float | None
    significant: bool
    verdict: Verdict


class CheckResult(BaseModel):
    run_id: str
    baseline_run_id: str
    baseline_tag: str
    outcome: Literal["pass", "regression", "untestable"]
    """``regression`` if any metric regressed; else ``untestable`` if any could not be tested; else ``pass``."""
    metrics: list[MetricCheck]
    warnings: list[str]
    """A run too short to tell a 5 % change, per run and metric, with the iterations it would need."""


def thresholds(text: str | None, metrics: Sequence[Metric]) -> list[Threshold]:
    """``tps=5%,ttft_ms=10%`` as thresholds of the modality's ``metrics``; none given: the headline at 5 %."""
    if not metrics:
        raise ConfigError("the run's modality declares no metrics to check")
    if text is None or not text.strip():
        return [Threshold(metric=metrics[0].name, max_pct=DEFAULT_MAX_REGRESSION_PCT)]
    known = {metric.name for metric in metrics}
    found: dict[str, Threshold] = {}
    for pair in text.split(","):
        match = _PAIR.match(pair)
        if match is None:
            raise ConfigError(f"--max-regression: expected METRIC=PERCENT like tps=5%, got {pair.strip()!r}")
        name = match.group(1)
        if name not in known:
            raise ConfigError(f"--max-regression: unknown metric {name!r}; this modality has {', '.join(known)}")
        if name in found:
            raise ConfigError(f"--max-regression: {name} given twice")
        found[name] = Threshold(metric=name, max_pct=float(match.group(2)))
    return list(found.values())


def _verdict(regression_pct: float | None, max_pct: float, tested: bool, significant: bool) -> Verdict:
    if not tested or regression_pct is None:
        return "too few iterations"
    if regression_pct > 0 and not significant:
        return "within noise"
    return "regression" if regression_pct > max_pct else "pass"


def _metric(metric: Metric, max_pct: float, base: Sequence[float], current: Sequence[float]) -> MetricCheck:
    before, after = estimate(base), estimate(current)
    change = None
    if before is not None and after is not None and before.mean != 0:
        change = (after.mean - before.mean) / abs(before.mean) * 100
    regression = None if change is None else (-change if metric.direction == "higher" else change)
    test = welch(base, current)
    return MetricCheck(
        metric=metric.name,
        label=metric.label,
        unit=metric.unit,
        direction=metric.direction,
        max_regression_pct=max_pct,
        baseline=before,
        current=after,
        change_pct=change,
        regression_pct=regression,
        p_value=test.p_value,
        significant=test.significant,
        verdict=_verdict(regression, max_pct, test.p_value is not None, test.significant),
    )


def check(
    run: RunRecord, baseline: RunRecord, tag: str, found: Samples, metrics: Sequence[Metric], limits: list[Threshold]
) -> CheckResult:
    """Check ``run`` against ``baseline`` on each threshold's metric, by the runs' iterations in ``found``."""
    by_name = {metric.name: metric for metric in metrics}
    checks, warnings = [], []
    for limit in limits:
        metric = by_name[limit.metric]
        base = list(found.get(baseline.id, {}).get(metric.name, []))
        current = list(found.get(run.id, {}).get(metric.name, []))
        checks.append(_metric(metric, limit.max_pct, base, current))
        for who, samples in (("baseline", base), ("run", current)):
            if warning := too_short(estimate(samples), metric.label):
                warnings.append(f"{who}: {warning}")
    verdicts = {item.verdict for item in checks}
    outcome: Literal["pass", "regression", "untestable"] = (
        "regression" if "regression" in verdicts else "untestable" if "too few iterations" in verdicts else "pass"
    )
    return CheckResult(
        run_id=run.id, baseline_run_id=baseline.id, baseline_tag=tag, outcome=outcome, metrics=checks,
        warnings=warnings,
    )


def explain(item: MetricCheck) -> str:
    """One line a user reads: what moved, by how much, against what threshold, and whether it is noise."""
    if item.verdict == "too few iterations" or item.regression_pct is None:
        return f"{item.metric}: cannot be tested: each run needs at least 2 iterations with a value"
    worse = "worse" if item.regression_pct > 0 else "better"
    moved = f"{item.metric} is {abs(item.regression_pct):.1f}% {worse} than the baseline"
    p_value = f"p={item.p_value:.3g}" if item.p_value is not None else "p unknown"
    if item.verdict == "within noise":
        return f"{moved}, within noise ({p_value}): not a regression"
    if item.verdict == "regression":
        return f"{moved} ({p_value}), beyond the {item.max_regression_pct:g}% allowed: a regression"
    if item.regression_pct <= 0:
        return f"{moved} ({p_value})"
    return f"{moved} ({p_value}), within the {item.max_regression_pct:g}% allowed"
