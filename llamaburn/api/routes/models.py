"""Models: what a backend offers, and what one model is."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from llamaburn.api.deps import Service, check_url, open_backend
from llamaburn.api.errors import engine_errors, invalid, responses
from llamaburn.api.routes import router
from llamaburn.api.schemas import (
    ModelDescription,
    ModelList,
    ModelOut,
)
from llamaburn.backends.base import Backend
from llamaburn.service.assembly import resolve_model
from llamaburn.service.runs import RunService

BackendQuery = Annotated[
    str | None, Query(description="ollama, openai, embedded...; default: Ollama if it answers, else embedded.")
]
UrlQuery = Annotated[str | None, Query(description="The server's URL; default: the backend's own.")]


async def _query_backend(service: RunService, backend: str | None, url: str | None) -> Backend:
    try:
        url = check_url(url)
    except ValueError as exc:
        raise invalid("query", "url", str(exc)) from None
    return await open_backend(service, backend or None, url, None, "query")


@router.get("/models", response_model=ModelList, responses=responses(502, 503))
async def list_models(service: Service, backend: BackendQuery = None, url: UrlQuery = None) -> ModelList:
    """The models a backend offers."""
    server = await _query_backend(service, backend, url)
    with engine_errors():
        models = await server.models()
    return ModelList(
        backend=server.name,
        url=server.url,
        models=[ModelOut(id=m.id, size_bytes=m.size_bytes, details=m.details) for m in models],
    )


@router.get("/models/{model_id:path}/info", response_model=ModelDescription, responses=responses(404, 502, 503))
async def describe_model(
    service: Service,
    model_id: Annotated[str, Path(description="The model id; it may contain '/'.")],
    backend: BackendQuery = None,
    url: UrlQuery = None,
) -> ModelDescription:
    """What one model is (size, quantization, context...), cached in the history database; 404 if absent."""
    server = await _query_backend(service, backend, url)
    with engine_errors():
        model = await resolve_model(server, model_id)
        info = await service.model_info(server, model)
    return ModelDescription(backend=server.name, url=server.url, model=model, info=info)
