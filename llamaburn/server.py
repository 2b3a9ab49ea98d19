"""Serving the app: the engine service, the pages, the REST/SSE API, and the LAN guard, on one port."""

from __future__ import annotations

import atexit
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass

from nicegui import app, ui
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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
    """NiceGUI answers every 404 with its HTML page; an API client should get JSON it can read."""
    page_not_found = app.exception_handlers[404]

    async def not_found(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith("/api/"):
            page = page_not_found(request, exc)
            return await page if inspect.isawaitable(page) else page
        detail = getattr(exc, "detail", None)
        if detail in (None, "Not Found"):
            detail = f"no API endpoint {request.url.path}: see /docs"
        return JSONResponse({"detail": detail}, status_code=404)

    app.add_exception_handler(404, not_found)


def launch(options: Launch) -> None:
    """Start the server (and a browser or window) and block until it stops."""
    if options.native:
        check_native()
    service = RunService(load_registry(), Store())
    app.on_shutdown(service.aclose)
    from llamaburn.api import mount

    mount(app, service)
    _json_404_under_api()
    register_pages(service)
    host = "127.0.0.1"
    if options.lan:
        token = os.environ.get(TOKEN_ENV) or new_token()
        app.add_middleware(TokenAuth, token=token)
        host = "0.0.0.0"
        print(f"LlamaBurn is shared on the LAN at port {options.port}. Access token: {token}", flush=True)
    if options.native:
        _exit_non_zero_unless_shown()
    ui.run(
        host=host,
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
