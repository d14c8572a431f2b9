"""Reading an ASGI request's body with a size limit: the functions' and the KafkaSink ingress's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from sentinel.core.errors import ClientError


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
