"""The Sweep panel shows what the server check says: streams that queue past llama-server's slots, and a
depth beyond the model's context refused before anything is sent."""

from __future__ import annotations

import pytest

from llamaburn.testing import FakeServer, Script
from tests.harness.moments import until
from tests.harness.page import Page


@pytest.mark.parametrize("fake", ["socket"], indirect=True)  # llama-server's fake listens on a real port too
async def test_the_panel_warns_of_queueing_and_refuses_a_depth_too_deep(page: Page) -> None:
    with FakeServer(Script(tokens=4, tokens_per_s=400, llama_cpp=True), slots=1) as llama:
        await page.connect("openai", llama.url)
        page.fill(iterations=1, warmup=0)
        with page.user:
            page.element("sweep-concurrency").value = "1,2"
        page.user.find(marker="sweep-button").click()
        await until(lambda: page.text("sweep-status").endswith("2 of 2 points (done)"))
        await page.user.should_see("point 2: concurrency 2 is above the server's 1 slot: 1 of the streams queue "
                                   "for a slot, so their TTFT includes the wait")
        chats = len([r for r in llama.requests if r.path == "/v1/chat/completions"])

        with page.user:
            page.element("sweep-concurrency").value = "1"
            page.element("sweep-depth").value = "64,40000"
        page.user.find(marker="sweep-button").click()
        await until(lambda: page.text("sweep-status").endswith("0 of 2 points (failed)"))
        await page.user.should_see("depth: 40,000 tokens is beyond the server's context per slot of")
        assert len([r for r in llama.requests if r.path == "/v1/chat/completions"]) == chats  # nothing sent
