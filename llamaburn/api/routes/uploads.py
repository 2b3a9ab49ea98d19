"""Uploads: a file for a file-based modality, stored under a server-made name."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from llamaburn.api.deps import get_uploads
from llamaburn.api.errors import Problem, invalid
from llamaburn.api.routes import router
from llamaburn.api.schemas import (
    UploadOut,
)
from llamaburn.storage.uploads import Kind, Uploads, UploadTooLargeError, UploadTypeError, too_large

MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries, part headers and small fields around an upload's bytes


class FilePart:
    """The ``file`` part of a multipart body, read as the body streams in: the upload is never held in memory
    whole, and a body that cannot fit ``max_bytes`` of file is refused at that point, not after it all arrived."""

    def __init__(self, request: Request, max_bytes: int) -> None:
        content_type, params = parse_options_header(request.headers.get("content-type", ""))
        if content_type != b"multipart/form-data" or not params.get(b"boundary"):
            raise invalid("body", "file", "send the file as multipart/form-data, in a field named 'file'")
        self.filename = ""
        self._body = aiter(request.stream())
        self._max_bytes = max_bytes
        self._max_body_bytes = max_bytes + MULTIPART_OVERHEAD_BYTES
        self._received = 0
        self._pending: deque[bytes] = deque()
        self._header_field = self._header_value = self._disposition = b""
        self._found = self._reading = self._done = False
        self._parser = MultipartParser(
            params[b"boundary"],
            {
                "on_part_begin": self._begin,
                "on_header_field": self._field,
                "on_header_value": self._value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._data,
                "on_part_end": self._end,
            },
        )

    async def find(self) -> bool:
        """Read until the ``file`` part's headers; False if the body has none."""
        while not self._found:
            if not await self._feed():
                return False
        return True

    async def chunks(self) -> AsyncIterator[bytes]:
        """The ``file`` part's bytes, as they arrive."""
        while True:
            while self._pending:
                yield self._pending.popleft()
            if self._done:
                return
            if not await self._feed():
                raise HTTPException(400, "the multipart body ended inside the file")

    async def _feed(self) -> bool:
        chunk = await anext(self._body, b"")
        if not chunk:
            return False
        self._received += len(chunk)
        if self._received > self._max_body_bytes:
            raise too_large(self._max_bytes)
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise HTTPException(400, f"the multipart body is malformed: {exc}") from None
        return True

    def _begin(self) -> None:
        self._disposition = b""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_field.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._reading = not self._found and options.get(b"name") == b"file"  # the first "file" part only
        if self._reading:
            self._found = True
            self.filename = options.get(b"filename", b"").decode("utf-8", "replace")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._reading:
            self._pending.append(bytes(data[start:end]))

    def _end(self) -> None:
        if self._reading:
            self._reading, self._done = False, True


UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary", "description": "The file."}},
            }
        }
    },
}
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The multipart body is malformed."},
    413: {"model": Problem, "description": "The file is larger than the limit (64 MiB by default)."},
    415: {"model": Problem, "description": "The file's content is none of the kind's formats."},
    507: {"model": Problem, "description": "The data directory is full or not writable."},
}


@router.post(
    "/uploads",
    status_code=201,
    response_model=UploadOut,
    responses=UPLOAD_RESPONSES,
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def upload_file(
    request: Request,
    uploads: Annotated[Uploads, Depends(get_uploads)],
    kind: Annotated[Kind, Query(description="The modality the file is for; its formats are checked by content.")],
) -> UploadOut:
    """Store a file for a file-based modality under a server-made name; the answer's ``upload_id`` is what the
    modality's file field takes. The size limit applies as the body streams in."""
    try:
        declared = int(request.headers.get("content-length", "0"))
    except ValueError:
        declared = 0
    try:
        if declared > uploads.max_bytes + MULTIPART_OVERHEAD_BYTES:  # refused before a byte of the body is read
            raise too_large(uploads.max_bytes)
        part = FilePart(request, uploads.max_bytes)
        if not await part.find():
            raise invalid("body", "file", "no field named 'file' in the multipart body")
        upload = await uploads.receive(kind, part.filename, part.chunks())
    except UploadTooLargeError as exc:
        raise HTTPException(413, str(exc)) from None
    except UploadTypeError as exc:
        raise HTTPException(415, str(exc)) from None
    except ClientDisconnect:  # nobody is left to read the answer; nothing was kept
        raise HTTPException(400, "the client disconnected during the upload") from None
    except OSError as exc:  # the data directory is full or not writable
        raise HTTPException(507, f"cannot store the upload in {uploads.directory}: {exc.strerror or exc}") from None
    return UploadOut(upload_id=upload.upload_id, kind=upload.kind, size=upload.size, media_type=upload.media_type)
