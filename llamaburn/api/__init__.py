"""The REST and SSE face: start, follow and cancel runs; history, comparison, models, plugins and uploads.

The server mounts ``router`` on NiceGUI's FastAPI app, with the engine's ``RunService`` at
``app.state.runs``, so a run started here is the same ``Run`` the UI shows live and in history.
Like every face, the API only validates input, calls the engine and renders its events; in --lan mode
``llamaburn.api.auth.TokenAuth`` guards it. ``llamaburn.api.errors`` says which status means what;
docs/api.md describes every endpoint.
"""

from fastapi import FastAPI

from llamaburn.api.openapi import document_modality_bodies
from llamaburn.api.routes import (  # each module adds its routes
    check,
    history,
    models,
    plugins,
    report,
    router,
    runs,
    sweeps,
    uploads,
)
from llamaburn.api.sse import HEARTBEAT_S, RUN_ID_HEADER
from llamaburn.service.runs import RunService

del check, history, models, plugins, report, runs, sweeps, uploads


def mount(app: FastAPI, service: RunService) -> None:
    """Serve the API on ``app`` for ``service``: the one way the server and the tests build it."""
    app.state.runs = service
    app.include_router(router)
    document_modality_bodies(app, service.registry)


__all__ = ["HEARTBEAT_S", "RUN_ID_HEADER", "mount", "router"]
