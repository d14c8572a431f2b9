"""HTTP/1.1 requests to one replica on 127.0.0.1, each answered whole: the front's client.

Connections are kept alive and reused, as the queue-proxy keeps them to its pod: a new
connection for every request would cost a handshake each and, at hundreds a second,
leave thousands of sockets waiting out TIME_WAIT."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httptools

HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"proxy-connection"}
IDLE_REUSE_S = 2.0  # under uvicorn's 5 s keep-alive timeout, so the replica never closes one as it is reused
MAX_IDLE = 64


@dataclass
class Answer:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    complete: bool = False
    received: bool = False  # any byte of it arrived
    keep_alive: bool = True  # HTTP/1.1's default, unless the answer says `connection: close`

    # httptools' parser callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"connection":
            self.keep_alive = b"close" not in value.lower()
        if name.lower() not in HOP_BY_HOP and name.lower() != b"content-length":
            self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


class StaleConnection(ConnectionError):
    """A kept-alive connection the replica had closed: nothing of the request was answered."""


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0


class ReplicaClient:
    """Requests to the replica on `port`, over kept-alive connections."""

    def __init__(self, port: int):
        self.port = port
        self._idle: list[_Connection] = []

    async def request(
        self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes, timeout_s: float
    ) -> Answer:
        """The whole answer. Raises OSError (or TimeoutError) when the replica cannot be reached or does not answer.

        A request sent on an idle connection the replica had closed is sent again on a new one:
        the replica never read it."""
        while self._idle:
            connection = self._idle.pop()
            if time.monotonic() - connection.idle_since > IDLE_REUSE_S or connection.reader.at_eof():
                connection.writer.close()
                continue
            try:
                return await self._exchange(connection, method, target, headers, body, timeout_s)
            except StaleConnection:
                continue
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), timeout_s)
        return await self._exchange(_Connection(reader, writer), method, target, headers, body, timeout_s)

    def close(self) -> None:
        for connection in self._idle:
            connection.writer.close()
        self._idle.clear()

    async def _exchange(
        self,
        connection: _Connection,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeout_s: float,
    ) -> Answer:
        reusable = False
        try:
            try:
                connection.writer.write(_request_bytes(self.port, method, target, headers, body))
                await connection.writer.drain()
            except (ConnectionResetError, BrokenPipeError) as error:
                raise StaleConnection("the replica had closed the connection") from error
            answer = await asyncio.wait_for(_read_answer(connection.reader), timeout_s)
            reusable = answer.keep_alive and len(self._idle) < MAX_IDLE
            return answer
        finally:
            if reusable:
                connection.idle_since = time.monotonic()
                self._idle.append(connection)
            else:
                connection.writer.close()


def _request_bytes(port: int, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    head = [f"{method} ".encode() + target + b" HTTP/1.1", f"host: 127.0.0.1:{port}".encode()]
    for name, value in headers:
        if name.lower() not in HOP_BY_HOP and name.lower() not in (b"host", b"content-length"):
            head.append(name + b": " + value)
    head += [f"content-length: {len(body)}".encode(), b"", b""]
    return b"\r\n".join(head) + body


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    answer = Answer()
    parser = httptools.HttpResponseParser(answer)
    while not answer.complete:
        try:
            data = await reader.read(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            if not answer.received:
                raise StaleConnection("the replica closed the connection before answering")
            raise ConnectionResetError("the replica closed the connection in the middle of its answer")
        answer.received = True
        parser.feed_data(data)
    answer.status = parser.get_status_code()
    answer.keep_alive = answer.keep_alive and parser.get_http_version() == "1.1"
    return answer


async def forward(
    port: int, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes, timeout_s: float
) -> Answer:
    """One request on a connection of its own (a readiness probe)."""
    client = ReplicaClient(port)
    try:
        return await client.request(method, target, headers, body, timeout_s)
    finally:
        client.close()
