"""The embeddings plugin against a fake server, through LlamaBurn's registry and runner, for both protocols."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fake_embeddings import DEFAULT_MODEL, Behaviour, FakeEmbeddingsServer
from llamaburn.engine.registry import load_registry
from llamaburn.engine.runner import Run
from llamaburn.plugin import Backend, ConfigError, Inputs, Modality, ModelEntry, Target, Token

from llamaburn_embeddings.inputs import DEFAULT_TEXTS, EmbeddingsInputs
from llamaburn_embeddings.modality import EMBEDDINGS_METRICS, EmbeddingsModality

PATHS = {"ollama": "/api/embed", "openai": "/v1/embeddings"}
TEN_TEXTS = [f"text number {i} has six words" for i in range(10)]


def modality() -> Modality:
    return load_registry().modality("embeddings")


async def run(backend: Backend, model: str = DEFAULT_MODEL, **inputs: object) -> Run:
    chosen = modality()
    parsed = chosen.parse_inputs({"iterations": 2, "warmup": 1, "texts": TEN_TEXTS, "batch_size": 4, **inputs})
    return await Run(chosen, parsed, Target(backend, model)).execute()


def test_hook_register_modalities_through_the_installed_entry_point() -> None:
    registry = load_registry()
    embeddings = registry.modality("embeddings")
    assert isinstance(embeddings, EmbeddingsModality)
    assert (embeddings.label, embeddings.available) == ("Embeddings", True)
    [row] = [row for row in registry.describe() if row.name == "embeddings"]
    assert row.distribution == "llamaburn-embeddings" and row.error is None
    assert not registry.problems


def test_form_defaults_run_the_sample_sentences_in_one_batch() -> None:
    inputs = modality().parse_inputs({})
    assert isinstance(inputs, EmbeddingsInputs)
    assert inputs.batches() == [list(DEFAULT_TEXTS)]
    assert modality().prompt(inputs, 0) == f"embed {len(DEFAULT_TEXTS)} texts in 1 batch of up to 8"


def test_generated_texts_replace_the_texts_and_are_distinct() -> None:
    inputs = modality().parse_inputs({"generated_count": 10, "generated_words": 5, "batch_size": 4, "texts": [""]})
    assert isinstance(inputs, EmbeddingsInputs)
    corpus = inputs.corpus()
    assert len(corpus) == len(set(corpus)) == 10
    assert all(len(text.split()) == 5 for text in corpus)
    assert [len(batch) for batch in inputs.batches()] == [4, 4, 2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"texts": []}, "give at least one text"),
        ({"texts": ["ok", " "]}, "a text is empty"),
        ({"batch_size": 0}, "batch_size: Input should be greater than or equal to 1"),
        ({"prompts": ["hi"]}, "prompts: Extra inputs are not permitted"),
    ],
)
def test_bad_inputs_are_refused_in_one_line(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        modality().parse_inputs(data)


async def test_one_iteration_embeds_every_text_batch_by_batch_on_one_connection(
    backend: Backend, fake: FakeEmbeddingsServer
) -> None:
    finished = await run(backend)
    assert finished.status == "completed", finished.error
    requests = fake.embed_requests
    assert {r.path for r in requests} == {PATHS[backend.name]}
    assert [len(r.body["input"]) for r in requests] == [4, 4, 2] * 3  # one warmup, then two iterations
    assert [text for r in requests[:3] for text in r.body["input"]] == TEN_TEXTS
    assert {r.body["model"] for r in requests} == {DEFAULT_MODEL}
    assert len({r.client_port for r in requests}) == 1  # the backend's keep-alive client, reused


async def test_metrics_come_from_the_answers_and_the_server_token_counts(backend: Backend) -> None:
    finished = await run(backend)
    for metrics in finished.iterations:
        assert (metrics["dimension"], metrics["texts"], metrics["batches"]) == (8, 10, 3)
        assert metrics["input_tokens"] == 60  # the fake counts words
        rate = metrics["input_tokens_per_s"] / metrics["embeddings_per_s"]
        assert rate == pytest.approx(6)
    assert {m.name for m in EMBEDDINGS_METRICS} <= set(finished.summary)


async def test_batch_latency_is_timed_on_the_client(fake: FakeEmbeddingsServer, backend: Backend) -> None:
    fake.behaviour = Behaviour(latency_s=0.05)
    finished = await run(backend, iterations=1, warmup=0)
    [metrics] = finished.iterations
    # The server answers each batch no sooner than 50 ms after it arrives, so these bounds are exact.
    assert metrics["batch_latency_ms_p50"] >= 50 and metrics["batch_latency_ms_p95"] >= 50
    assert metrics["total_ms"] >= 150
    assert metrics["embeddings_per_s"] <= 10 / 0.15


async def test_each_batch_shows_as_a_line_of_live_output(backend: Backend) -> None:
    chosen = modality()
    parsed = chosen.parse_inputs({"iterations": 1, "warmup": 0, "texts": TEN_TEXTS, "batch_size": 4})
    running = Run(chosen, parsed, Target(backend, DEFAULT_MODEL))
    events = running.bus.subscribe()
    await running.execute()
    lines = [event.text for event in events.drain() if isinstance(event, Token)]
    assert [line.split(":")[0] for line in lines] == ["batch 1/3", "batch 2/3", "batch 3/3"]
    assert lines[0].startswith("batch 1/3: 4 x 8-d vectors, 24 tokens in ") and lines[0].endswith(" ms\n")


async def test_a_server_without_token_counts_leaves_token_rate_unknown(
    fake: FakeEmbeddingsServer, backend: Backend
) -> None:
    fake.behaviour = Behaviour(token_counts=False)
    finished = await run(backend)
    assert finished.status == "completed"
    assert all(m["input_tokens_per_s"] is None and m["embeddings_per_s"] > 0 for m in finished.iterations)
    assert "input_tokens_per_s" not in finished.summary


async def test_unknown_model_fails_the_run_with_the_servers_message(backend: Backend) -> None:
    finished = await run(backend, model="nope")
    assert finished.status == "failed"
    assert finished.error is not None and "\n" not in finished.error
    assert "answered HTTP 404" in finished.error and "nope" in finished.error
    assert finished.error.endswith(f"(POST {PATHS[backend.name]})")


async def test_server_error_fails_the_run_with_status_and_message(fake: FakeEmbeddingsServer, backend: Backend) -> None:
    fake.behaviour = Behaviour(status=500, error_message="out of memory")
    finished = await run(backend)
    assert finished.status == "failed" and not finished.warmups
    assert f"answered HTTP 500: out of memory (POST {PATHS[backend.name]})" in (finished.error or "")


async def test_an_answer_missing_a_vector_is_a_protocol_error(fake: FakeEmbeddingsServer, backend: Backend) -> None:
    fake.behaviour = Behaviour(drop_vector=True)
    finished = await run(backend)
    assert finished.status == "failed"
    assert f"sent 3 embeddings for 4 texts (POST {PATHS[backend.name]})" in (finished.error or "")


async def test_unreachable_server_fails_in_one_line() -> None:
    async with load_registry().backend("ollama")("http://127.0.0.1:9") as closed:
        finished = await run(closed)
    assert finished.status == "failed"
    assert finished.error is not None and finished.error.startswith("Ollama at http://127.0.0.1:9 is not reachable")


class ChatOnly(Backend):
    """A third-party backend that speaks neither embeddings protocol."""

    name = "chat-only"
    label = "Chat only"
    default_url = "http://127.0.0.1:9"

    async def version(self) -> str | None:
        return None

    async def models(self) -> list[ModelEntry]:
        return []

    async def stream_chat(self, request: object) -> AsyncIterator[object]:
        raise NotImplementedError
        yield


async def test_a_backend_without_an_embeddings_protocol_is_refused_before_any_request() -> None:
    async with ChatOnly() as other:
        inputs: Inputs = modality().parse_inputs({})
        with pytest.raises(ConfigError, match="backend 'chat-only' is neither: pick one of ollama, openai, embedded"):
            await modality().measure(inputs, "", Target(other, "m"), lambda text: None)
