"""The Audio form: the recording (decoded as it is validated, so a corrupt or empty file is refused before
anything runs or is stored), an optional reference transcript, the language and the sampling temperature."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from llamaburn.plugin import Inputs, cli_flag, upload_path

from .accuracy import normalise
from .recording import read_recording


def _decodable(path: str) -> str:
    read_recording(path)  # ValueError names the file and what is wrong with it
    return path


class AudioInputs(Inputs):
    audio_path: Annotated[str, upload_path("audio"), AfterValidator(_decodable)] = Field(
        description="The recording to transcribe (WAV, FLAC, MP3, Ogg/Opus or M4A): an upload_id from "
        "POST /api/uploads.",
        json_schema_extra=cli_flag("--audio"),
    )
    reference_text: str | None = Field(
        None,
        description="The true transcript; with it each iteration reports WER and CER.",
        json_schema_extra=cli_flag("--reference") | {"multiline": True, "text_file": True},
    )
    language: str | None = Field(
        None, pattern=r"^[a-z]{2,3}$", description="The spoken language as an ISO-639 code (en); empty: detect it.",
        json_schema_extra=cli_flag("--language"),
    )
    temperature: float = Field(
        0.0, ge=0.0, le=1.0, description="Decoding temperature, 0 to 1.", json_schema_extra=cli_flag("--temperature")
    )

    @field_validator("reference_text")
    @classmethod
    def _words_in_reference(cls, reference: str | None) -> str | None:
        if reference is not None and not normalise(reference):
            raise ValueError("the reference transcript is empty (no words once punctuation is dropped)")
        return reference
