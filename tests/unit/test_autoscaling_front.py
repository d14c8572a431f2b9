"""The front that stands before a function's replicas, with fake replicas: small HTTP servers
in this process that take `service_s` per request and count what they answer."""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Awaitable, Callable
from typing import Any

from support import run_async

from sentinel.serving.metrics import METRICS_PATH
from sentinel.stack.front import STATUS_PATH, Front
from sentinel.stack.kpa import Kpa, KpaSettings
from sentinel.stack.replica_pool import Pool, Replica
from sentinel.stack.replica_processes import free_port
from sentinel.stack.scaler import Scaler

FAST = KpaSettings(target=1, utilisation=1.0, stable_window_s=2, panic_window_s=1, to_zero_grace_s=1, tick_s=1)


class FakeReplicas:
    def __init__(self, cold_start_s: float = 0.2, service_s: float = 0.05, *, close_after_answer: bool = False):
        self.cold_start_s = cold_start_s
        self.service_s = service_s
        self.close_after_answer = close_after_answer  # as a server whose keep-alive timeout ran out
        self.answered: collections.Counter[str] = collections.Counter()  # request body -> times answered
        self.started = 0
        self.connections = 0
        self.stopped_busy = 0  # replicas stopped while a request was in them
        self._servers: dict[Replica, asyncio.Server] = {}
        self._busy: dict[Replica, int] = {}

    async def start(self) -> Replica:
        await asyncio.sleep(self.cold_start_s)
        replica = Replica(free_port())
        self._busy[replica] = 0
        self._servers[replica] = await asyncio.start_server(
            lambda reader, writer: self._serve(replica, reader, writer), "127.0.0.1", replica.port
        )
        self.started += 1
        return replica

    def exited(self, replica: Replica) -> bool:
        return replica not in self._servers

    async def stop(self, replica: Replica) -> None:
        if self._busy[replica]:
            self.stopped_busy += 1
        server = self._servers.pop(replica)
        server.close()

    async def _serve(self, replica: Replica, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Requests one after another on the connection, kept alive, until the front closes it."""
        self.connections += 1
        while head := await _head(reader):
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
            )
            body = await reader.readexactly(length)
            self._busy[replica] += 1
            await asyncio.sleep(self.service_s)
            self.answered[body.decode()] += 1
            self._busy[replica] -= 1
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
            if self.close_after_answer:
                break
        writer.close()


async def _head(reader: asyncio.StreamReader) -> bytes:
    """A request's head, or b"" once the front has closed the connection."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionResetError):
        return b""


def _front(replicas: FakeReplicas, *, buffer_limit: int = 100, cold_start_timeout_s: float = 5.0) -> Front:
    scaler = Scaler("score", Pool(buffer_limit), replicas, Kpa(FAST))
    return Front(scaler, {"/health/readiness"}, cold_start_timeout_s=cold_start_timeout_s, request_timeout_s=5.0)


async def _call(front: Front, path: str = "/", body: bytes = b"") -> tuple[int, dict[bytes, bytes], bytes]:
    """One request through the ASGI app, as uvicorn would make it."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "headers": []}
    await front(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


def _run(test: Callable[[Front, FakeReplicas], Awaitable[None]], replicas: FakeReplicas, **options: Any) -> None:
    async def main() -> None:
        front = _front(replicas, **options)
        runner = asyncio.get_running_loop().create_task(front.scaler.run())
        try:
            await test(front, replicas)
        finally:
            runner.cancel()
            await front.scaler.stop_all()

    run_async(main())


def test_a_function_at_zero_replicas_is_healthy_idle():
    async def test(front: Front, replicas: FakeReplicas) -> None:
        status, _, body = await _call(front, "/health/readiness")
        assert status == 200 and json.loads(body)["replicas"] == 0
        assert replicas.started == 0

    _run(test, FakeReplicas())


def test_metrics_are_answered_by_the_front_without_waking_a_replica():
    async def test(front: Front, replicas: FakeReplicas) -> None:
        status, headers, body = await _call(front, METRICS_PATH)
        assert status == 200 and headers[b"content-type"].startswith(b"text/plain; version=0.0.4")
        assert b"# HELP sentinel_function_requests_total" in body
        assert replicas.started == 0

    _run(test, FakeReplicas())


def test_a_request_at_zero_is_buffered_until_a_replica_starts_and_the_cold_start_is_recorded():
    async def test(front: Front, replicas: FakeReplicas) -> None:
        status, _, body = await _call(front, body=b"first")
        assert (status, body) == (200, b"ok")
        assert replicas.answered == {"first": 1}
        cold_starts = front.scaler.status()["cold_starts"]
        assert len(cold_starts) == 1 and cold_starts[0]["seconds"] >= replicas.cold_start_s

    _run(test, FakeReplicas(cold_start_s=0.3))


def test_requests_over_the_buffer_get_503_with_retry_after_and_reach_no_replica():
    async def test(front: Front, replicas: FakeReplicas) -> None:
        answers = await asyncio.gather(*(_call(front, body=f"{n}".encode()) for n in range(5)))
        refused = [answer for answer in answers if answer[0] == 503]
        assert len(refused) == 3 and all(headers[b"retry-after"] == b"1" for _, headers, _ in refused)
        assert sum(replicas.answered.values()) == 2

    _run(test, FakeReplicas(cold_start_s=0.3), buffer_limit=2)


def test_a_cold_start_longer_than_its_timeout_gets_503_with_retry_after():
    async def test(front: Front, replicas: FakeReplicas) -> None:
        status, headers, _ = await _call(front, body=b"late")
        assert status == 503 and headers[b"retry-after"] == b"1"

    _run(test, FakeReplicas(cold_start_s=1.0), cold_start_timeout_s=0.2)


def test_a_burst_scales_up_every_request_is_answered_once_and_idle_goes_back_to_zero():
    async def test(front: Front, replicas: FakeReplicas) -> None:
        bodies = [f"event-{n}".encode() for n in range(300)]
        answers = []
        for start in range(0, len(bodies), 20):  # 20 at once for 15 rounds: about 3 s of traffic
            answers += await asyncio.gather(*(_call(front, body=body) for body in bodies[start : start + 20]))
        assert all(status == 200 for status, _, _ in answers)
        assert replicas.answered == {body.decode(): 1 for body in bodies}
        assert max(event["desired"] for event in front.scaler.status()["events"]) > 1
        assert len(front.scaler.status()["cold_starts"]) == 1  # the burst's first request, not the ones behind it
        for _ in range(100):
            if front.scaler.status()["ready"] == 0 and not front.scaler.status()["starting"]:
                break
            await asyncio.sleep(0.1)
        assert front.scaler.status()["ready"] == 0
        assert replicas.stopped_busy == 0

    _run(test, FakeReplicas(cold_start_s=0.1, service_s=0.1))


def test_a_replica_scaled_down_answers_its_requests_before_it_is_stopped():
    async def test(front: Front, replicas: FakeReplicas) -> None:
        slow = asyncio.get_running_loop().create_task(_call(front, body=b"slow"))
        await asyncio.sleep(0.3)  # the request is in the replica
        replica = front.pool.ready[0]
        drained = asyncio.get_running_loop().create_task(front.pool.drain(replica, timeout_s=5))
        await asyncio.sleep(0.1)
        assert not drained.done()  # still answering
        assert (await slow)[0] == 200
        assert await drained
        await replicas.stop(replica)
        assert replicas.stopped_busy == 0 and replicas.answered == {"slow": 1}

    _run(test, FakeReplicas(cold_start_s=0.1, service_s=1.0))


def test_requests_one_after_another_reuse_one_kept_alive_connection():
    async def test(front: Front, replicas: FakeReplicas) -> None:
        for n in range(20):
            assert (await _call(front, body=f"{n}".encode()))[0] == 200
        assert replicas.connections == 1 and sum(replicas.answered.values()) == 20

    _run(test, FakeReplicas(service_s=0.0))


def test_a_kept_alive_connection_the_replica_closed_is_replaced_and_the_request_answered_once():
    async def test(front: Front, replicas: FakeReplicas) -> None:
        for n in range(5):
            assert (await _call(front, body=f"{n}".encode()))[0] == 200
        assert replicas.answered == {f"{n}": 1 for n in range(5)}

    _run(test, FakeReplicas(service_s=0.0, close_after_answer=True))


def test_the_status_names_replicas_concurrency_and_each_scaling_event():
    async def test(front: Front, replicas: FakeReplicas) -> None:
        await _call(front, body=b"one")
        status, _, body = await _call(front, STATUS_PATH)
        document = json.loads(body)
        assert status == 200 and document["function"] == "score"
        assert {"ready", "desired", "in_flight", "stable_concurrency", "panic_concurrency", "panic"} <= set(document)
        first = document["events"][0]
        assert (first["previous"], first["desired"]) == (0, 1) and first["reason"]

    _run(test, FakeReplicas())
