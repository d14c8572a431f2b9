"""Emitting CloudEvents to K_SINK, the address a SinkBinding injects.

In the cluster K_SINK is a KafkaSink; locally it is the KafkaSink-style ingress.
Either answers 202 once the record is in Kafka, so a successful `emit` means the
event is durable. Anything else raises Unavailable: the caller answers 503 and its
sender retries.
"""

from __future__ import annotations

from typing import Protocol

from sentinel.codec import http
from sentinel.codec.event import Event
from sentinel.core.errors import Unavailable
from sentinel.serving import tracing
from sentinel.serving.http_client import KeepAliveClient, PostFailed


class Sink(Protocol):
    """Where a function emits its events: SinkClient, or a stand-in in a test."""

    def emit(self, event: Event) -> None: ...
    def close(self) -> None: ...


class SinkClient:
    def __init__(self, url: str, *, timeout: float = 10.0, pool_size: int = 16):
        self.url = url
        self._client = KeepAliveClient(url, timeout=timeout, max_idle=pool_size)

    def emit(self, event: Event) -> None:
        headers, body = http.binary(event)
        headers.update(tracing.headers())
        try:
            reply = self._client.post(body, headers)
        except PostFailed as error:
            raise Unavailable(f"the event sink (K_SINK) is unavailable: {error}") from None
        if not 200 <= reply.status < 300:
            raise Unavailable(
                f"the event sink answered {reply.status} for event {event.id}: "
                f"{reply.body[:200].decode('utf-8', 'replace')}"
            )

    def close(self) -> None:
        self._client.close()
