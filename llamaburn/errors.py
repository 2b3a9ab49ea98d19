"""One exception hierarchy, so every face (CLI, UI, API) can show a user one actionable line."""

from __future__ import annotations


class LlamaBurnError(Exception):
    """Base of every error LlamaBurn reports to a user; its message is the one line they see."""


class ConfigError(LlamaBurnError):
    """The user asked for something invalid; nothing has been run or stored."""


class NoBackendError(ConfigError):
    """No backend was named and none of those probed by default answered."""


class BackendError(LlamaBurnError):
    """A model server could not be reached, refused the request, or broke its protocol."""


class ModelNotFoundError(BackendError):
    """The backend answered, but does not have the requested model."""


class ComingSoonError(LlamaBurnError):
    """The modality is declared but not runnable yet."""


class StoreError(LlamaBurnError):
    """The history database could not be opened, read or written."""


class RunInProgressError(ConfigError):
    """The model server already has a run in progress, in this process or another; ``run_id`` names it.
    Two runs on one server would measure each other, so the second is refused, never started."""

    def __init__(self, label: str, url: str, run_id: str, pid: object = None) -> None:
        """``pid`` names the other process holding the server; ``None`` when the run is in this one."""
        where = run_id if pid is None else f"run {run_id}, in another llamaburn process, pid {pid}"
        super().__init__(f"a run is already in progress on {label} at {url} ({where}): wait for it or cancel it")
        self.run_id = run_id


class UploadError(ConfigError):
    """An uploaded file, or a modality's file field, was refused: too large, of the wrong type, or outside
    the uploads directory. Nothing was stored or read."""


class InputsError(ConfigError):
    """A request's inputs were refused. ``problems`` holds each one as ``(field path, message)``, so the CLI
    prints them as one line and the API answers a 422 whose ``loc`` names each field, with no re-validation."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        lines = (f"{'.'.join(str(part) for part in loc) or 'input'}: {message}" for loc, message in problems)
        super().__init__("; ".join(lines))


class CapabilityError(ConfigError):
    """The chosen backend or model lacks a capability the modality needs (vision, transcription...).
    Raised before any request is sent, so nothing is stored."""


class ModelCapabilityError(CapabilityError):
    """The model itself, as its server describes it, lacks what the modality needs: a text-only model for
    Image. The faces point at the model, not the backend."""
