"""The backend bar, at the top of the left drawer: which server to measure, whether it answers, which model,
and what that model is (its info card)."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from llamaburn.backends.base import Backend, ModelEntry
from llamaburn.errors import ConfigError, LlamaBurnError
from llamaburn.modelinfo.info import ModelInfo
from llamaburn.service.runs import RunService

INFO_FIELDS = (
    ("Size", "parameter_size"),
    ("Quant", "quantization"),
    ("Family", "family"),
    ("Format", "format"),
    ("Context", "context_length"),
    ("Slots", "slots"),
    ("Capabilities", "capabilities"),
    ("License", "license"),
    ("HF downloads", "hf_downloads"),
)
ALWAYS_SHOWN = ("parameter_size", "quantization", "family", "format")


class BackendBar:
    """Backend selector with a connection status, model selector, and the model's info card."""

    def __init__(self, service: RunService, report: Callable[[str], None]) -> None:
        self.service = service
        self.report = report
        self.backend: Backend | None = None
        self.entries: dict[str, ModelEntry] = {}
        self._attempt = 0  # the newest connect(); an older one that answers later is dropped
        options = {name: cls.label for name, cls in service.registry.backends.items()}
        with ui.column().classes("w-full gap-1"):
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                self.kind = ui.select(options, label="Backend", on_change=self.connect).classes("flex-1")
                self.kind.props("dense").mark("backend-select")
                self.status = ui.badge("not connected", color="grey").mark("backend-status")
            self.url = ui.input("URL").classes("w-full").props("dense clearable").mark("backend-url")
            self.url.on("keydown.enter", self.connect)
            self.url.on("blur", self.connect)
            with ui.row().classes("w-full gap-2 no-wrap"):
                self.api_key = ui.input("API key (optional)", password=True, password_toggle_button=True)
                self.api_key.classes("flex-1").props("dense clearable").mark("backend-api-key")
                self.api_key.on("keydown.enter", self.connect)
                self.api_key.on("blur", self.connect)
                self.read_timeout = ui.number("Read timeout (s)", min=1, format="%.0f").classes("w-[8.5rem]")
                self.read_timeout.props("dense clearable").mark("read-timeout")
            self.model = ui.select([], label="Model", on_change=self.show_info).classes("w-full")
            self.model.props("dense").mark("model-select")
        self.info = ui.element("div").classes("w-full grid grid-cols-2 gap-x-3 text-xs opacity-80").mark("model-info")

    async def choose_default(self) -> None:
        """Select the backend the CLI would pick (the first, by probe order, that answers), else the first."""
        try:
            name = await self.service.registry.default_backend()
        except LlamaBurnError as exc:
            self._fail(str(exc))
            name = next(iter(self.service.registry.backends))
        self.kind.set_value(name)

    async def connect(self) -> None:
        name = self.kind.value
        if name is None:
            return
        declared = self.service.registry.backend(name)
        self.url.set_visibility(declared.url_placeholder is not None)
        self.api_key.set_visibility(declared.takes_api_key)
        self.url.props(f'placeholder="{declared.url_placeholder or ""}"')
        self.status.set_text("connecting…")
        self.status.props("color=grey")
        self._attempt += 1
        attempt = self._attempt
        try:
            backend = await self.service.backend(name, self.url.value or None, self.key())
            entries = await backend.models()
        except LlamaBurnError as exc:
            if attempt != self._attempt:
                return
            self.backend = None
            self.entries = {}
            self.model.set_options([])
            self._fail(str(exc))
            return
        if attempt != self._attempt:
            # The user chose again while this one waited (the embedded server takes seconds to start): its
            # answer must not replace the newer choice's models.
            return
        self.backend = backend
        self.entries = {entry.id: entry for entry in entries}
        self.status.set_text(f"connected · {len(entries)} model{'s' if len(entries) != 1 else ''}")
        self.status.props("color=positive")
        self.model.set_options(list(self.entries))
        self.model.set_value(entries[0].id if entries else None)

    def key(self) -> str | None:
        """The API key for the selected backend; never shown, logged or stored in clear (runs keep ``***``)."""
        name = self.kind.value
        return (self.api_key.value or None) if name and self.service.registry.backend(name).takes_api_key else None

    def timeout(self) -> float | None:
        """The read timeout the user typed, in seconds, for the run request; ``None``: the backend's default."""
        value = self.read_timeout.value
        if value is None or value == "":
            return None
        if float(value) <= 0:
            raise ConfigError(f"read timeout: must be more than 0 s (got {value})")
        return float(value)

    def _fail(self, message: str) -> None:
        self.status.set_text("unreachable")
        self.status.props("color=negative")
        self.status.tooltip(message)
        self.report(f"error: {message}")
        ui.notify(message, type="negative", multi_line=True)

    async def show_info(self) -> None:
        """Fill the card for the selected model; a slow answer for a model no longer selected is dropped."""
        model, backend = self.model.value, self.backend
        if model is None or backend is None:
            self.info.clear()
            return
        try:
            info = await self.service.model_info(backend, model)
        except LlamaBurnError as exc:
            self.report(f"model info unavailable: {exc}")
            info = ModelInfo(model_id=model)
        if self.model.value != model:
            return
        self.info.clear()
        with self.info:
            ui.label(f"Model: {model}").classes("font-medium col-span-2 truncate")
            for label, key in INFO_FIELDS:
                value = getattr(info, key)
                if isinstance(value, list):
                    value = ", ".join(value)
                if key in ALWAYS_SHOWN or value:
                    shown = f"{value:,}" if isinstance(value, int) else value or "-"
                    ui.label(f"{label}: {shown}").mark(f"info-{key}").tooltip(f"from {info.sources.get(key, '-')}")
