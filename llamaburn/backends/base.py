"""The contract every backend fulfils, and the HTTP plumbing they share.

A backend owns one ``httpx.AsyncClient`` for its whole life, so every iteration reuses one keep-alive
connection: a fresh connection per request added 25 to 75 ms to TTFT on loopback, which is the network
stack, not the server.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import httpx

from llamaburn.backends.picture import Picture
from llamaburn.backends.pool import Transport
from llamaburn.backends.transcription import TranscriptionRequest, TranscriptPiece
from llamaburn.backends.wire import JSON_TYPE, JSON_TYPE_NAMES, error_message, json_type, loads
from llamaburn.errors import BackendError, ConfigError, ModelNotFoundError

T = TypeVar("T")
CONNECT_TIMEOUT_S = 3.0
PROBE_TIMEOUT_S = 1.0  # how long a server may take to answer ``available()`` when no backend is named
DEFAULT_READ_TIMEOUT_S = 300.0
KEEPALIVE_CONNECTIONS = 64
"""Idle connections a backend keeps: one per simultaneous stream of a sweep, so a point at concurrency N
reuses N connections rather than opening new ones (each costs TTFT). Sequential runs still use one."""
def usable_url(url: str) -> str:
    """``url`` if an HTTP client can use it (``http(s)://host[:port][/path]``), else a one-line ``ConfigError``."""
    try:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("expected http(s)://host[:port][/path]")
        parsed.host.encode("idna")
    except (httpx.InvalidURL, ValueError) as exc:  # UnicodeError (a host label too long) is a ValueError
        raise ConfigError(f"not a usable server URL {url!r}: {exc}") from None
    return url


def usable_api_key(key: str | None) -> str | None:
    """``key`` if it can travel in an ``Authorization`` header (visible ASCII), else a one-line
    ``ConfigError``: httpx would otherwise fail with a ``UnicodeEncodeError`` at the first request."""
    if key and not all("!" <= char <= "~" for char in key):
        raise ConfigError("api_key: must be visible ASCII characters, with no spaces (it is sent as an HTTP header)")
    return key


@dataclass(frozen=True, slots=True)
class ServerTimings:
    """The server's own accounting, from a stream's final chunk. ``None`` means the server did not say.

    Ollama reports durations in nanoseconds and omits zero fields, so a missing field is unknown, not 0.
    Values are the server's numbers as sent (NaN, negative or fractional too): ``stream_metrics`` uses
    only those that make sense, and treats the rest as unknown.
    """

    output_tokens: float | None = None
    eval_ns: float | None = None
    prompt_tokens: float | None = None  # all of them, cached ones included
    prompt_eval_ns: float | None = None  # covers the newly processed prompt tokens only
    load_ns: float | None = None
    total_ns: float | None = None


@dataclass(frozen=True, slots=True)
class Breakdown:
    """How the server split the totals of its ``ServerTimings``, where it says: ``None`` means it did not.

    Kept apart from the totals because most servers send none of it, and each field changes how a total is
    read: a prompt rate counts only the new prompt tokens, and a decode rate only the tokens its time covers.
    """

    cached_prompt_tokens: float | None = None  # served from the server's prompt cache; 0 is a reported miss
    new_prompt_tokens: float | None = None  # processed for this request (llama.cpp ``prompt_n``)
    thinking_tokens: float | None = None  # of the output tokens, those spent thinking (``reasoning_tokens``)
    decoded_tokens: float | None = None  # those the decode time covers: llama.cpp ``predicted_n - 1``


@dataclass(frozen=True, slots=True)
class Chunk:
    """One parsed piece of a streamed answer. A chunk with neither content nor thinking (a role-only
    first chunk, a final usage chunk) carries no token and is not timed as one."""

    content: str = ""
    thinking: str = ""
    timings: ServerTimings | None = None
    breakdown: Breakdown | None = None
    resent_at: float | None = None
    """Set on a marker chunk, before any text, when the request was sent again on a fresh connection: the
    ``time.perf_counter()`` reading just before the resend, where the iteration's clock restarts."""
    sent_at: float | None = None
    """Set on a marker chunk before any text: when the request's last byte was handed to the socket
    (``arrival.sent``), where the iteration's clock starts. Without a socket's clock (a mock transport) no
    such marker comes, and the clock stays at the send's call."""
    arrived_at: float | None = None
    """When the bytes that completed this chunk reached LlamaBurn (``arrival.arrival``): its time, rather than
    the end of its parsing, which waits behind other streams' chunks. ``None``: time it as it is consumed."""


@dataclass(slots=True)
class ChatRequest:
    """One chat completion to stream. ``pictures`` go with the prompt in one user message, in order, for
    vision modalities; ``system`` is sent as a system message before the prompt."""

    model: str
    prompt: str
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    pictures: list[Picture] = field(default_factory=list)
    system: str | None = None
    cache_prompt: bool | None = None  # llama.cpp's per-request prompt cache switch; None: not sent


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """A model a backend offers. ``details`` holds whatever the server says about it (family, quant...)."""

    id: str
    size_bytes: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What a backend can tell about a model: ``ModelInfo`` field names and values, and the ``source`` that
    knew them (``"ollama"``, ``"gguf"``). A plain value, so backends need nothing from ``modelinfo``."""

    source: str
    fields: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """A model server. Subclasses declare ``name``, ``label`` and ``default_url``, and stream chunks.

    The faces read the other declarations instead of naming backends: ``url_placeholder`` (``None``: the
    backend takes no URL, so the header shows no URL field), ``takes_api_key`` (the header shows a key
    field), ``probe_order`` (lower is probed first by ``Registry.default_backend`` when the user names no
    backend; ``None``: never chosen by default), ``prompt_cache`` and ``capabilities`` (what it can serve: ``"chat"``,
    ``"vision"``, ``"transcription"``, ``"embeddings"``), which ``check_capabilities`` compares with what a
    modality ``requires`` before a run.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    default_url: ClassVar[str]
    unreachable_hint: ClassVar[str] = "check the URL and that the server is running"
    url_placeholder: ClassVar[str | None] = None
    takes_api_key: ClassVar[bool] = False
    probe_order: ClassVar[int | None] = None
    capabilities: ClassVar[frozenset[str]] = frozenset({"chat"})
    prompt_cache: ClassVar[bool] = False
    """Whether the server may reuse a previous request's prompt from its KV cache (llama.cpp, Ollama, vLLM):
    a cold run defeats the cache only where there can be one, so a backend without one gets its prompts as
    written."""

    def __init__(
        self, url: str | None = None, *, api_key: str | None = None, read_timeout: float | None = None
    ) -> None:
        self.url = usable_url((url or self.default_url).rstrip("/"))
        self.api_key = usable_api_key(api_key)
        self.read_timeout = DEFAULT_READ_TIMEOUT_S if read_timeout is None else read_timeout
        self.cache_prompt_ignored = False  # set when a request with cache_prompt false still hit the cache
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(CONNECT_TIMEOUT_S, read=self.read_timeout),
            transport=Transport(httpx.Limits(max_keepalive_connections=KEEPALIVE_CONNECTIONS, keepalive_expiry=600)),
        )

    @classmethod
    async def available(cls) -> bool:
        """Whether this backend is there to be chosen by default: its server answers, or it is installed.
        Only asked of backends with a ``probe_order``; the default answers whether a server at the default
        URL gives its version within ``PROBE_TIMEOUT_S``."""
        probe = cls(read_timeout=PROBE_TIMEOUT_S)
        try:
            await probe.version()
            return True
        except BackendError:
            return False
        finally:
            await probe.aclose()

    async def start(self) -> None:  # noqa: B027 - a hook with a deliberate no-op default
        """Make the server ready to answer. Most servers are already running; the embedded one is not."""

    def server_pid(self) -> int | None:
        """The pid of the server process when this backend started it (the embedded one), for the run's
        telemetry; ``None``: telemetry looks for a local process listening on ``url``'s port instead."""
        return None

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> Backend:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @abstractmethod
    async def version(self) -> str | None:
        """The server's version, for the run's system snapshot; ``None`` when it does not say."""

    @abstractmethod
    async def models(self) -> list[ModelEntry]: ...

    async def takes_cache_prompt(self) -> bool:
        """Whether ``ChatRequest.cache_prompt`` reaches a server that honours it (llama.cpp's server); when
        not, a cold run defeats the prompt cache with a nonce line instead."""
        return False

    async def model_capabilities(self, model: str) -> frozenset[str] | None:
        """What ``model`` itself can do, in ``capabilities``' words (``"chat"``, ``"vision"``...), asked of the
        server before a run; ``None`` when the server does not say (then only the backend's are checked)."""
        return None

    async def tokenize(self, text: str) -> list[int] | None:
        """The server's own token ids for ``text``, without special tokens: how a sweep's context depth is
        counted exactly. ``None`` (the default) when the server has no tokenizer endpoint: the depth is
        then an estimate, recorded as one."""
        return None

    async def detokenize(self, tokens: list[int]) -> str | None:
        """The text of ``tokens`` by the server's tokenizer; ``None`` where ``tokenize`` is."""
        return None

    async def post_json(self, path: str, body: dict[str, Any]) -> Any:
        with self.errors():
            response = await self.client.post(path, json=body)
            self.raise_for_status(response)
            return self.decode(response.text)

    @abstractmethod
    def stream_chat(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        """Stream one answer. The request is sent on the first ``__anext__``, not before; its body may be
        encoded at the call, so the encoding is not timed (``json_body``)."""

    def transcribe(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptPiece]:
        """Transcribe one recording, yielding the text as it arrives; only backends whose ``capabilities``
        hold ``"transcription"`` override it (``check_capabilities`` refuses the others before a run). The
        request is sent on the first ``__anext__``, where the clock starts."""
        raise BackendError(f"{self.label} cannot transcribe: pick a backend with the transcription capability")

    async def describe(self, model: str) -> ModelFacts:
        """What this server can tell about ``model`` (size, quant, family...); ``ModelInfoService`` merges it.

        The default uses the model list's details; servers with richer endpoints override it.
        """
        for entry in await self.models():
            if entry.id == model:
                return ModelFacts(
                    self.name,
                    {
                        "parameter_size": entry.details.get("parameter_size"),
                        "quantization": entry.details.get("quantization_level"),
                        "family": entry.details.get("family"),
                        "format": entry.details.get("format"),
                    },
                )
        return ModelFacts(self.name)

    async def send_stream(
        self,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        data: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> tuple[httpx.Response, float | None]:
        """POST ``body`` (JSON from ``json_body``), or ``data`` and ``files`` as a multipart form, to ``path``
        and return the response, its body unread, with the ``perf_counter`` reading of a resend (``None`` when
        the first attempt answered). The caller closes it.

        llama-server (cpp-httplib) sometimes closes a keep-alive connection after a streamed answer while
        its headers still announce ``Keep-Alive``, and the next request sent on it gets no byte back (13 of
        40 sequential requests here). A request that got no response byte was never processed, so it is
        sent once more, on a fresh connection (httpx drops the dead one), and timed from the resend. A
        second failure is the server's and is raised; an error after the headers is never retried.
        """
        def request() -> httpx.Request:
            if body is None:
                return self.client.build_request("POST", path, data=data, files=files, headers=headers)
            return self.client.build_request("POST", path, content=body, headers=JSON_TYPE | (headers or {}))

        try:
            return await self.client.send(request(), stream=True), None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            resent_at = time.perf_counter()
            return await self.client.send(request(), stream=True), resent_at

    async def get_json(self, path: str) -> Any:
        with self.errors():
            response = await self.client.get(path)
            self.raise_for_status(response)
            return self.decode(response.text)

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn transport failures into one-line ``BackendError``s that name the server."""
        try:
            yield
        except httpx.ConnectError as exc:
            message = f"{self.label} at {self.url} is not reachable ({exc}): {self.unreachable_hint}"
            raise BackendError(message) from None
        except httpx.ConnectTimeout:
            raise BackendError(
                f"{self.label} at {self.url} did not accept a connection within "
                f"{CONNECT_TIMEOUT_S:g} s: {self.unreachable_hint}"
            ) from None
        except httpx.ReadTimeout:
            raise BackendError(
                f"{self.label} at {self.url} sent nothing for {self.read_timeout:g} s "
                "(the read timeout); raise it with --read-timeout for slow model loads"
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise BackendError(f"{self.label} at {self.url} closed the connection mid-stream ({exc})") from None
        except httpx.HTTPError as exc:
            raise BackendError(f"{self.label} at {self.url} failed: {exc}") from None

    def raise_for_status(self, response: httpx.Response, model: str | None = None) -> None:
        """Raise a ``BackendError`` carrying the server's own error message for any 4xx/5xx answer."""
        if response.status_code < 400:
            return
        message = error_message(response.text) or response.reason_phrase
        if response.status_code == 404 and model is not None:
            raise ModelNotFoundError(f"model {model!r} not found on {self.label} at {self.url}: {message}")
        retry = response.headers.get("retry-after")
        suffix = f" (retry after {retry} s)" if retry else ""
        raise BackendError(f"{self.label} at {self.url} answered HTTP {response.status_code}: {message}{suffix}")

    def decode(self, line: str) -> dict[str, Any]:
        """One JSON object from the server; anything else (bad JSON, ``null``, a list) is a protocol error."""
        data = loads(line)
        if not isinstance(data, dict):
            raise BackendError(f"{self.label} at {self.url} sent malformed JSON: {line[:120]!r}")
        return data

    def broken(self, what: str) -> BackendError:
        """The one-line error for a reply of the wrong shape: ``what`` says which part, and how it is wrong."""
        return BackendError(f"{self.label} at {self.url} sent {what}")

    def field(self, data: dict[str, Any], key: str, kind: type[T], where: str) -> T | None:
        """``data[key]``, or ``None`` when it is missing or null; a value of another JSON type is a protocol
        error naming ``where`` it was (``"a chunk"``), so no ``TypeError`` surfaces later from it.

        ``kind`` is ``dict``, ``list``, ``str`` or ``bool``; numbers go through ``number``.
        """
        value = data.get(key)
        if value is None or type(value) is kind:
            return value  # type: ignore[no-any-return]
        raise self.broken(f"{where} whose {key!r} is {json_type(value)}, not {JSON_TYPE_NAMES[kind]}")

    def number(self, data: dict[str, Any], key: str, where: str) -> float | None:
        """``data[key]`` as a float (``None`` when missing or null); anything but a JSON number is a protocol
        error. NaN, negative and infinite numbers pass: the metrics decide which values they can use.
        """
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.broken(f"{where} whose {key!r} is {json_type(value)}, not a number")
        try:
            return float(value)
        except OverflowError:  # an integer beyond the float range is as unusable as infinity
            return math.inf
