"""Code: extraction, syntax validity in eight languages, and run metrics over scripted answers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llamaburn.backends.base import Backend, ChatRequest, Chunk, ModelEntry
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.engine.modality import Target
from llamaburn.engine.registry import load_registry
from llamaburn.engine.runner import Run
from llamaburn.errors import ConfigError
from llamaburn.testing import FakeServer, Script
from llamaburn_code.extraction import extract
from llamaburn_code.syntax import check
from llamaburn_code.tasks import SUITE

VALID = {
    "python": "def add(a, b):\n    return a + b\n",
    "javascript": "function add(a, b) {\n  return a + b;\n}\n",
    "typescript": "function add(a: number, b: number): number {\n  return a + b;\n}\n",
    "rust": "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
    "go": "package main\n\nfunc add(a int, b int) int {\n\treturn a + b\n}\n",
    "c": "int add(int a, int b) {\n    return a + b;\n}\n",
    "cpp": "#include <vector>\nint add(int a, int b) {\n    return a + b;\n}\n",
    "java": "class M {\n    int add(int a, int b) {\n        return a + b;\n    }\n}\n",
}
INVALID = {  # each breaks on its second line
    "python": "def add(a, b):\n    return a +\n",
    "javascript": "function add(a, b) {\n  return a + ;\n}\n",
    "typescript": "function add(a: number): number {\n  return a + ;\n}\n",
    "rust": "fn add(a: i32) -> i32 {\n    let = ;\n}\n",
    "go": "package main\nfunc add(a int int {\n}\n",
    "c": "int add(int a) {\n    return a + ;\n}\n",
    "cpp": "int add(int a) {\n    return a + ;\n}\n",
    "java": "class M {\n    int add(int a) { return a + ; }\n}\n",
}


class ScriptedBackend(Backend):
    """Answers request ``i`` with ``answers[i % n]``, one character per chunk, thinking first."""

    name = "scripted"
    label = "Scripted"
    default_url = "http://127.0.0.1:9"

    def __init__(self, answers: list[str], thinking: str = "") -> None:
        super().__init__()
        self.answers, self.thinking, self.requests = answers, thinking, list[ChatRequest]()

    async def version(self) -> str | None:
        return None

    async def models(self) -> list[ModelEntry]:
        return [ModelEntry("m")]

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        answer = self.answers[len(self.requests) % len(self.answers)]
        self.requests.append(request)
        for char in self.thinking:
            yield Chunk(thinking=char)
        for char in answer:
            yield Chunk(content=char)


def fenced(code: str, tag: str) -> str:
    return f"Here it is:\n```{tag}\n{code}```\nDone."


@pytest.mark.parametrize("language", sorted(VALID))
def test_valid_code_parses(language: str) -> None:
    extraction = extract(fenced(VALID[language], language), language)
    assert extraction.rule == "tagged" and extraction.code == VALID[language]
    assert check(extraction.code, language).valid


@pytest.mark.parametrize("language", sorted(INVALID))
def test_invalid_code_has_its_error_on_line_two(language: str) -> None:
    result = check(INVALID[language], language)
    assert not result.valid and result.line == 2 and result.column is not None and result.column >= 1


def test_python_error_position_is_exact() -> None:
    result = check("x = 1\ny = (2 +\n", "python")
    assert (result.valid, result.line) == (False, 2)


def test_python_compile_catches_what_the_grammar_allows() -> None:
    assert not check("def f():\n    return 1\nreturn 2\n", "python").valid  # 'return' outside function


def test_no_fence_takes_the_whole_answer() -> None:
    extraction = extract("def f():\n    return 1\n", "python")
    assert extraction == type(extraction)("def f():\n    return 1", "whole")


def test_two_blocks_take_the_one_in_the_language() -> None:
    answer = fenced("print(1)\n", "python") + fenced("fn main() {}\n", "rust")
    assert extract(answer, "rust").code == "fn main() {}\n" and extract(answer, "rust").rule == "tagged"
    assert extract(answer, "go").code == "print(1)\n" and extract(answer, "go").rule == "fenced"


def test_aliases_count_as_the_language() -> None:
    assert extract("```py\nx = 1\n```", "python").rule == "tagged"
    assert extract("```c++\nint x;\n```", "cpp").rule == "tagged"


def test_code_inside_thinking_is_not_code() -> None:
    answer = "<think>maybe ```python\nbroken(\n```</think>\n```python\nx = 1\n```"
    assert extract(answer, "python").code == "x = 1\n"


def test_an_unclosed_fence_runs_to_the_end() -> None:
    assert extract("```rust\nfn main() {", "rust").code == "fn main() {"


@given(st.text(), st.sampled_from(sorted(VALID)))
def test_any_text_gives_an_answer(text: str, language: str) -> None:
    extraction = extract(text, language)
    assert extraction.rule in ("tagged", "fenced", "whole")
    assert check(extraction.code, language).valid in (True, False)


@given(st.text(alphabet=st.characters(blacklist_characters="`~"), min_size=0))
def test_a_tagged_block_is_found_whatever_surrounds_it(prose: str) -> None:
    answer = f"{prose}\n```python\nx = 1\n```\n{prose}"
    assert extract(answer, "python") == type(extract(answer, "python"))("x = 1\n", "tagged")


def test_the_suite_has_ten_tasks_with_python_assertions() -> None:
    assert len(SUITE) >= 10 and len({t.name for t in SUITE}) == len(SUITE)
    assert all("assert" in task.python_tests for task in SUITE)
    for task in SUITE:
        compile(task.python_tests, task.name, "exec")


def code_run(answers: list[str], thinking: str = "", **inputs: object) -> tuple[Run, ScriptedBackend]:
    modality = load_registry().modality("code")
    backend = ScriptedBackend(answers, thinking)
    parsed = modality.parse_inputs({"iterations": len(answers), "warmup": 0, **inputs})
    return Run(modality, parsed, Target(backend, "m")), backend


async def test_three_valid_of_four_is_75_percent() -> None:
    answers = [fenced(VALID["rust"], "rust")] * 3 + [fenced(INVALID["rust"], "rust")]
    run, backend = code_run(answers, language="rust")
    await run.execute()
    assert run.status == "completed"
    assert [m["syntax_valid"] for m in run.iterations] == [100, 100, 100, 0]
    assert run.summary["syntax_valid"]["mean"] == 75.0
    assert run.iterations[3]["syntax_error_line"] == 2 and run.iterations[0]["syntax_error_line"] is None
    assert [m["code_lines"] for m in run.iterations] == [3, 3, 3, 3]
    assert {m["extraction"] for m in run.iterations} == {"tagged"}
    assert "extraction" not in run.summary  # text values stay per iteration
    assert backend.requests[0].system is not None and "Rust" in backend.requests[0].system


async def test_iterations_go_through_the_suite() -> None:
    run, backend = code_run(["x = 1"] * 3)
    await run.execute()
    assert [m["task"] for m in run.iterations] == [t.name for t in SUITE[:3]]
    assert len({r.prompt for r in backend.requests}) == 3


async def test_thinking_is_streamed_but_never_code() -> None:
    run, _ = code_run([fenced(VALID["python"], "python")], thinking="```python\nbroken(\n```")
    await run.execute()
    assert run.iterations[0]["code"] == VALID["python"] and run.iterations[0]["syntax_valid"] == 100


async def test_user_prompts_and_system_are_sent() -> None:
    run, backend = code_run(["x"], prompts=["write x"], system="be terse")
    await run.execute()
    assert (backend.requests[0].prompt, backend.requests[0].system) == ("write x", "be terse")
    assert run.iterations[0]["task"] is None


def test_an_unknown_task_or_language_is_refused() -> None:
    modality = load_registry().modality("code")
    with pytest.raises(ConfigError, match="task"):
        modality.parse_inputs({"task": "nope"})
    with pytest.raises(ConfigError, match="language"):
        modality.parse_inputs({"language": "cobol"})


async def test_a_fence_split_across_chunks_over_ollama() -> None:
    tokens = ["Sure:\n`", "``", "go\npack", "age main\n", "func main() {}\n`", "``\n"]
    with FakeServer(Script(tokens=tokens)) as server:
        modality = load_registry().modality("code")
        inputs = modality.parse_inputs({"iterations": 2, "warmup": 0, "language": "go"})
        backend = OllamaBackend(server.url)
        try:
            run = Run(modality, inputs, Target(backend, "llama3.2:1b"))
            await run.execute()
        finally:
            await backend.aclose()
        assert server.requests[0].body["messages"][0]["role"] == "system"
    assert [m["syntax_valid"] for m in run.iterations] == [100, 100]
    assert run.iterations[0]["code"] == "package main\nfunc main() {}\n"


def test_cli_bench_rust_against_the_fake_server() -> None:
    with FakeServer(Script(tokens=["```rust\n", "fn main() {\n", "}\n", "```"])) as server:
        result = subprocess.run(
            [sys.executable, "-m", "llamaburn", "bench", "--modality", "code", "--input", "language=rust",
             "--backend", "ollama", "--url", server.url, "--iterations", "2", "--warmup", "0",
             "--json", "--quiet", "--no-save"],
            capture_output=True, text=True, timeout=120,
        )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [m["syntax_valid"] for m in data["iterations"]] == [100, 100]
    assert data["summary"]["syntax_valid"]["mean"] == 100
    assert data["iterations"][0]["extraction"] == "tagged"


@pytest.mark.embedded
def test_bench_code_on_the_embedded_model() -> None:
    """The base model's validity is low, and that is an honest result: only its shape is asserted."""
    result = subprocess.run(
        [sys.executable, "-m", "llamaburn", "bench", "--modality", "code", "--backend", "embedded",
         "--input", "language=python", "--iterations", "2", "--max-tokens", "48", "--json", "--quiet", "--no-save"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "completed" and len(data["iterations"]) == 2
    assert all(m["syntax_valid"] in (0, 100) for m in data["iterations"])
