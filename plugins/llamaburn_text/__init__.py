"""Text: stream a chat answer to a prompt and time every chunk (TTFT, TPS, ITL, total time)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from llamaburn.plugin import (
    ChatRequest,
    Inputs,
    Metric,
    Modality,
    Prompt,
    Target,
    apply_cache_mode,
    check_cache_mode,
    cli_flag,
    hookimpl,
    measure_stream,
)

DEFAULT_PROMPT = "Explain the concept of recursion in programming, with a short example."

TEXT_METRICS = (
    Metric(name="tps", label="TPS", unit="tok/s", direction="higher"),
    Metric(name="ttft_ms", label="TTFT", unit="ms", direction="lower"),
    Metric(name="itl_ms_p50", label="ITL p50", unit="ms", direction="lower"),
    Metric(name="itl_ms_p95", label="ITL p95", unit="ms", direction="lower"),
    Metric(name="total_ms", label="Total time", unit="ms", direction="lower"),
    Metric(name="output_tokens", label="Output tokens", unit="tok", direction="higher"),
    Metric(name="server_tps", label="Server TPS", unit="tok/s", direction="higher"),
    Metric(name="prompt_tps", label="Prompt TPS", unit="tok/s", direction="higher"),
    Metric(name="load_ms", label="Load time", unit="ms", direction="lower"),
    Metric(name="ttft_answer_ms", label="TTFT (answer)", unit="ms", direction="lower"),
    Metric(name="thinking_tokens", label="Thinking tokens", unit="tok", direction="lower"),
    Metric(name="thinking_ms", label="Thinking time", unit="ms", direction="lower"),
    Metric(name="server_prompt_ms", label="Server prompt time", unit="ms", direction="lower"),
    Metric(name="ttft_overhead_ms", label="TTFT overhead", unit="ms", direction="lower"),
    Metric(name="tps_gap_pct", label="TPS gap (client vs server)", unit="%", direction="lower"),
    Metric(name="cached_prompt_tokens", label="Cached prompt tokens", unit="tok", direction="higher"),
)


class TextInputs(Inputs):
    prompts: list[Prompt] = Field(
        default_factory=lambda: [DEFAULT_PROMPT],
        min_length=1,
        description="One prompt, or a set used in turn by successive iterations.",
        json_schema_extra=cli_flag("--prompt", from_file="--prompts-file"),
    )
    temperature: float = Field(
        0.7, ge=0.0, le=2.0, description="Sampling temperature, 0 to 2.", json_schema_extra=cli_flag("--temperature")
    )
    max_tokens: int = Field(
        256, ge=1, le=131_072, description="Most tokens to generate per answer.",
        json_schema_extra=cli_flag("--max-tokens"),
    )
    cache_mode: Literal["cold", "warm"] = Field(
        "cold",
        description="cold: every request misses the server's prompt cache, so TTFT includes the whole prompt; "
        "warm: requests reuse it, as a chat's next turn would.",
        json_schema_extra=cli_flag("--cache-mode"),
    )
    seed: int | None = Field(
        None, description="Sampling seed, for repeatable answers where supported.", json_schema_extra=cli_flag("--seed")
    )


class TextModality(Modality):
    name = "text"
    label = "Text"
    available = True
    inputs = TextInputs
    metrics = TEXT_METRICS

    def prompt(self, inputs: Inputs, index: int) -> str:
        assert isinstance(inputs, TextInputs)
        return inputs.prompts[index % len(inputs.prompts)]

    def with_context(self, inputs: dict[str, Any], context: str) -> dict[str, Any]:
        """Every prompt after ``context``: the cache mode's nonce (cold) still comes first, so each request's
        context is new to the server's prompt cache."""
        prompts = inputs.get("prompts") or [DEFAULT_PROMPT]
        if not isinstance(prompts, list):
            return inputs  # not a list: the form refuses it by its own path
        return {**inputs, "prompts": [f"{context}\n\n{prompt}" for prompt in prompts]}

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        assert isinstance(inputs, TextInputs)
        request = ChatRequest(
            model=target.model,
            prompt=prompt,
            temperature=inputs.temperature,
            max_tokens=inputs.max_tokens,
            seed=inputs.seed,
        )
        request, method = await apply_cache_mode(target.backend, request, inputs.cache_mode)
        metrics = await measure_stream(target.backend.stream_chat(request), on_text)
        return metrics | check_cache_mode(target.backend, metrics, inputs.cache_mode, method)


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(TextModality())
