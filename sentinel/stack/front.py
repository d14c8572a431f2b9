"""The front of one function (the part Knative's activator plays): an ASGI app that answers
the function's health probes, the autoscaler's status and the replicas' /metrics itself, and forwards every
other request to a ready replica, buffering it while the function scales from zero.

A request is never answered 2xx unless a replica answered it; when no replica is ready
in time, or the buffer is full, it gets 503 with Retry-After, which the dispatchers and
`sentinel send` retry (delivery is at-least-once, and every effect idempotent)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sentinel.serving.metrics import METRICS_PATH, metrics_response
from sentinel.stack.http_forward import ReplicaClient
from sentinel.stack.replica_pool import BufferFull, Pool, Replica
from sentinel.stack.scaler import Scaler

STATUS_PATH = "/autoscaler"
RETRY_AFTER_S = 1

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Front:
    def __init__(
        self,
        scaler: Scaler,
        probe_paths: Iterable[str],
        *,
        cold_start_timeout_s: float,
        request_timeout_s: float,
    ):
        self.scaler = scaler
        self.pool: Pool = scaler.pool
        self.probe_paths = set(probe_paths)
        self.cold_start_timeout_s = cold_start_timeout_s
        self.request_timeout_s = request_timeout_s
        self._runner: asyncio.Task[None] | None = None
        self._clients: dict[Replica, ReplicaClient] = {}

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._runner = asyncio.get_running_loop().create_task(self.scaler.run())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._runner:
                    self._runner.cancel()
                await self.scaler.stop_all()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path in self.probe_paths:
            error = self.scaler.healthy()
            document = {"healthy": error is None, "reason": error, "replicas": len(self.pool.ready)}
            await _answer(send, 200 if error is None else 503, document)
            return
        if path == STATUS_PATH:
            await _answer(send, 200, self.scaler.status())
            return
        if path == METRICS_PATH:  # every replica's, from the directory they share: no replica is woken for it
            await metrics_response()(scope, receive, send)
            return
        body = await _read_body(receive)
        arrived = time.monotonic()
        cold = not self.pool.ready and not self.pool.in_flight  # the first request after idle: a cold start
        try:
            replica = await self.pool.acquire(self.cold_start_timeout_s)
        except BufferFull:
            await _unavailable(send, f"more than {self.pool.buffer_limit} requests wait for {self.scaler.name}")
            return
        except TimeoutError:
            await _unavailable(send, f"no replica of {self.scaler.name} ready in {self.cold_start_timeout_s:.0f} s")
            return
        try:
            target = scope.get("raw_path") or path.encode()
            if scope.get("query_string"):
                target += b"?" + scope["query_string"]
            client = self._clients.setdefault(replica, ReplicaClient(replica.port))
            answer = await client.request(scope["method"], target, list(scope["headers"]), body, self.request_timeout_s)
        except (OSError, TimeoutError) as error:
            await _unavailable(send, f"the replica of {self.scaler.name} failed: {type(error).__name__}")
            return
        finally:
            self.pool.release(replica)
            self._forget_gone_replicas()
        if cold:
            self.scaler.record_cold_start(time.monotonic() - arrived)
        headers = [*answer.headers, (b"content-length", str(len(answer.body)).encode())]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": bytes(answer.body)})

    def _forget_gone_replicas(self) -> None:
        """Close the kept-alive connections to replicas drained or dead."""
        gone = [
            replica
            for replica in self._clients
            if replica not in self.pool.replicas or (not replica.routable and not replica.in_flight)
        ]
        for replica in gone:
            self._clients.pop(replica).close()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(
    send: Send, status: int, document: dict[str, Any], headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    body = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _unavailable(send: Send, reason: str) -> None:
    await _answer(send, 503, {"error": reason}, ((b"retry-after", str(RETRY_AFTER_S).encode()),))
