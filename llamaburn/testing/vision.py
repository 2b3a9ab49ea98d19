"""A fake vision model: ``FakeServer`` that decodes every picture it receives, checks it is the one meant, and
takes longer to its first token the more pictures it gets, on its exact clock.

Ollama's ``/api/chat`` carries pictures as ``images: [base64...]`` in a message, OpenAI's as ``image_url``
content parts with ``data:`` URLs; both are decoded with Pillow. The first token of a request with ``n``
pictures is due ``script.ttft_s + n * per_picture_s`` after it arrives, and the server reports that as its
prompt time (Ollama ``prompt_eval_duration``, llama.cpp ``timings.prompt_ms``), so a test can check the
image-processing and frame-rate formulas exactly. The fake's own decoding (under a millisecond for a test's
pictures) is not subtracted: it is the one part of the difference that is not scripted.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from PIL import Image, ImageChops, UnidentifiedImageError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from llamaburn.testing.script import Script
from llamaburn.testing.servers import DEFAULT_MODEL, FakeServer

Expected = Image.Image | tuple[int, int]
"""A picture the client should send: an image (same size and the same RGB pixels) or just its size."""
NO_VISION = "this model is missing data required for image input"  # what Ollama answers a text-only model

_request_script: ContextVar[Script | None] = ContextVar("vision_request_script", default=None)


class VisionServer(FakeServer):
    """Use as ``with VisionServer(Script(ttft_s=0.05), per_picture_s=0.2, expected=[image]) as server``.

    ``vision`` is what ``/api/show`` ``capabilities`` and ``/props`` ``modalities`` say (and a text-only model
    refuses pictures, as Ollama does); ``expected``, when given, is what every request with pictures must
    carry, in order; ``seen`` holds the decoded pictures of each chat request, in order (``[]`` for a
    text-only one). A refused picture gets HTTP 400 naming the problem, so the run fails with it.
    """

    def __init__(
        self,
        script: Script | None = None,
        models: Sequence[str] = (DEFAULT_MODEL,),
        *,
        vision: bool = True,
        per_picture_s: float = 0.0,
        expected: Sequence[Expected] | None = None,
    ) -> None:
        super().__init__(script, models)
        self.vision = vision
        self.per_picture_s = per_picture_s
        self.expected = list(expected) if expected is not None else None
        self.seen: list[list[Image.Image]] = []

    @property  # type: ignore[override]
    def script(self) -> Script:
        """The script of the request being answered (its TTFT lengthened by its pictures), else the one set."""
        return _request_script.get() or self._script

    @script.setter
    def script(self, value: Script) -> None:
        self._script = value

    def _see(self, pictures: list[tuple[str, str | None]]) -> str | None:
        """Decode each ``(base64, declared media type)`` and check it; the problem, or ``None`` if all is well."""
        images: list[Image.Image] = []
        for number, (encoded, declared) in enumerate(pictures, 1):
            try:
                with Image.open(io.BytesIO(base64.b64decode(encoded, validate=True))) as opened:
                    opened.load()
                    image, actual = opened.copy(), Image.MIME.get(opened.format or "")
            except (binascii.Error, UnidentifiedImageError, OSError) as exc:
                return f"picture {number} cannot be decoded: {exc}"
            if declared is not None and declared != actual:
                return f"picture {number} is declared {declared} but is {actual}"
            images.append(image)
        self.seen.append(images)
        if pictures and not self.vision:
            return NO_VISION
        if pictures and self.expected is not None:
            return _compare(images, self.expected)
        return None

    def _timed(self, count: int) -> None:
        """Lengthen this request's TTFT (and the prompt time it reports) by its pictures."""
        base = self._script
        _request_script.set(replace(base, ttft_s=base.ttft_s + count * self.per_picture_s))

    async def _ollama_chat(self, request: Request) -> Response:
        body = await request.json()
        messages = body.get("messages") or []
        pictures: list[tuple[str, str | None]] = [
            (image, None) for message in messages for image in message.get("images") or []
        ]
        if problem := self._see(pictures):
            await self._record(request)
            return JSONResponse({"error": problem}, 400)
        self._timed(len(pictures))
        return await super()._ollama_chat(request)

    async def _openai_chat(self, request: Request) -> Response:
        body = await request.json()
        pictures: list[tuple[str, str | None]] = []
        for message in body.get("messages") or []:
            content = message.get("content")
            for part in content if isinstance(content, list) else []:
                if part.get("type") != "image_url":
                    continue
                url = str((part.get("image_url") or {}).get("url", ""))
                head, _, data = url.partition(",")
                if not (head.startswith("data:") and head.endswith(";base64")):
                    return JSONResponse({"error": {"message": f"not a base64 data URL: {url[:40]!r}"}}, 400)
                pictures.append((data, head.removeprefix("data:").removesuffix(";base64")))
        if problem := self._see(pictures):
            await self._record(request)
            return JSONResponse({"error": {"message": problem, "type": "invalid_request_error"}}, 400)
        self._timed(len(pictures))
        return await super()._openai_chat(request)

    async def _ollama_show(self, request: Request) -> Response:
        response = await super()._ollama_show(request)
        if response.status_code != 200:
            return response
        details: dict[str, Any] = json.loads(bytes(response.body))
        details["capabilities"] = ["completion", "vision"] if self.vision else ["completion"]
        return JSONResponse(details)

    async def _llama_props(self, request: Request) -> Response:
        response = await super()._llama_props(request)
        if response.status_code != 200:
            return response
        props: dict[str, Any] = json.loads(bytes(response.body))
        props["modalities"] = {**props["modalities"], "vision": self.vision}
        return JSONResponse(props)


def _compare(images: list[Image.Image], expected: list[Expected]) -> str | None:
    if len(images) != len(expected):
        return f"got {len(images)} pictures, expected {len(expected)}"
    for number, (image, meant) in enumerate(zip(images, expected, strict=True), 1):
        size = meant.size if isinstance(meant, Image.Image) else meant
        if image.size != size:
            return f"picture {number} is {image.width}x{image.height}, expected {size[0]}x{size[1]}"
        if isinstance(meant, Image.Image) and _differs(image, meant):
            return f"picture {number} has other pixels than the picture meant"
    return None


def _differs(image: Image.Image, meant: Image.Image) -> bool:
    return ImageChops.difference(image.convert("RGB"), meant.convert("RGB")).getbbox() is not None
