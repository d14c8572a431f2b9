"""POSTing to one HTTP origin over keep-alive HTTP/1.1 connections, on plain sockets.

Every event crosses several HTTP hops (a function's emit to K_SINK, a dispatcher's
delivery), so the client's own cost is paid per event, per hop. `requests` spent
more CPU on each POST than score spends on its work (proxy and netrc lookups in
the environment, pool keys, request preparation), and http.client still spent 40 %
of a dispatcher's CPU parsing response headers with the email package. This
client writes the request in one send and reads the reply with a buffered reader,
looking only at the headers that frame the body (docs/benchmarks.md has the profiles).

A keep-alive connection that the server closed while it was idle is noticed before
reuse (it reads as ready: EOF), and a request on one that the server closed at that
very moment is sent once more on a fresh connection. That can deliver a POST twice,
which at-least-once delivery allows and every effect in Sentinel is idempotent for.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import urlsplit

MAX_HEAD_LINE = 65536


class _ClosedBeforeReply(ConnectionResetError):
    """The server closed the connection before answering: it did not process the request."""


# Errors that mean a reused connection was already closed by the server: nothing was processed.
_STALE = (_ClosedBeforeReply, BrokenPipeError, ConnectionResetError)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class PostFailed(Exception):
    """No reply: the connection failed or the server did not answer within the timeout."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class KeepAliveClient:
    """POSTs to one URL; safe to share between threads, each request takes its own connection."""

    def __init__(self, url: str, *, timeout: float, max_idle: int = 16) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._host = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._request_line = f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        self._timeout = timeout
        self._max_idle = max_idle
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    def post(self, body: bytes | None, headers: Mapping[str, str]) -> Reply:
        """The server's reply to one POST; raises PostFailed when there is none."""
        request = self._encode(body or b"", headers)
        connection, reused = self._checkout()
        try:
            reply = connection.exchange(request)
        except _STALE as error:
            connection.close()
            if not reused:
                raise _failure(error) from None
            reply = self._exchange_on_new_connection(request)
        except OSError as error:
            connection.close()
            raise _failure(error) from None
        self._checkin(connection)
        return reply

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _encode(self, body: bytes, headers: Mapping[str, str]) -> bytes:
        lines = [self._request_line, f"Content-Length: {len(body)}\r\n"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"header {name!r} holds a line break")
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1") + body

    def _exchange_on_new_connection(self, request: bytes) -> Reply:
        connection = None
        try:
            connection = self._connect()
            reply = connection.exchange(request)
        except OSError as error:
            if connection is not None:
                connection.close()
            raise _failure(error) from None
        self._checkin(connection)
        return reply

    def _checkout(self) -> tuple[_Connection, bool]:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                try:
                    return self._connect(), False
                except OSError as error:
                    raise _failure(error) from None
            if connection.still_open():
                return connection, True
            connection.close()

    def _checkin(self, connection: _Connection) -> None:
        if not connection.reusable:
            connection.close()
            return
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(connection)
                return
        connection.close()

    def _connect(self) -> _Connection:
        return _Connection(self._host, self._port, self._timeout, self._tls)


class _Connection:
    """One socket and its buffered reader; one request at a time."""

    def __init__(self, host: str, port: int, timeout: float, tls: ssl.SSLContext | None) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = tls.wrap_socket(sock, server_hostname=host) if tls else sock
        self.reader: BinaryIO = self.sock.makefile("rb")
        self.reusable = True

    def exchange(self, request: bytes) -> Reply:
        self.sock.sendall(request)
        status_line = self.reader.readline(MAX_HEAD_LINE)
        if not status_line:
            raise _ClosedBeforeReply("the server closed the connection before answering")
        try:
            status = int(status_line.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise ConnectionError(f"not an HTTP status line: {status_line[:80]!r}") from None
        headers: dict[str, str] = {}
        while (line := self.reader.readline(MAX_HEAD_LINE)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self._body(status, headers)
        if headers.get("connection", "").lower() == "close":
            self.reusable = False
        if 200 <= status < 300:
            return Reply(status, body)
        return Reply(status, body, headers)

    def _body(self, status: int, headers: dict[str, str]) -> bytes:
        if status in (204, 304) or 100 <= status < 200:
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while (size := int(self.reader.readline(MAX_HEAD_LINE).split(b";")[0].strip() or b"0", 16)) > 0:
                chunks.append(self._read_exactly(size))
                self.reader.readline(MAX_HEAD_LINE)
            while self.reader.readline(MAX_HEAD_LINE) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        if "content-length" in headers:
            return self._read_exactly(int(headers["content-length"]))
        self.reusable = False  # the body runs until the server closes the connection
        return self.reader.read()

    def _read_exactly(self, size: int) -> bytes:
        data = self.reader.read(size)
        if len(data) < size:
            raise ConnectionResetError("the connection closed in the middle of the reply")
        return data

    def still_open(self) -> bool:
        """An idle keep-alive connection has nothing to read; if it has, the server closed it (EOF)."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def _failure(error: BaseException) -> PostFailed:
    timed_out = isinstance(error, TimeoutError)
    return PostFailed(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__, timed_out=timed_out)
