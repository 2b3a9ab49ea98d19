"""The Code modality: stream an answer, time it like text, then extract its code and check that it parses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from llamaburn.plugin import Artifact, ChatRequest, Chunk, Inputs, Metric, Modality, Target, measure_stream

from .extraction import extract
from .inputs import DEFAULT_SYSTEM, LANGUAGE_NAMES, CodeInputs
from .sandbox import run_tests
from .syntax import check
from .tasks import SUITE, SUITE_VERSION, TASKS, Task

CODE_METRICS = (
    Metric(name="tps", label="TPS", unit="tok/s", direction="higher"),
    Metric(name="ttft_ms", label="TTFT", unit="ms", direction="lower"),
    Metric(name="syntax_valid", label="Syntax validity", unit="%", direction="higher", outcomes=("valid", "invalid")),
    Metric(name="code_lines", label="Lines of code", unit="lines", direction="higher"),
    Metric(name="total_ms", label="Total time", unit="ms", direction="lower"),
    Metric(name="tests_passed", label="Pass rate", unit="%", direction="higher"),
    Metric(name="output_tokens", label="Output tokens", unit="tok", direction="higher"),
)


def _suite_prompt(task: Task, language: str) -> str:
    return f"{task.prompt} Write it in {LANGUAGE_NAMES[language]}."


def _tasks(inputs: CodeInputs) -> tuple[Task, ...]:
    return (TASKS[inputs.task],) if inputs.task else SUITE


class CodeModality(Modality):
    """Syntax validity is the share of answers whose extracted code parses in ``language``."""

    name = "code"
    label = "Code"
    available = True
    inputs = CodeInputs
    metrics = CODE_METRICS
    artifact = Artifact(
        detail="code", label="Extracted code", language_detail="language",
        error_line_detail="syntax_error_line", error_label="Syntax error",
    )

    def prompt(self, inputs: Inputs, index: int) -> str:
        assert isinstance(inputs, CodeInputs)
        if inputs.prompts:
            return inputs.prompts[index % len(inputs.prompts)]
        tasks = _tasks(inputs)
        return _suite_prompt(tasks[index % len(tasks)], inputs.language)

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        assert isinstance(inputs, CodeInputs)
        language = inputs.language
        system = inputs.system or DEFAULT_SYSTEM.format(language=LANGUAGE_NAMES[language], tag=language)
        request = ChatRequest(
            model=target.model, prompt=prompt, system=system, temperature=inputs.temperature,
            max_tokens=inputs.max_tokens, seed=inputs.seed,
        )
        content: list[str] = []

        async def answer() -> AsyncIterator[Chunk]:
            """The stream, passed on untouched, keeping the content apart: thinking is never code."""
            async for chunk in target.backend.stream_chat(request):
                content.append(chunk.content)
                yield chunk

        metrics = await measure_stream(answer(), on_text)
        extraction = extract("".join(content), language)
        syntax = check(extraction.code, language)
        task = next((t for t in _tasks(inputs) if _suite_prompt(t, language) == prompt), None)
        metrics |= {
            "syntax_valid": 100 if syntax.valid else 0,
            "syntax_error_line": syntax.line,
            "syntax_error_column": syntax.column,
            "code_lines": len(extraction.code.splitlines()),
            "extraction": extraction.rule,
            "code": extraction.code,
            "language": language,
            "task": task.name if task else None,
            "suite_version": f"v{SUITE_VERSION}" if task else None,
            "tests_passed": None,
        }
        if inputs.run_tests and task is not None and language == "python":
            # In a thread: the check waits up to its timeout, and the event loop must go on meanwhile.
            result = await asyncio.to_thread(run_tests, extraction.code, task.python_tests, inputs.test_timeout_s)
            metrics["tests_passed"] = 100 if result.passed else 0
            metrics["test_outcome"] = result.outcome
        return metrics
