"""The per-model vision check against the real llama-server: without an ``--mmproj`` its ``/props`` says
``"vision": false``, so an Image run is refused by the model's name before any chat request, with nothing
stored. (No vision model ships on PyPI, so the run itself is tested against the fake vision server.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from llamaburn.engine.registry import load_registry
from llamaburn.errors import ModelCapabilityError
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from tests import llama_server
from tests.vision_media import encoded, painted

pytestmark = [
    pytest.mark.llama_server,
    pytest.mark.skipif(bool(llama_server.missing()), reason=llama_server.skip_reason()),
]


async def test_llama_server_without_a_projector_is_refused_for_an_image_run(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(encoded(painted(64, 48), "PNG"))
    with llama_server.running() as url:
        service = RunService(load_registry(), Store())
        try:
            request = RunRequest(modality="image", backend="openai", url=url, model=llama_server.ALIAS,
                                 inputs={"image_path": str(photo)}, local_files=True)
            with pytest.raises(ModelCapabilityError) as refused:
                await service.start(request)
            assert str(refused.value) == (
                f"{llama_server.ALIAS} has no vision capability: pick a vision model such as gemma3, llava or "
                "qwen2.5vl"
            )
            assert service.runs == {} and service.store.count_runs() == 0
        finally:
            await service.aclose()
