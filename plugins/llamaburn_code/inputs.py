"""The Code form: what to ask (the built-in suite, one of its tasks, or the user's prompts) and in which language."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from llamaburn.plugin import Inputs, Prompt, cli_flag

from .tasks import TASKS

Language = Literal["python", "javascript", "typescript", "rust", "go", "c", "cpp", "java"]
LANGUAGE_NAMES: dict[str, str] = {
    "python": "Python", "javascript": "JavaScript", "typescript": "TypeScript", "rust": "Rust",
    "go": "Go", "c": "C", "cpp": "C++", "java": "Java",
}
DEFAULT_SYSTEM = (
    "You are a programmer. Answer with exactly one fenced code block in {language} "
    "(```{tag} ... ```), complete and able to compile, with no explanation."
)


class CodeInputs(Inputs):
    prompts: list[Prompt] = Field(
        default_factory=list,
        description="Your own code prompts, used in turn; leave empty to use the built-in task suite.",
        json_schema_extra=cli_flag("--prompt", from_file="--prompts-file"),
    )
    task: str | None = Field(None, description="One built-in task to repeat, by name; empty: the whole suite in turn.")
    language: Language = Field("python", description="The language the answer must be written in.")
    system: str | None = Field(
        None, description="System instruction; empty: ask for exactly one fenced code block in the language."
    )
    temperature: float = Field(
        0.2, ge=0.0, le=2.0, description="Sampling temperature, 0 to 2.", json_schema_extra=cli_flag("--temperature")
    )
    max_tokens: int = Field(
        512, ge=1, le=131_072, description="Most tokens to generate per answer.",
        json_schema_extra=cli_flag("--max-tokens"),
    )
    seed: int | None = Field(
        None, description="Sampling seed, for repeatable answers where supported.", json_schema_extra=cli_flag("--seed")
    )
    run_tests: bool = Field(
        False,
        description="Python suite tasks only: EXECUTE the model-written code against the task's assertions, "
        "in a limited child process (docs/reliability.md).",
    )
    test_timeout_s: float = Field(5.0, gt=0, le=60, description="Wall-clock limit of one functional check.")

    @field_validator("task")
    @classmethod
    def _known_task(cls, task: str | None) -> str | None:
        if task and task not in TASKS:
            raise ValueError(f"no built-in task {task!r}; the suite has {', '.join(TASKS)}")
        return task or None
