"""Reading multipart uploads of BPMN/DMN/form files within the configured size limit."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import UploadFile

from api.errors import ApiError

CHUNK = 64 * 1024


def read_files(files: list[UploadFile], *, max_bytes: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of every uploaded file; 413 once their total exceeds `max_bytes`."""
    read: list[tuple[str, bytes]] = []
    total = 0
    for upload in files:
        parts: list[bytes] = []
        # Read in chunks so an oversized upload is refused without holding all of it.
        while chunk := upload.file.read(CHUNK):
            total += len(chunk)
            if total > max_bytes:
                raise ApiError(
                    413,
                    "payload_too_large",
                    f"The uploaded files exceed {max_bytes} bytes",
                )
            parts.append(chunk)
        read.append((upload.filename or "upload", b"".join(parts)))
    return read


def upload_fingerprint(files: list[tuple[str, bytes]]) -> list[Any]:
    """What identifies an upload for Idempotency-Key: names and content hashes, in order."""
    return [[name, hashlib.sha256(content).hexdigest()] for name, content in files]
