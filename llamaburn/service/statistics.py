"""The statistics a comparison and ``llamaburn check`` rest on: a mean's 95 % confidence interval, Welch's
t-test between two runs' iterations, the coefficient of variation, and how many iterations a run needs to
tell a 5 % change from noise.

Everything goes through scipy, never a hand-rolled distribution: these numbers decide whether a CI job fails.
A run's iterations are its samples. Welch's test is the one that does not assume the two runs share a
variance, which runs on different servers or machines rarely do. Its t distribution assumes a roughly
normal mean; a skewed run (a few slow outliers: a model reload, a GC pause) breaks that, so a skewed sample
of at least ``RESAMPLED_FROM`` iterations gets a BCa bootstrap interval and a permutation test instead.
Below that, a bootstrap is less reliable than Student's t, which stays. The resampling is seeded, so the
same runs always give the same answer. docs/metrics.md gives the formulas.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
"""A difference is significant when Welch's two-sided p-value is below this."""
DETECTABLE_CHANGE_PCT = 5.0
"""The change a run should be long enough to tell from noise."""
POWER = 0.8
"""The chance of seeing a real ``DETECTABLE_CHANGE_PCT`` change that ``iterations_needed`` plans for."""
SKEW_LIMIT = 1.0
"""A sample whose skewness (adjusted Fisher-Pearson, scipy's ``skew(bias=False)``) exceeds this in size is
skewed: its mean is not near-normal at a benchmark's sample sizes."""
RESAMPLED_FROM = 10
"""The fewest iterations a skewed sample is resampled from; below, Student's t and Welch's test stay."""
RESAMPLES = 9999
SEED = 0


class Estimate(BaseModel):
    """A run's mean of one metric, with its 95 % confidence interval (Student's t, n - 1 degrees of freedom).

    ``low`` and ``high`` are ``None`` for a single iteration: one sample has no spread to build an interval
    from. ``cv_pct`` is the sample standard deviation over the mean, in percent (``None`` for a mean of 0).
    """

    n: int
    mean: float
    low: float | None = None
    high: float | None = None
    cv_pct: float | None = None
    method: Literal["t", "bootstrap"] = "t"
    """``bootstrap``: a skewed sample's BCa bootstrap interval; ``t``: Student's t."""


class Difference(BaseModel):
    """Welch's t-test of a run against the first: ``p_value`` is two-sided, ``None`` when either run has
    fewer than two iterations (then nothing is known, and ``significant`` is false)."""

    p_value: float | None
    significant: bool
    method: Literal["welch", "permutation"] = "welch"
    """``permutation``: a permutation test of the difference in means, for a skewed sample."""


def finite(values: Sequence[object]) -> list[float]:
    """The numbers among an iteration column's values; ``None``, text and non-finite values are not samples."""
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]


def skewed(samples: Sequence[float]) -> bool:
    """Whether ``samples`` are many enough and skewed enough to be resampled rather than trusted to t."""
    if len(samples) < RESAMPLED_FROM or statistics.pvariance(samples) == 0:
        return False
    return bool(abs(stats.skew(samples, bias=False)) > SKEW_LIMIT)


def _mean_difference(first: Any, other: Any, axis: int) -> Any:
    return np.mean(other, axis=axis) - np.mean(first, axis=axis)


def estimate(samples: Sequence[float]) -> Estimate | None:
    """The mean of ``samples`` and its interval; ``None`` for no samples."""
    n = len(samples)
    if n == 0:
        return None
    mean = statistics.fmean(samples)
    if n == 1:
        return Estimate(n=1, mean=mean)
    stdev = statistics.stdev(samples)
    cv_pct = stdev / abs(mean) * 100 if mean != 0 else None
    if stdev == 0:
        return Estimate(n=n, mean=mean, low=mean, high=mean, cv_pct=cv_pct)
    if skewed(samples):
        interval = stats.bootstrap(
            (np.asarray(samples),), np.mean, confidence_level=CONFIDENCE, method="BCa", n_resamples=RESAMPLES,
            rng=np.random.default_rng(SEED),
        ).confidence_interval
        return Estimate(n=n, mean=mean, low=float(interval.low), high=float(interval.high), cv_pct=cv_pct,
                        method="bootstrap")
    low, high = stats.t.interval(CONFIDENCE, n - 1, loc=mean, scale=stdev / math.sqrt(n))
    return Estimate(n=n, mean=mean, low=float(low), high=float(high), cv_pct=cv_pct)


def welch(first: Sequence[float], other: Sequence[float], alpha: float = ALPHA) -> Difference:
    """Whether ``other``'s mean differs from ``first``'s beyond noise: Welch's t-test, two-sided, or a
    permutation test of the difference in means when either sample is ``skewed``.

    Two runs without any spread (a fake server's exact clock, a pass rate of 100 every time) have no noise:
    they differ exactly when their means do, where scipy would answer NaN.
    """
    if len(first) < 2 or len(other) < 2:
        return Difference(p_value=None, significant=False)
    if statistics.pvariance(first) == 0 and statistics.pvariance(other) == 0:
        p_value = 1.0 if statistics.fmean(first) == statistics.fmean(other) else 0.0
    elif skewed(first) or skewed(other):
        p_value = float(stats.permutation_test(
            (np.asarray(first), np.asarray(other)), _mean_difference, vectorized=True, n_resamples=RESAMPLES,
            rng=np.random.default_rng(SEED),
        ).pvalue)
        return Difference(p_value=p_value, significant=p_value < alpha, method="permutation")
    else:
        p_value = float(stats.ttest_ind(first, other, equal_var=False).pvalue)
    return Difference(p_value=p_value, significant=p_value < alpha)


def iterations_needed(cv_pct: float, change_pct: float = DETECTABLE_CHANGE_PCT) -> int:
    """Iterations per run for Welch's test to see a ``change_pct`` change in the mean with ``POWER``, at a
    two-sided ``ALPHA``, when each run's coefficient of variation is ``cv_pct`` (the normal approximation
    ``n = 2 * ((z_(1-alpha/2) + z_power) * cv / change)^2``, at least 2)."""
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    return max(2, math.ceil(2 * (z * cv_pct / change_pct) ** 2))


def too_short(found: Estimate | None, what: str) -> str | None:
    """The warning for a run too short to tell a ``DETECTABLE_CHANGE_PCT`` change in ``what``, else ``None``."""
    if found is None:
        return None
    change = f"{DETECTABLE_CHANGE_PCT:g}%"
    if found.n < 2:
        return f"{found.n} iteration has no spread: it cannot tell a {change} change in {what}; run at least 2"
    if found.cv_pct is None:
        return None
    needed = iterations_needed(found.cv_pct)
    if found.n >= needed:
        return None
    return (
        f"{found.n} iterations with a CV of {found.cv_pct:.1f}% cannot tell a {change} change in {what}: "
        f"run at least {needed}"
    )
