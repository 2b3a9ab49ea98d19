"""The regression guard: ``POST /api/check``, ``llamaburn check --run`` over HTTP.

A benchmark to check is started with ``POST /api/benchmark`` as any other; once it has completed, its id is
checked here. The answer is the same document as ``llamaburn check --json``; a significant regression is an
answer (``outcome: "regression"``), not an error, so a CI step reads one status for every verdict.
"""

from __future__ import annotations

import asyncio

from fastapi import HTTPException
from pydantic import BaseModel, Field

from llamaburn.api.deps import Service, stored
from llamaburn.api.errors import engine_errors, invalid, responses
from llamaburn.api.routes import router
from llamaburn.errors import ConfigError
from llamaburn.service.compare import samples
from llamaburn.service.regression import CheckResult, check, thresholds
from llamaburn.storage.baselines import Baselines


class CheckBody(BaseModel):
    run_id: str = Field(min_length=1, max_length=64, description="A stored run's id, or a unique prefix.")
    max_regression: str | None = Field(
        default=None, max_length=1000, description="`tps=5%,ttft_ms=10%`; default: the headline metric at 5%."
    )
    tag: str | None = Field(default=None, max_length=255, description="The baseline's tag; default: the newest.")


@router.post("/check", response_model=CheckResult, responses=responses(400, 404, 503))
async def check_run(body: CheckBody, service: Service) -> CheckResult:
    """A stored run against its baseline (same host, backend, model and modality), metric by metric: a
    regression is worse than its threshold *and* significant by Welch's test; docs/metrics.md."""
    with engine_errors():
        run = await stored(service, body.run_id)
        modality = service.registry.modalities.get(run.modality)
        if modality is None:
            raise invalid("body", "run_id", f"run {run.id[:8]} is of modality {run.modality!r}, not installed")
        try:
            limits = thresholds(body.max_regression, modality.metrics)
        except ConfigError as exc:
            raise invalid("body", "max_regression", str(exc)) from None
        record = await asyncio.to_thread(Baselines(service.store).find, run, body.tag)
        if record is None:
            tag = f" tagged {body.tag!r}" if body.tag else ""
            raise HTTPException(
                404, f"no baseline{tag} for {run.model} on {run.backend} ({run.modality}): set one with "
                f"`llamaburn baseline set {run.id[:8]}`",
            )
        baseline = await stored(service, record.run_id)
        found = await asyncio.to_thread(samples, service.store, [baseline, run])
    return check(run, baseline, record.tag, found, modality.metrics, limits)
