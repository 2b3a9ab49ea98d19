"""Baselines in the history database (revision 0004), on SQLite and PostgreSQL, and ``llamaburn baseline``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from llamaburn.cli import main
from llamaburn.storage import schema
from llamaburn.storage.baselines import Baselines
from llamaburn.storage.records import RunRecord
from llamaburn.storage.store import Store
from tests.harness.cli import assert_one_error_line

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stored(store: Store, run_id: str, model: str = "m", host: str | None = "box", minutes: int = 0) -> RunRecord:
    run = RunRecord(id=run_id, created_at=T0 + timedelta(minutes=minutes), modality="text", backend="ollama",
                    model=model, host=host, status="completed")
    store.create_run(run)
    return run


def test_a_baseline_per_key_and_tag_the_newest_found_without_a_tag(store_url: str) -> None:
    store = Store(store_url)
    assert schema.revision(store.engine) == schema.head()
    baselines = Baselines(store)
    first, second, other = stored(store, "run-1"), stored(store, "run-2", minutes=1), stored(store, "run-3", "x")
    assert baselines.find(first) is None
    baselines.set(first)
    baselines.set(second, "ollama-0.12")
    untagged = baselines.find(first, "")
    assert untagged is not None and untagged.run_id == "run-1"
    newest = baselines.find(first)
    assert newest is not None and (newest.run_id, newest.tag) == ("run-2", "ollama-0.12")
    assert baselines.find(other) is None  # another model is another key
    baselines.set(first, "ollama-0.12")  # the same key and tag: replaced, not added
    assert [(b.run_id, b.tag) for b in baselines.all()] == [("run-1", "ollama-0.12"), ("run-1", "")]
    assert baselines.clear(first, "") == 1 and [b.tag for b in baselines.all()] == ["ollama-0.12"]
    baselines.set(other)
    assert baselines.clear() == 2 and baselines.all() == []


def test_a_baseline_goes_with_its_run(store_url: str) -> None:
    store = Store(store_url)
    baselines = Baselines(store)
    run = stored(store, "run-1", host=None)  # a run that recorded no host still has a key
    baselines.set(run)
    assert baselines.find(run) is not None
    store.delete_run(run.id)
    assert baselines.find(run) is None and baselines.all() == []


def test_the_baseline_command(capsys: pytest.CaptureFixture[str]) -> None:
    store = Store()
    run = stored(store, "abcdef123456")
    assert main(["baseline", "set", "abcdef12", "--tag", "ollama-0.12"]) == 0
    assert "baseline (tag ollama-0.12) of m on ollama (text) at box: run abcdef123456" in capsys.readouterr().out
    assert main(["baseline", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["run_id"], listed["tag"], listed["host"], listed["model"]) == (run.id, "ollama-0.12", "box", "m")
    assert main(["baseline", "list"]) == 0
    assert "ollama-0.12" in capsys.readouterr().out
    assert main(["baseline", "set", "nope"]) == 2
    assert_one_error_line(capsys.readouterr().err, "no run with id 'nope'")
    assert main(["baseline", "clear", "abcdef12"]) == 0
    assert capsys.readouterr().out.strip() == "cleared 1 baseline"
    assert Baselines(store).all() == []
