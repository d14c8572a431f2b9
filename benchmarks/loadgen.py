"""A small HTTP/1.1 load generator on asyncio: open loop at a fixed rate, or closed loop as fast as it can.

Requests are raw bytes built before the run, sent over keep-alive connections, so
the generator spends a few tens of microseconds a request and leaves the cores to
what is measured. In the open loop each request has a scheduled send time and its
latency is counted from then, so a server that falls behind is charged for the
queue it causes (no coordinated omission).

A server that sheds load (429 or 503 with Retry-After) is obeyed as a well-behaved
client would: nothing is sent until the wait is over, and the requests that fell due
meanwhile are counted as shed, not sent. A refusal's latency is counted from the
moment it was written, since the point of a refusal is to come back at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

Request = Callable[[int], bytes]  # the i-th request, ready to write
SHEDDING_STATUSES = frozenset({429, 503})


@dataclass
class LoadResult:
    sent: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    succeeded_indexes: list[int] = field(default_factory=list)
    refusal_latencies: list[float] = field(default_factory=list)  # seconds from write to a Retry-After answer
    shed: int = 0  # fell due while the server had asked to wait, so never sent

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def succeeded(self, ok: Callable[[int], bool] = lambda status: 200 <= status < 300) -> int:
        return sum(count for status, count in self.statuses.items() if ok(status))


def http_request(host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """A complete keep-alive POST, ready to write to a socket."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def open_loop(host: str, port: int, request: Request, *, rate: float, seconds: float, connections: int) -> LoadResult:
    """Send `rate` requests a second for `seconds`, over up to `connections` connections."""
    total = int(rate * seconds)
    return asyncio.run(_run(host, port, request, total=total, rate=rate, seconds=seconds, connections=connections))


def closed_loop(host: str, port: int, request: Request, *, seconds: float, connections: int) -> LoadResult:
    """Keep `connections` requests in flight for `seconds`."""
    return asyncio.run(_run(host, port, request, total=None, rate=None, seconds=seconds, connections=connections))


async def _run(
    host: str, port: int, request: Request, *, total: int | None, rate: float | None, seconds: float, connections: int
) -> LoadResult:
    result = LoadResult()
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    started = time.perf_counter()
    deadline = started + seconds
    counter = iter(range(10**12))
    paused_until = 0.0  # perf_counter time before which the server asked not to send

    async def schedule() -> None:
        assert total is not None and rate is not None
        for index in range(total):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0.001:
                await asyncio.sleep(delay)
            queue.put_nowait((index, due))
        for _ in range(connections):
            queue.put_nowait(None)

    async def next_job() -> tuple[int, float] | None:
        while True:
            if total is not None:
                job = await queue.get()
            else:
                now = time.perf_counter()
                if now < paused_until:
                    await asyncio.sleep(paused_until - now)
                    continue
                job = (next(counter), now) if now < deadline else None
            if job is None or job[1] >= paused_until:
                return job
            result.shed += 1

    async def worker() -> None:
        nonlocal paused_until
        reader = writer = None
        while (job := await next_job()) is not None:
            index, due = job
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                written = time.perf_counter()
                writer.write(request(index))
                status, keep_alive, retry_after = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                result.sent += 1
                result.errors[type(error).__name__] += 1
                writer = _close(writer)
                continue
            result.sent += 1
            result.statuses[status] += 1
            if 200 <= status < 300:
                result.latencies.append(time.perf_counter() - due)
                result.succeeded_indexes.append(index)
            elif retry_after is not None:
                answered = time.perf_counter()
                result.refusal_latencies.append(answered - written)
                paused_until = max(paused_until, answered + retry_after)
            if not keep_alive:
                writer = _close(writer)
        _close(writer)

    tasks = [asyncio.create_task(worker()) for _ in range(connections)]
    if total is not None:
        tasks.append(asyncio.create_task(schedule()))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - started
    return result


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, float | None]:
    """The status of one response, whether the connection stays open, and the seconds a
    shedding answer (429 or 503) asks to wait (its Retry-After); reads its whole body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, keep_alive, chunked, retry_after = 0, True, False, None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            keep_alive = value != "close"
        elif name == "transfer-encoding":
            chunked = "chunked" in value
        elif name == "retry-after" and status in SHEDDING_STATUSES:
            retry_after = float(value)
    if chunked:
        while (size := int((await reader.readuntil(b"\r\n")).strip(), 16)) > 0:
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    elif length:
        await reader.readexactly(length)
    return status, keep_alive, retry_after


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()
    return None
