"""Reading a request body with a size limit, for every HTTP server Sentinel runs:
from a WSGI request (the UI, the KafkaSink ingress) or from an ASGI stream (the functions)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from sentinel.core.errors import ClientError

CHUNK_BYTES = 64 * 1024


def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body; a 413 ClientError when it is over `max_bytes`, declared or chunked, before reading it all."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise _too_large(max_bytes)
    stream = request.stream
    chunks, size = [], 0
    try:
        while chunk := stream.read(CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            chunks.append(chunk)
    except RequestEntityTooLarge:
        raise _too_large(max_bytes) from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_streamed_body(headers: Mapping[str, str], chunks: AsyncIterator[bytes], max_bytes: int) -> bytes:
    """The whole body of an ASGI request; a 413 ClientError as soon as it is over `max_bytes`,
    declared (Content-Length, which the server has checked is a number) or streamed."""
    declared = headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    received, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        received.append(chunk)
    return received[0] if len(received) == 1 else b"".join(received)


def _too_large(max_bytes: int) -> ClientError:
    return ClientError(f"the request body is over the {max_bytes}-byte limit", status=413)
