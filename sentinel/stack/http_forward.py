"""One HTTP/1.1 request to a replica on 127.0.0.1, answered whole: the front's client."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httptools

HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"proxy-connection"}


@dataclass
class Answer:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    complete: bool = False

    # httptools' parser callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() not in HOP_BY_HOP and name.lower() != b"content-length":
            self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


async def forward(
    port: int, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes, timeout_s: float
) -> Answer:
    """Send the request on a fresh connection (closed after the answer) and read the whole answer.

    Raises OSError (or asyncio.TimeoutError) when the replica cannot be reached or does not answer."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout_s)
    try:
        head = [f"{method} ".encode() + target + b" HTTP/1.1", f"host: 127.0.0.1:{port}".encode()]
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() not in (b"host", b"content-length"):
                head.append(name + b": " + value)
        head += [f"content-length: {len(body)}".encode(), b"connection: close", b"", b""]
        writer.write(b"\r\n".join(head) + body)
        await writer.drain()
        return await asyncio.wait_for(_read_answer(reader), timeout_s)
    finally:
        writer.close()


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    answer = Answer()
    parser = httptools.HttpResponseParser(answer)
    while not answer.complete:
        data = await reader.read(65536)
        if not data:
            raise ConnectionResetError("the replica closed the connection before answering")
        parser.feed_data(data)
    answer.status = parser.get_status_code()
    return answer
