"""One picture a vision request sends, as it goes on the wire: the backends put it in their requests (Ollama
``images``, OpenAI ``image_url``), and the vision path (``llamaburn.engine.vision``) makes it."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Picture:
    """One picture a vision request sends, encoded as it goes on the wire.

    ``base64`` is made once, with the picture, so encoding is the modality's client work (timed as
    preprocessing) and never part of a request's TTFT. ``label`` names it for people ("front", "t=2.0 s").
    """

    data: bytes
    media_type: str
    width: int
    height: int
    label: str = ""
    base64: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base64", base64.b64encode(self.data).decode("ascii"))

    @property
    def data_url(self) -> str:
        """The picture as an OpenAI ``image_url``: ``data:image/png;base64,...``."""
        return f"data:{self.media_type};base64,{self.base64}"
