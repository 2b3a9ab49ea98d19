"""How the API answers when something fails: FastAPI's 422 form for every validation error, and the engine's
errors mapped to statuses.

422 names the field at fault in FastAPI's ``{"detail": [{"loc", "msg", "type"}]}`` form, 404 is an unknown
run or model, 409 a busy backend or a run in the wrong state, 413 and 415 an upload too large or of the
wrong type, 502 a model server that cannot be reached or fails, 503 no backend found or a history database
that fails, 507 a data directory that cannot store an upload. No input gives a 500.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from llamaburn.errors import (
    BackendError,
    ModelNotFoundError,
    StoreError,
)


def _json_safe(value: Any) -> Any:
    """JSON has no NaN or Infinity, and a request may hold them (Python's JSON parser accepts both)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


class ApiRoute(APIRoute):
    """Renders validation errors itself, so every 422 reads alike whatever handlers the host app installs,
    and one that quotes a NaN from the request cannot turn into a 500."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return JSONResponse({"detail": _json_safe(jsonable_encoder(exc.errors()))}, status_code=422)

        return handle


class Problem(BaseModel):
    detail: str


class RunBusy(BaseModel):
    detail: str
    run_id: str = Field(description="The run in progress on this backend.")


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    models: dict[int, type[BaseModel]] = {409: RunBusy}
    descriptions = {
        400: "The body is not readable JSON.",
        404: "No such run or model.",
        409: "A run is in progress on this backend (or the run is not in progress).",
        502: "The model server is unreachable or failed.",
        503: "No backend found, or the history database failed.",
    }
    return {code: {"model": models.get(code, Problem), "description": descriptions[code]} for code in codes}


# Errors


def invalid(where: str, field: str, message: str) -> RequestValidationError:
    """A 422 in FastAPI's own form, so every validation error reads alike."""
    return RequestValidationError([{"type": "value_error", "loc": (where, field), "msg": message}])


@contextlib.contextmanager
def engine_errors(model_loc: tuple[str, str] | None = None) -> Iterator[None]:
    """Map the engine's errors to statuses; an unknown model is a 422 at ``model_loc`` if given, else a 404."""
    try:
        yield
    except ModelNotFoundError as exc:
        if model_loc is not None:
            raise invalid(*model_loc, str(exc)) from None
        raise HTTPException(404, str(exc)) from None
    except BackendError as exc:
        raise HTTPException(502, str(exc)) from None
    except StoreError as exc:
        raise HTTPException(503, str(exc)) from None
