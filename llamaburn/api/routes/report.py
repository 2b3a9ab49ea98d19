"""The report of stored runs as a file: ``GET /api/report?runs=ID,ID&format=html|md``, a face over
``llamaburn.report`` that returns the same bytes as ``llamaburn report``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import HTTPException, Query, Response

from llamaburn.api.deps import Service
from llamaburn.api.errors import engine_errors, invalid, responses
from llamaburn.api.routes import router
from llamaburn.errors import ConfigError
from llamaburn.report import MEDIA_TYPES, Format, build_report, filename, render

MAX_REPORTED = 50
FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report: one self-contained HTML file, or Markdown.",
        "content": {media.split(";")[0]: {"schema": {"type": "string"}} for media in MEDIA_TYPES.values()},
    }
}


@router.get("/report", response_class=Response, responses={**FILE, **responses(404, 503)})
async def get_report(
    service: Service,
    runs: Annotated[str, Query(description="One or more run ids (or unique prefixes), comma-separated.")],
    format: Annotated[Format, Query(description="html: one file that opens offline; md: Markdown.")] = "html",
) -> Response:
    """The runs' configs, system snapshots, model info, summaries and (for two or more) their comparison,
    with the charts: the file ``llamaburn report`` writes."""
    wanted = [part.strip() for part in runs.split(",") if part.strip()]
    if not 1 <= len(wanted) <= MAX_REPORTED:
        raise invalid("query", "runs", f"give 1 to {MAX_REPORTED} comma-separated run ids, got {len(wanted)}")
    with engine_errors():
        try:
            report = await asyncio.to_thread(build_report, service.store, service.registry.modalities, wanted)
        except ConfigError as exc:  # an unknown or ambiguous id
            raise HTTPException(404, str(exc)) from None
    text = await asyncio.to_thread(render, report, format)
    disposition = f'inline; filename="{filename(report, format)}"'
    return Response(text, media_type=MEDIA_TYPES[format], headers={"Content-Disposition": disposition})
