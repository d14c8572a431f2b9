"""POSTing to one HTTP origin over keep-alive connections, on the standard library's http.client.

Every event crosses several HTTP hops (a function's emit to K_SINK, a dispatcher's
delivery), so the client's own cost is paid per event, per hop. `requests` spends
more CPU on each POST than the function spends on its work: it merges proxy
settings from the environment, looks for a netrc file, builds a pool key and
prepares a request object every time. This client keeps a stack of idle
connections and writes the request directly (BENCHMARKS.md has the profiles).

A keep-alive connection that the server closed while it was idle is noticed before
reuse (it reads as ready: EOF), and a request on one that the server closed at that
very moment is sent once more on a fresh connection. That can deliver a POST twice,
which at-least-once delivery allows and every effect in Sentinel is idempotent for.
"""

from __future__ import annotations

import http.client
import select
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Errors that mean a reused connection was already closed by the server: nothing was processed.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


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
        self._connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._host = parts.hostname
        self._port = parts.port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._max_idle = max_idle
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def post(self, body: bytes | None, headers: Mapping[str, str]) -> Reply:
        """The server's reply to one POST; raises PostFailed when there is none."""
        connection, reused = self._checkout()
        try:
            reply = self._exchange(connection, body, headers)
        except _STALE as error:
            connection.close()
            if not reused:
                raise PostFailed(f"{type(error).__name__}: {error}", timed_out=False) from None
            connection = self._connect()
            reply = self._exchange_or_fail(connection, body, headers)
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise _failure(error) from None
        self._checkin(connection)
        return reply

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _exchange_or_fail(
        self, connection: http.client.HTTPConnection, body: bytes | None, headers: Mapping[str, str]
    ) -> Reply:
        try:
            return self._exchange(connection, body, headers)
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise _failure(error) from None

    def _exchange(
        self, connection: http.client.HTTPConnection, body: bytes | None, headers: Mapping[str, str]
    ) -> Reply:
        connection.request("POST", self._target, body=body, headers=dict(headers))
        response = connection.getresponse()
        content = response.read()
        if response.will_close:
            connection.close()
        if 200 <= response.status < 300:
            return Reply(response.status, content)
        return Reply(response.status, content, dict(response.getheaders()))

    def _checkout(self) -> tuple[http.client.HTTPConnection, bool]:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._connect(), False
            if _still_open(connection):
                return connection, True
            connection.close()

    def _checkin(self, connection: http.client.HTTPConnection) -> None:
        if connection.sock is None:  # closed: the server said Connection: close
            return
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(connection)
                return
        connection.close()

    def _connect(self) -> http.client.HTTPConnection:
        return self._connection_class(self._host, self._port, timeout=self._timeout)


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive connection has nothing to read; if it has, the server closed it (EOF)."""
    if connection.sock is None:
        return False
    try:
        readable, _, _ = select.select([connection.sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _failure(error: BaseException) -> PostFailed:
    timed_out = isinstance(error, TimeoutError)
    return PostFailed(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__, timed_out=timed_out)
