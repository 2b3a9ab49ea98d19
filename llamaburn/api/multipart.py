"""The ``file`` part of a multipart upload, streamed to the store as the body arrives.

Why python-multipart's push parser and not Starlette's ``request.form()``: Starlette's ``max_part_size``
bounds only the non-file fields, and it spools each file to a temporary file in the system's temp
directory before the route sees a byte (checked in Starlette 1.10's ``formparsers.py``; Kludex/starlette
#2718 asks for a file limit and was closed without one). An upload would then be written twice, once
outside the data directory, and an endless body would be read to the body limit, not refused at the file
limit. Here the parser's callbacks hand the ``file`` part's bytes to ``Uploads.receive``, which counts them
and stops at the limit; only the part headers are collected, as python-multipart's own ``FormParser`` does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator

from fastapi import HTTPException, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from llamaburn.api.errors import invalid
from llamaburn.storage.uploads import too_large

MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries, part headers and small fields around an upload's bytes
FILE_FIELD = b"file"


class FilePart:
    """The first ``file`` part of a request's multipart body. A body that cannot fit ``max_bytes`` of file
    is refused as it passes that size (plus the overhead), not after it all arrived."""

    def __init__(self, request: Request, max_bytes: int) -> None:
        content_type, params = parse_options_header(request.headers.get("content-type", ""))
        if content_type != b"multipart/form-data" or not params.get(b"boundary"):
            raise invalid("body", "file", "send the file as multipart/form-data, in a field named 'file'")
        self.filename = ""
        self._body = aiter(request.stream())
        self._max_bytes = max_bytes
        self._received = 0
        self._pending: deque[bytes] = deque()
        self._headers: dict[bytes, bytes] = {}
        self._name = self._value = b""
        self._found = self._reading = self._done = False
        self._parser = MultipartParser(
            params[b"boundary"],
            {
                "on_part_begin": self._headers.clear,
                "on_header_field": self._header_name,
                "on_header_value": self._header_value,
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
        if self._received > self._max_bytes + MULTIPART_OVERHEAD_BYTES:
            raise too_large(self._max_bytes)
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise HTTPException(400, f"the multipart body is malformed: {exc}") from None
        return True

    def _header_name(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._name.lower()] = self._value
        self._name = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._reading = not self._found and options.get(b"name") == FILE_FIELD
        if self._reading:
            self._found = True
            self.filename = options.get(b"filename", b"").decode("utf-8", "replace")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._reading:
            self._pending.append(bytes(data[start:end]))

    def _end(self) -> None:
        if self._reading:
            self._reading, self._done = False, True
