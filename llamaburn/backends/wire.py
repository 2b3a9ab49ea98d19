"""What goes over the wire to a server and comes back: JSON bodies encoded once, and a server's own text made
fit for a one-line error message. Every backend's HTTP plumbing (``base.py``) shares these."""

from __future__ import annotations

import json
from typing import Any

MESSAGE_CHARS = 200  # of a server's own text in an error message: an HTML error page can be kilobytes
JSON_TYPE_NAMES: dict[type, str] = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}


JSON_TYPE = {"Content-Type": "application/json"}


def json_body(body: dict[str, Any]) -> bytes:
    """``body`` as the JSON httpx would send (compact, UTF-8). A backend's ``stream_chat`` makes it when it is
    called, before the stream's clock starts: a vision request's megabytes of base64 took 3.6 to 11.5 ms to
    encode per MiB here, which would otherwise be timed as the server's TTFT."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def one_line(text: str, limit: int = MESSAGE_CHARS) -> str:
    """A server's own text made fit for a one-line message: whitespace runs (line breaks too) become one
    space, and text beyond ``limit`` characters is cut, ending in ``...``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def loads(text: str) -> Any:
    """``json.loads``, or ``None`` for what is not JSON. Besides ``JSONDecodeError``, ``json.loads`` raises
    ``RecursionError`` on deep nesting and ``ValueError`` on an integer of more than 4,300 digits."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def json_type(value: Any) -> str:
    return JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def error_message(body: str) -> str:
    """The ``error`` field of a JSON error body (Ollama and OpenAI both use one), else the raw text; one line."""
    data = loads(body)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return one_line(str(error.get("message", error)))
    return one_line(str(error) if error else body)
