"""Reads a GGUF file's key-value metadata and tensor shapes, skipping the large arrays it does not need,
and turns them into the model facts (``read_gguf``) the embedded backend and ``llamaburn models --gguf`` show.

The ``gguf`` package's ``GGUFReader`` materialises every array, the 262,144-token vocabulary included:
8.6 s for Gemma 3 270M here. Skipping arrays by their lengths reads the same metadata in milliseconds.
Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (little-endian, version 2 and 3).
"""

from __future__ import annotations

import math
import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9

# llama.cpp's llama_ftype: general.file_type -> the quantization users know the file by.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0",
}  # fmt: skip


class GGUFError(ValueError):
    """The file is not a GGUF file this reader understands."""


@dataclass
class GGUFHeader:
    """Scalar and string metadata (arrays are recorded by length only) and the parameter count."""

    metadata: dict[str, Any] = field(default_factory=dict)
    array_lengths: dict[str, int] = field(default_factory=dict)
    parameter_count: int = 0


class _Cursor:
    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.offset = 0

    def unpack(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.data, self.offset)[0]
        self.offset += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.unpack("<Q")
        text = bytes(self.data[self.offset : self.offset + length]).decode("utf-8", errors="replace")
        self.offset += length
        return text

    def skip_array(self, element_type: int, count: int) -> None:
        if element_type == STRING:
            for _ in range(count):
                self.offset += 8 + struct.unpack_from("<Q", self.data, self.offset)[0]
        elif element_type == ARRAY:
            for _ in range(count):
                self.skip_array(self.unpack("<I"), self.unpack("<Q"))
        elif element_type in _SCALARS:
            self.offset += count * struct.calcsize(_SCALARS[element_type])
        else:
            raise GGUFError(f"unknown GGUF value type {element_type}")

    def value(self, value_type: int) -> Any:
        if value_type == STRING:
            return self.string()
        if value_type in _SCALARS:
            return self.unpack(_SCALARS[value_type])
        raise GGUFError(f"unknown GGUF value type {value_type}")


def read_header(path: Path) -> GGUFHeader:
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data[:4] != MAGIC:
            raise GGUFError(f"{path} is not a GGUF file")
        cursor = _Cursor(data)
        cursor.offset = 4
        version = cursor.unpack("<I")
        if version not in (2, 3):
            raise GGUFError(f"{path} is GGUF version {version}; versions 2 and 3 are supported")
        tensor_count, kv_count = cursor.unpack("<Q"), cursor.unpack("<Q")
        header = GGUFHeader()
        for _ in range(kv_count):
            key, value_type = cursor.string(), cursor.unpack("<I")
            if value_type == ARRAY:
                element_type, count = cursor.unpack("<I"), cursor.unpack("<Q")
                header.array_lengths[key] = count
                cursor.skip_array(element_type, count)
            else:
                header.metadata[key] = cursor.value(value_type)
        for _ in range(tensor_count):
            cursor.string()
            dimensions = [cursor.unpack("<Q") for _ in range(cursor.unpack("<I"))]
            cursor.offset += 4 + 8  # tensor type, data offset
            header.parameter_count += math.prod(dimensions)
        return header


def read_gguf(path: Path) -> dict[str, Any]:
    """The metadata a GGUF file carries about itself, as ``ModelInfo`` fields."""
    header = read_header(path)
    meta = header.metadata
    architecture = meta.get("general.architecture")
    file_type = meta.get("general.file_type")
    return {
        "parameter_size": meta.get("general.size_label") or size_label(header.parameter_count),
        "quantization": FILE_TYPES.get(file_type, f"file type {file_type}") if file_type is not None else None,
        "family": architecture,
        "format": "gguf",
        "context_length": meta.get(f"{architecture}.context_length"),
        "chat_template": "tokenizer.chat_template" in meta,
        "license": meta.get("general.license"),
    }


def size_label(parameter_count: Any) -> str | None:
    """A parameter count as people write it (``8.03B``, ``270M``); ``None`` for what is not a positive number."""
    if not isinstance(parameter_count, int | float) or parameter_count <= 0:
        return None
    for divisor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if parameter_count >= divisor:
            return f"{parameter_count / divisor:.3g}{suffix}"
    return str(parameter_count)
