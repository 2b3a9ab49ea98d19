"""``llamaburn check`` against the fake server's exact clock: its exit codes, table, ``--json`` and ``--junit``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llamaburn.cli import main
from llamaburn.storage.store import Store
from llamaburn.testing import FakeServer, Script
from tests.harness.cli import assert_one_error_line

TOKENS = 40
BASE_TPS = 200.0


class Alternating(FakeServer):
    """A server whose chat answers take turns through ``scripts``: a noisy machine, on an exact clock."""

    def __init__(self, scripts: list[Script]) -> None:
        self.scripts = scripts
        super().__init__(scripts[0])

    @property  # type: ignore[override]
    def script(self) -> Script:
        chats = sum(request.path == "/api/chat" for request in self.requests)
        return self.scripts[(chats - 1) % len(self.scripts)]

    @script.setter
    def script(self, value: Script) -> None:
        """Fixed by ``scripts``."""


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=TOKENS, tokens_per_s=BASE_TPS)) as fake:
        yield fake


def run_options(server: FakeServer, iterations: int = 5) -> list[str]:
    return ["--backend", "ollama", "--url", server.url, "--iterations", str(iterations), "--warmup", "0", "--quiet"]


def baseline(capsys: pytest.CaptureFixture[str], server: FakeServer) -> str:
    assert main(["bench", *run_options(server), "--json"]) == 0
    run_id: str = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["baseline", "set", run_id]) == 0
    capsys.readouterr()
    return run_id


def check(capsys: pytest.CaptureFixture[str], server: FakeServer, *extra: str) -> tuple[int, str, str]:
    code = main(["check", *run_options(server), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_same_speed_passes(capsys: pytest.CaptureFixture[str], server: FakeServer, tmp_path: Path) -> None:
    base = baseline(capsys, server)
    code, out, err = check(capsys, server, "--max-regression", "tps=5%,ttft_ms=50%", "--junit", str(tmp_path / "j.xml"))
    assert code == 0, err
    assert f"against baseline {base[:8]}" in out and out.rstrip().endswith("check passed")
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "0")
    assert [case.get("name") for case in suite.iter("testcase")] == ["tps", "ttft_ms"]


def test_twenty_percent_slower_fails(capsys: pytest.CaptureFixture[str], server: FakeServer, tmp_path: Path) -> None:
    base = baseline(capsys, server)
    server.script = Script(tokens=TOKENS, tokens_per_s=BASE_TPS * 0.8)
    code, out, err = check(capsys, server, "--max-regression", "tps=5%", "--json", "--junit", str(tmp_path / "j.xml"))
    assert code == 1, err
    result = json.loads(out)
    assert (result["outcome"], result["baseline_run_id"]) == ("regression", base)
    [tps] = result["metrics"]
    assert tps["verdict"] == "regression" and tps["significant"]
    assert tps["regression_pct"] == pytest.approx(20, abs=3)
    assert tps["baseline"]["low"] < tps["baseline"]["mean"] < tps["baseline"]["high"]
    failure = ET.parse(tmp_path / "j.xml").getroot().find("testsuite/testcase/failure")
    assert failure is not None and "beyond the 5% allowed: a regression" in (failure.get("message") or "")


def test_three_percent_slower_passes_a_five_percent_threshold(
    capsys: pytest.CaptureFixture[str], server: FakeServer
) -> None:
    baseline(capsys, server)
    server.script = Script(tokens=TOKENS, tokens_per_s=BASE_TPS * 0.97)
    code, out, err = check(capsys, server, "--max-regression", "tps=5%")
    assert code == 0, err
    assert out.rstrip().endswith("check passed")  # significant or not, 3 % is inside the threshold


def test_noisy_and_slower_but_not_significant_passes_within_noise(
    capsys: pytest.CaptureFixture[str], server: FakeServer
) -> None:
    baseline(capsys, server)
    noisy = [Script(tokens=TOKENS, tokens_per_s=100), Script(tokens=TOKENS, tokens_per_s=250)]
    with Alternating(noisy) as other:
        code, out, err = check(capsys, other, "--max-regression", "tps=5%")
    assert code == 0, err
    line = next(line for line in out.splitlines() if line.startswith("tps is "))
    assert "worse than the baseline, within noise" in line and line.endswith("not a regression")
    run_id = out.split()[1]  # "run <id prefix> against baseline <id prefix>"
    # Each iteration with a TPS counts: under load a 250 tok/s stream's tokens can all reach one socket read,
    # and an iteration whose tokens all arrived at once has no decode time to rate.
    store = Store()
    iterations = store.iterations(store.get_run(run_id).id)
    rated = [it for it in iterations if not it.warmup and it.metrics.get("tps") is not None]
    assert rated and f"warning: run: {len(rated)} iterations with a CV of" in out  # and how many to tell 5 %


def test_a_missing_baseline_is_bad_input(capsys: pytest.CaptureFixture[str], server: FakeServer) -> None:
    code, out, err = check(capsys, server)
    assert code == 2 and out == ""
    assert_one_error_line(err, "no baseline for llama3.2:1b on ollama (text)", "llamaburn baseline set ")
    assert any(request.path == "/api/chat" for request in server.requests)  # the run is stored, to be set
    server.requests.clear()
    code, _, err = check(capsys, server, "--model", "llama3.2:1b")
    assert code == 2  # backend and model named: the key is known, so no run is wasted
    assert_one_error_line(err, "no baseline for llama3.2:1b on ollama (text)", "llamaburn baseline set RUN_ID")
    assert not any(request.path == "/api/chat" for request in server.requests)


def test_bad_input_exits_2_before_measuring(capsys: pytest.CaptureFixture[str], server: FakeServer) -> None:
    code, _, err = check(capsys, server, "--max-regression", "speed=5%")
    assert code == 2
    assert_one_error_line(err, "--max-regression: unknown metric 'speed'")
    assert not any(request.path == "/api/chat" for request in server.requests)
    code, _, err = check(capsys, server, "--max-regression", "tps=five")
    assert code == 2 and "expected METRIC=PERCENT" in err


def test_a_stored_run_is_checked_with_run(capsys: pytest.CaptureFixture[str], server: FakeServer) -> None:
    base = baseline(capsys, server)
    assert main(["check", "--run", base[:8], "--json"]) == 0  # the baseline against itself
    assert json.loads(capsys.readouterr().out)["metrics"][0]["verdict"] == "pass"
    assert main(["check", "--run", base, "--model", "x"]) == 2
    assert_one_error_line(capsys.readouterr().err, "--run checks a stored run: drop --model")
    assert main(["check", "--run", base, "--tag", "nightly"]) == 2
    assert_one_error_line(capsys.readouterr().err, "no baseline tagged 'nightly'")


def test_help_loads_neither_scipy_nor_the_engine() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    imports = subprocess.run([sys.executable, "-X", "importtime", "-m", "llamaburn", "--help"],
                             capture_output=True, text=True, env=env, timeout=60)
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in imports.stderr.splitlines()}
    assert not {"scipy", "sqlmodel", "pydantic", "numpy"} & loaded
    assert "check" in imports.stdout and "baseline" in imports.stdout


def test_a_regression_outweighs_an_untestable_metric() -> None:
    from llamaburn.plugin import Metric
    from llamaburn.service.regression import check as check_run
    from llamaburn.service.regression import thresholds
    from llamaburn.storage.records import RunRecord

    metrics = (Metric(name="tps", label="TPS", unit="tok/s", direction="higher"),
               Metric(name="ttft_ms", label="TTFT", unit="ms", direction="lower"))
    base, run = (RunRecord(id=i, created_at=datetime.now(UTC), modality="text", backend="b", model="m",
                           status="completed") for i in ("base", "run"))
    found = {"base": {"tps": [100.0, 101.0, 99.0], "ttft_ms": [10.0]}, "run": {"tps": [80.0, 81.0, 79.0]}}
    limits = thresholds("tps=5%, ttft_ms=10", metrics)
    result = check_run(run, base, "", found, metrics, limits)
    assert result.outcome == "regression"
    assert [m.verdict for m in result.metrics] == ["regression", "too few iterations"]
    assert thresholds(None, metrics)[0].model_dump() == {"metric": "tps", "max_pct": 5.0}
