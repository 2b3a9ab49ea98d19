"""What the routes get from the server: the engine service, the uploads store, and a backend opened for a request."""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
from fastapi import Depends, HTTPException, Request

from llamaburn.api.errors import engine_errors, invalid
from llamaburn.backends.base import Backend, usable_url
from llamaburn.errors import ConfigError, NoBackendError
from llamaburn.service.runs import RunService
from llamaburn.storage.records import RunRecord
from llamaburn.storage.uploads import Uploads


def get_service(request: Request) -> RunService:
    """The engine, set by the server as ``app.state.runs``."""
    service = getattr(request.app.state, "runs", None)
    if service is None:
        raise HTTPException(503, "the run service is not set up: set app.state.runs")
    return service  # type: ignore[no-any-return]


Service = Annotated[RunService, Depends(get_service)]


def check_url(url: str | None) -> str | None:
    """Reject a server URL no HTTP client can use, before it reaches a backend; ``host:port`` is allowed."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    try:
        usable_url(url if "://" in url else f"http://{url}")
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return url


async def open_backend(
    service: RunService, name: str | None, url: str | None, api_key: str | None, where: str
) -> Backend:
    """The service's backend for this server: 422 for a bad name or URL, 503 when none is found."""
    if name is None:
        try:
            name = await service.registry.default_backend()
        except NoBackendError as exc:
            raise HTTPException(503, str(exc)) from None
    try:
        service.registry.backend(name)
    except ConfigError as exc:
        raise invalid(where, "backend", str(exc)) from None
    try:
        with engine_errors():
            return await service.backend(name, url, api_key)
    except ConfigError as exc:  # e.g. the embedded backend refuses a URL
        raise invalid(where, "url" if url else "backend", str(exc)) from None
    except (ValueError, httpx.InvalidURL) as exc:
        raise invalid(where, "url", f"not a usable server URL: {exc}") from None


async def stored(service: RunService, run_id: str) -> RunRecord:
    """A stored run by id or unique prefix; 404 when there is none."""
    return (await stored_runs(service, [run_id]))[0]


async def stored_runs(service: RunService, run_ids: list[str]) -> list[RunRecord]:
    """Stored runs by id or unique prefix, in one session; 404 when one is not there."""
    try:
        return await asyncio.to_thread(service.store.get_runs, run_ids)
    except ConfigError as exc:
        raise HTTPException(404, str(exc)) from None


def get_uploads(request: Request) -> Uploads:
    """The server's ``app.state.uploads`` if it set one, else ``<data dir>/uploads`` with the default limit."""
    uploads = getattr(request.app.state, "uploads", None)
    return uploads if isinstance(uploads, Uploads) else Uploads()
