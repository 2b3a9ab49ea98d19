"""Serving the app: the engine service, the pages, the REST/SSE API, and the LAN guard, on one port."""

from __future__ import annotations

import atexit
import functools
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass

from nicegui import App, app, ui
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from llamaburn.api import mount
from llamaburn.api.auth import TokenAuth, new_token
from llamaburn.engine.registry import load_registry
from llamaburn.errors import ConfigError
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.ui.page import MainPage

TOKEN_ENV = "LLAMABURN_TOKEN"


@dataclass(frozen=True, slots=True)
class Launch:
    port: int = 8080
    show: bool = True
    native: bool = False
    lan: bool = False


def register_pages(service: RunService) -> None:
    @ui.page("/", title="LlamaBurn")
    def index() -> None:
        MainPage(service)


def check_native() -> None:
    """Refuse native mode in one line where no window can open, instead of exiting 0 with no window."""
    if importlib.util.find_spec("webview") is None:
        raise ConfigError("--native needs pywebview: pip install 'llamaburn[native]'")
    has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and not has_display and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        raise ConfigError(
            "--native needs a display: none is set (DISPLAY / WAYLAND_DISPLAY); run without --native "
            "to use the browser, or start it under a desktop session"
        )


def _exit_non_zero_unless_shown() -> None:
    """NiceGUI exits 0 when the window process dies; a window that never showed is a failure to report."""
    shown = False

    def mark_shown() -> None:
        nonlocal shown
        shown = True

    def check() -> None:
        if not shown:
            print(
                "llamaburn: error: the native window could not be opened (the window process exited first; "
                "check the Qt/GTK backend of pywebview)",
                file=sys.stderr,
            )
            os._exit(1)

    app.native.on("shown", mark_shown)
    atexit.register(check)


def _json_404_under_api() -> None:
    """NiceGUI answers every 404 with its HTML page; an API client should get JSON it can read.

    The handler wraps NiceGUI's own (``inspect.unwrap`` finds it again), so building the app twice in one
    process, as tests do, wraps NiceGUI's page once rather than the previous app's handler.
    """
    page_not_found = inspect.unwrap(app.exception_handlers[404])

    @functools.wraps(page_not_found)
    async def not_found(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith("/api/"):
            page = page_not_found(request, exc)
            return await page if inspect.isawaitable(page) else page
        detail = getattr(exc, "detail", None)
        if detail in (None, "Not Found"):
            detail = f"no API endpoint {request.url.path}: see /docs"
        return JSONResponse({"detail": detail}, status_code=404)

    app.add_exception_handler(404, not_found)


def create_app(service: RunService, token: str | None = None) -> App:
    """NiceGUI's app with everything LlamaBurn serves on its one port: the pages, the REST/SSE API for
    ``service``, JSON 404s under ``/api/`` and, given a ``token``, the LAN guard in front of all of it.

    The one composition root: ``launch()`` serves what this returns, and tests drive the same app through
    NiceGUI's simulated ``User``. Call it before the app answers its first request (Starlette refuses
    middleware after that). ``service`` is closed when the app shuts down.
    """
    app.on_shutdown(service.aclose)
    mount(app, service)
    _json_404_under_api()
    register_pages(service)
    if token is not None:
        app.add_middleware(TokenAuth, token=token)
    return app


def host(lan: bool) -> str:
    """Loopback unless the user shares the app on the LAN, where the token guards every request."""
    return "0.0.0.0" if lan else "127.0.0.1"


def launch(options: Launch) -> None:
    """Start the server (and a browser or window) and block until it stops."""
    if options.native:
        check_native()
    token = (os.environ.get(TOKEN_ENV) or new_token()) if options.lan else None
    create_app(RunService(load_registry(), Store()), token)
    if token is not None:
        print(f"LlamaBurn is shared on the LAN at port {options.port}. Access token: {token}", flush=True)
    if options.native:
        _exit_non_zero_unless_shown()
    ui.run(
        host=host(options.lan),
        port=options.port,
        show=options.show and not options.native,
        native=options.native,
        reload=False,
        title="LlamaBurn",
        show_welcome_message=not options.lan,
        fastapi_docs=True,  # OpenAPI at /docs, for the REST API
        timeout_graceful_shutdown=3,  # an SSE client following a long run must not block Ctrl-C
        favicon="🔥",
    )
