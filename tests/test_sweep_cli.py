"""``llamaburn sweep``: the axes as options, the modality's own options for the base, a table or ``--json``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llamaburn.cli import main
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.harness.cli import assert_one_error_line, cli

OTHER = "qwen2.5:0.5b"


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=11, tokens_per_s=100), models=(DEFAULT_MODEL, OTHER)) as server:
        yield server


def base(url: str) -> list[str]:
    return ["sweep", "--backend", "ollama", "--url", url, "--iterations", "1", "--warmup", "0", "--quiet"]


def test_sweep_prints_one_json_cell_per_point_and_stores_every_stream(
    capsys: pytest.CaptureFixture[str], fake: FakeServer
) -> None:
    code, document, err = cli(
        capsys, *base(fake.url), "--models", f"{DEFAULT_MODEL},{OTHER}", "--set", "max_tokens=5,11",
        "--concurrency", "1,2", "--slo", "ttft_ms=1000", "--json",
    )
    assert code == 0 and err == "" and document is not None
    cells = document["cells"]
    assert [(c["coordinates"]["model"], c["coordinates"]["max_tokens"], c["coordinates"]["concurrency"])
            for c in cells] == [(m, t, n) for m in (DEFAULT_MODEL, OTHER) for t in ("5", "11") for n in (1, 2)]
    assert [c["aggregate"]["output_tokens"] for c in cells[:4]] == [5, 10, 11, 22]  # max_tokens held per stream
    assert {c["aggregate"]["goodput_pct"] for c in cells} == {100.0}
    assert set(document["knees"]) == {DEFAULT_MODEL + " · max_tokens=5", DEFAULT_MODEL + " · max_tokens=11",
                                      OTHER + " · max_tokens=5", OTHER + " · max_tokens=11"}
    assert len(Store().sweep_runs(document["sweep_id"])) == 12


def test_sweep_prints_the_table_of_points(capsys: pytest.CaptureFixture[str], fake: FakeServer) -> None:
    assert main([*base(fake.url), "--model", DEFAULT_MODEL, "--concurrency", "1,2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(": 2 of 2 points")
    assert lines[1].split() == ["#", "model", "concurrency", "status", "aggregate_tps", "requests_per_s",
                                "stream_tps_mean", "prompt_tps_mean", "ttft_ms_p50", "ttft_ms_p95", "goodput_pct"]
    assert [line.split()[:4] for line in lines[3:5]] == [["1", DEFAULT_MODEL, "1", "completed"],
                                                         ["2", DEFAULT_MODEL, "2", "completed"]]
    assert lines[5].startswith(f"knee of {DEFAULT_MODEL}: ")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--concurrency", "1,x"], "--concurrency: 'x' is not a number"),
        (["--concurrency", "0"], "concurrency: each from 1 to 64"),
        (["--set", "max_tokens=8,-2"], "settings.max_tokens.1:"),
        (["--set", "no_such=1"], "settings.no_such.0:"),
        (["--set", "max_tokens"], "--set: expected NAME=VALUE"),
        (["--max-tokens", "8", "--set", "max_tokens=8,16"], "max_tokens: set twice"),
        (["--model", "a", "--models", "a,b"], "give one of them"),
    ],
)
def test_bad_sweep_input_is_one_line_and_exit_2_before_any_request(
    capsys: pytest.CaptureFixture[str], fake: FakeServer, options: list[str], fragment: str
) -> None:
    code, document, err = cli(capsys, *base(fake.url), *options)
    assert code == 2 and document is None
    assert_one_error_line(err, fragment)
    assert fake.requests == []
