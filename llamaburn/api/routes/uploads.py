"""Uploads: a file for a file-based modality, stored under a server-made name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from starlette.requests import ClientDisconnect

from llamaburn.api.deps import get_uploads
from llamaburn.api.errors import Problem, invalid
from llamaburn.api.multipart import MULTIPART_OVERHEAD_BYTES, FilePart
from llamaburn.api.routes import router
from llamaburn.api.schemas import UploadOut
from llamaburn.storage.uploads import Kind, Uploads, UploadTooLargeError, UploadTypeError, too_large

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
