"""API keys are masked: a run with ``--api-key`` / ``LLAMABURN_API_KEY`` / the API's ``api_key`` sends the
key to the server, and the key is in no byte of the SQLite files, no ``--json``, ``history --json`` or
``export`` output, no API answer and no log record.
"""

from __future__ import annotations

import asyncio
import glob
import json
import logging
from pathlib import Path

import httpx
import pytest
from httpx_sse import aconnect_sse

from llamaburn.cli import main
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script

KEY = "sk-llamaburn-test-0123456789abcdef"


def db_bytes(db_url: str) -> bytes:
    """Every byte of the SQLite database, its write-ahead log and shared memory included."""
    path = db_url.removeprefix("sqlite:///")
    return b"".join(Path(name).read_bytes() for name in sorted(glob.glob(f"{path}*")))


def assert_no_key(*outputs: str | bytes) -> None:
    for output in outputs:
        data = output.encode() if isinstance(output, str) else output
        assert KEY.encode() not in data
        assert KEY[3:].encode() not in data  # nor the key without its prefix


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_api_key_of_the_cli_is_sent_but_never_stored_printed_or_logged(
    how: str,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeServer(Script(tokens=5)) as server:
        args = ["bench", "--backend", "openai", "--url", server.url, "--iterations", "2", "--warmup", "1", "--json"]
        if how == "flag":
            args += ["--api-key", KEY]
        else:
            monkeypatch.setenv("LLAMABURN_API_KEY", KEY)
        assert main(args) == 0
        bench = capsys.readouterr()
        server.script = Script(status=401, error_message="invalid api key")  # a failing run logs and reports more
        assert main([*args, "--model", DEFAULT_MODEL]) == 1
        failed = capsys.readouterr()
        chats = [r for r in server.requests if r.path == "/v1/chat/completions"]
        assert chats and all(r.headers["authorization"] == f"Bearer {KEY}" for r in chats)
        listed = [r for r in server.requests if r.path == "/v1/models"]
        assert listed and all(r.headers["authorization"] == f"Bearer {KEY}" for r in listed)
    assert json.loads(bench.out)["config"]["api_key"] == "***"
    assert main(["history", "--json"]) == 0
    history = capsys.readouterr().out
    assert [run["config"]["api_key"] for run in json.loads(history)] == ["***", "***"]
    assert main(["export"]) == 0
    exported = capsys.readouterr().out
    assert main(["export", "--format", "csv"]) == 0
    exported_csv = capsys.readouterr().out
    assert_no_key(
        bench.out,
        bench.err,
        failed.out,
        failed.err,
        history,
        exported,
        exported_csv,
        db_bytes(db_url),
        log_text(caplog),
    )
    assert "invalid api key" in failed.err  # the failure itself is reported


async def test_api_key_of_the_api_is_sent_but_never_answered_stored_or_logged(
    api: httpx.AsyncClient, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeServer(Script(tokens=5)) as server:
        body = {"backend": "openai", "url": server.url, "api_key": KEY, "prompt": "hi", "iterations": 1, "warmup": 0}
        started = await api.post("/api/benchmark", json=body)
        assert started.status_code == 202
        run_id = started.json()["run_id"]
        async with aconnect_sse(api, "GET", f"/api/benchmark/{run_id}/stream") as source:
            events = [sse.data async for sse in source.aiter_sse()]
        assert json.loads(events[-1])["type"] == "complete"
        again = await api.post("/api/benchmark", json=body)
        async with aconnect_sse(api, "GET", f"/api/benchmark/{again.json()['run_id']}/stream") as source:
            events += [sse.data async for sse in source.aiter_sse()]
        chats = [r for r in server.requests if r.path == "/v1/chat/completions"]
        assert chats and all(r.headers["authorization"] == f"Bearer {KEY}" for r in chats)
    for _ in range(500):
        record = (await api.get(f"/api/history/{run_id}")).json()
        if record["status"] != "running":
            break
        await asyncio.sleep(0.01)
    assert record["config"]["api_key"] == "***"
    history = (await api.get("/api/history")).text
    assert_no_key(
        started.text, again.text, "".join(events), json.dumps(record), history, db_bytes(db_url), log_text(caplog)
    )
