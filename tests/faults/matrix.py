"""The matrix itself: the faults of one chat request, the run every fault interrupts, and what each face
must show and history must keep, written once for every test module of the matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from llamaburn.backends.base import Backend
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.registry import Registry
from llamaburn.engine.runner import Run
from llamaburn.service.assembly import BackendPool, prepare_run
from llamaburn.service.request import RunRequest
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, Script
from tests.harness.api import Api, follow, start, stored
from tests.harness.cli import cli
from tests.harness.page import Page
from tests.harness.servers import ANSWER

PROTOCOLS = ("ollama", "openai")
BACKENDS: dict[str, type[Backend]] = {"ollama": OllamaBackend, "openai": OpenAIBackend}
LABELS = {"ollama": "Ollama", "openai": "OpenAI-compatible server"}
PROMPT = "Say hello"
PACED = Script(tokens=5, tokens_per_s=50)  # 80 ms a request: a cancel lands while the server still streams
SLOW = Script(tokens=50, tokens_per_s=50)  # 1 s a request: room for a real click or POST mid-request
KEPT_BEFORE_ITERATION_2 = [(True, 1, ANSWER), (False, 1, ANSWER)]  # the warmup and iteration 1
COMPLETED = [(True, 1, ANSWER)] + [(False, i, ANSWER) for i in (1, 2, 3)]  # a whole run: the warmup and 3
DNS_FAILURE_URL = "http://nonexistent.invalid:11434"  # .invalid never resolves (RFC 2606)
FORM = {"iterations": 3, "warmup": 1, "prompts": PROMPT}  # what the UI face types for every run
TIMEOUT = "<read timeout>"  # in a fault's message: the read timeout the face set, in seconds
UI_READ_TIMEOUT_S = 1.0  # the header's "Read timeout (s)" field takes whole seconds, 1 at least


# Faults of one chat request


@dataclass(frozen=True)
class Fault:
    id: str
    script: Script
    messages: tuple[str, str]  # what the message must say, for Ollama and for OpenAI
    read_timeout_s: float | None = None  # the read timeout each face sets as its user would

    def message(self, protocol: str, read_timeout_s: float | None = None) -> str:
        """The message, naming ``read_timeout_s`` where a face sets another read timeout than the fault's."""
        message, timeout = self.messages[PROTOCOLS.index(protocol)], read_timeout_s or self.read_timeout_s
        return message if timeout is None else message.replace(TIMEOUT, f"{timeout:g}")


def both(message: str) -> tuple[str, str]:
    return (message, message)


FAULTS = [
    Fault("closed-mid-stream", Script(tokens=5, drop_after=2), both("closed the connection mid-stream")),
    Fault("malformed-line", Script(tokens=5, malformed_after=2), both("sent malformed JSON")),
    Fault(
        "error-object-in-stream",
        Script(tokens=5, error_after=2, error_message="CUDA error: out of memory"),
        both("reported an error mid-stream: CUDA error: out of memory"),
    ),
    Fault(
        "http-404-unknown-model",
        Script(status=404, error_message=f"model '{DEFAULT_MODEL}' not found"),
        both(f"model '{DEFAULT_MODEL}' not found on"),
    ),
    Fault(
        "http-500",
        Script(status=500, error_message="llama runner process has terminated"),
        both("answered HTTP 500: llama runner process has terminated"),
    ),
    Fault(
        "http-429-retry-after",
        Script(status=429, retry_after=7, error_message="too many requests"),
        both("answered HTTP 429: too many requests (retry after 7 s)"),
    ),
    Fault(
        "http-503-retry-after",
        Script(status=503, retry_after=30, error_message="server is loading the model"),
        both("answered HTTP 503: server is loading the model (retry after 30 s)"),
    ),
    Fault(
        "stall-beyond-read-timeout",
        Script(tokens=5, stall_s=30, stall_after=2),
        both(f"sent nothing for {TIMEOUT} s (the read timeout); raise it with --read-timeout"),
        read_timeout_s=0.5,
    ),
    Fault(
        "stream-without-done",
        Script(tokens=5, no_done=True),
        ("ended the stream without its final (done) chunk", "ended the stream without [DONE]"),
    ),
]


def names_the_server(message: str, protocol: str, url: str) -> bool:
    return f"{LABELS[protocol]} at {url}" in message


def not_reachable(protocol: str, url: str) -> str:
    return f"{LABELS[protocol]} at {url} is not reachable"


# The engine face


async def measure(registry: Registry, backend: Backend, store: Store, iterations: int = 3, warmup: int = 1) -> Run:
    """One run as every face runs it (``prepare_run``): validated inputs, the model resolved, a recorder."""
    inputs = {"prompts": [PROMPT], "iterations": iterations, "warmup": warmup, "max_tokens": 64}
    request = RunRequest(inputs=inputs, backend=backend.name, url=backend.url, api_key=backend.api_key,
                         read_timeout=backend.read_timeout, model=DEFAULT_MODEL)
    pool = BackendPool(registry)
    pool.add(backend)  # the test's own backend, reused across runs with its connections; the test closes it
    prepared = await prepare_run(request, registry, pool)
    recorder = await prepared.record(store)
    assert recorder is not None
    await prepared.run.execute()
    await recorder.task
    return prepared.run


def stored_iterations(store: Store, run_id: str) -> list[tuple[bool, int, str]]:
    return [(it.warmup, it.index, it.output) for it in store.iterations(run_id)]


def assert_stored(
    store: Store, run_id: str, status: str, iterations: list[tuple[bool, int, str]], message: str | None = None
) -> None:
    """History holds the run with its final status, its error, every completed iteration and their summary."""
    record = store.get_run(run_id)
    assert record.status == status, (record.status, record.error)
    if message is not None:
        assert record.error is not None and message in record.error
    assert stored_iterations(store, run_id) == iterations
    measured = [it for it in iterations if not it[0]]
    assert (record.summary.get("ttft_ms") or {}).get("mean", 0) > 0 if measured else record.summary == {}


# The CLI face


def bench_args(protocol: str, url: str, iterations: int = 3, warmup: int = 1) -> list[str]:
    return [
        "bench",
        "--backend",
        protocol,
        "--url",
        url,
        "--model",
        DEFAULT_MODEL,
        "--prompt",
        PROMPT,
        "--iterations",
        str(iterations),
        "--warmup",
        str(warmup),
        "--json",
        "--quiet",
    ]


def cli_succeeds(capsys: pytest.CaptureFixture[str], protocol: str, url: str) -> None:
    code, result, err = cli(capsys, *bench_args(protocol, url))
    assert code == 0 and err == "" and result is not None and result["status"] == "completed", err
    assert_stored(Store(), result["run_id"], "completed", COMPLETED)


# The SSE face (the REST API)


def run_body(protocol: str, url: str, **fields: Any) -> dict[str, Any]:
    return {
        "backend": protocol,
        "url": url,
        "model_id": DEFAULT_MODEL,
        "prompt": PROMPT,
        "iterations": 3,
        "warmup": 1,
        **fields,
    }


async def api_start(api: Api, protocol: str, url: str, **fields: Any) -> str:
    return await start(api.client, run_body(protocol, url, **fields))


async def api_succeeds(api: Api, protocol: str, url: str) -> None:
    run_id = await api_start(api, protocol, url)
    events = await follow(api.client, run_id)
    assert events[-1][0] == "complete"
    assert (await stored(api.client, run_id))["status"] == "completed"


# The UI face


def assert_ui_failed(page: Page, run: Run, message: str) -> None:
    assert page.text("live-progress") == "Failed"
    assert page.user.notify.contains(message), page.user.notify.messages
    assert f"error: {run.error}" in page.log_lines()
    assert message in (run.error or "")


def assert_ui_cancelled(page: Page) -> None:
    assert page.text("live-progress") == "Cancelled"
    assert page.user.notify.contains("Run cancelled; completed iterations are kept in history")
    assert "run cancelled: completed iterations are kept" in page.log_lines()


async def page_succeeds(page: Page) -> None:
    """The next ordinary run from the page completes, with the whole answer."""
    run = await page.run()
    assert run.status == "completed" and page.text("live-progress") == "Complete"
    assert page.text("live-text") == ANSWER


# Which tests run on PostgreSQL as well as SQLite (docs/reliability.md says why these)

ON_POSTGRESQL = frozenset({
    # the engine face of every scenario: the recorder writing to the store and the test reading it back
    "test_fault_engine",
    "test_connection_refused_engine",
    "test_dns_failure_engine",
    "test_unknown_model_at_start_engine",
    "test_cancel_engine",
    "test_restart_between_iterations_engine",
    "test_absurd_server_counts_still_end_the_run_engine",
    "test_a_summary_that_cannot_be_made_still_ends_the_run_engine",
    "test_two_runs_at_once_engine",
    # each other face's own way to the store, once: the CLI's Store() from LLAMABURN_DB_URL, the service's
    # store behind the API and the page, and two CLI processes on one database
    "test_restart_between_iterations_cli",
    "test_restart_between_iterations_sse",
    "test_restart_between_iterations_ui",
    "test_two_runs_at_once_from_two_cli_processes_the_second_is_refused",
})
