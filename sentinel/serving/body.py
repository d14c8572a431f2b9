"""Reading a request body with a size limit, for every HTTP server Sentinel runs."""

from __future__ import annotations

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from sentinel.core.errors import ClientError

CHUNK_BYTES = 64 * 1024


def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body; a 413 ClientError when it is over `max_bytes`, declared or chunked, before reading it all."""
    too_large = ClientError(f"the request body is over the {max_bytes}-byte limit", status=413)
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    chunks, size = [], 0
    try:
        while chunk := request.stream.read(min(CHUNK_BYTES, max_bytes + 1 - size)):
            size += len(chunk)
            if size > max_bytes:
                raise too_large
            chunks.append(chunk)
    except RequestEntityTooLarge:
        raise too_large from None
    return b"".join(chunks)
