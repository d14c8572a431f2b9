"""Delivering one event to a sink over HTTP, the way Knative's KafkaSource dispatcher does.

- A POST in binary content mode; the reply body is discarded.
- 2xx is success. Network errors, timeouts, 5xx, 404, 408, 409 and 429 are retried
  `retry` times with the backoff of `spec.delivery`; any other status goes straight on.
- What still failed goes to the dead-letter sink with the extensions `knativeerrordest`,
  `knativeerrorcode` and `knativeerrordata` (the last response body, at most 1024 bytes,
  base64) plus every `kne-*` response header; without a dead-letter sink it is dropped.
- A dead-letter POST that fails is retried until it succeeds or the delivery is
  cancelled, so that the caller never commits an event that went nowhere.
"""

from __future__ import annotations

import base64
import enum
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from opentelemetry.trace import SpanKind

from eventing.delivery import DeliverySpec
from sentinel.codec import http
from sentinel.codec.event import Event
from sentinel.serving import tracing
from sentinel.serving.http_client import KeepAliveClient, PostFailed

log = logging.getLogger(__name__)

ERROR_DATA_MAX_BYTES = 1024
MAX_DEAD_LETTER_BACKOFF_S = 30.0
MIN_DEAD_LETTER_BACKOFF_S = 0.1
_RETRYABLE_STATUSES = frozenset({404, 408, 409, 429})
_ERROR_HEADER_PREFIX = "kne-"

# Told of every failed POST of one event: how many attempts it has had, and what the last one met.
OnFailure = Callable[[int, str], None]


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"
    DROPPED = "dropped"  # failed, and there is no dead-letter sink
    CANCELLED = "cancelled"  # given up before an end: must not be committed

    @property
    def finished(self) -> bool:
        """Whether the event reached an end, so its offset may be committed."""
        return self is not Outcome.CANCELLED


@dataclass
class DeliveryCounters:
    """What a dispatcher has done so far; safe to update from many threads."""

    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    failed: int = 0  # dropped without a dead-letter sink, or a dead-letter POST that failed
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def attempted(self, seconds: float, *, dead_letter: bool) -> None:
        """Told how long each POST took (eventing.metrics.DeliveryMetrics records it)."""

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "delivered": self.delivered,
                "retried": self.retried,
                "dead_lettered": self.dead_lettered,
                "failed": self.failed,
            }


@dataclass(frozen=True)
class Attempt:
    """What one POST came back with: a response, or the error that stood in for one."""

    status: int | None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in _RETRYABLE_STATUSES

    def describe(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else str(self.error)


class EventSender:
    """Sends events to one sink (and its dead-letter sink) over a shared keep-alive pool."""

    def __init__(
        self,
        sink_url: str,
        dead_letter_url: str | None,
        delivery: DeliverySpec,
        *,
        namespace: str,
        concurrency: int,
        counters: DeliveryCounters,
    ) -> None:
        self.sink_url = sink_url
        self.dead_letter_url = dead_letter_url
        self.delivery = delivery
        self.counters = counters
        self._namespace = namespace
        self._clients = {
            url: KeepAliveClient(url, timeout=delivery.timeout, max_idle=max(concurrency, 1))
            for url in (sink_url, dead_letter_url)
            if url is not None
        }

    def send(self, event: Event, cancelled: threading.Event, on_failure: OnFailure | None = None) -> Outcome:
        """Deliver with retries, dead-letter what fails; CANCELLED if `cancelled` was set first.
        One span in the event's trace covers the delivery, with one child span per POST."""
        attributes = {**tracing.event_attributes([event]), "url.full": self.sink_url}
        with tracing.span("deliver", tracing.of_event(event), SpanKind.CONSUMER, attributes) as span:
            outcome = self._send(event, cancelled, on_failure or _ignore)
            span.set_attribute("sentinel.delivery.outcome", outcome.value)
            if outcome in (Outcome.DEAD_LETTERED, Outcome.DROPPED):
                tracing.failed(span, f"the event was {outcome.value.replace('_', '-')}")
            return outcome

    def _send(self, event: Event, cancelled: threading.Event, on_failure: OnFailure) -> Outcome:
        attempt = self._post(self.sink_url, event, 1)
        retries = 0
        while not attempt.succeeded and attempt.retryable and retries < self.delivery.retry:
            on_failure(retries + 1, attempt.describe())
            retries += 1
            self.counters.add("retried")
            if cancelled.wait(self.delivery.backoff(retries)):
                return Outcome.CANCELLED
            attempt = self._post(self.sink_url, event, retries + 1)
        if attempt.succeeded:
            self.counters.add("delivered")
            return Outcome.DELIVERED
        reason = f"{attempt.describe()} after {retries + 1} attempt(s)"
        return self._dead_letter(event, attempt, reason, cancelled, on_failure)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def _dead_letter(
        self, event: Event, last: Attempt, reason: str, cancelled: threading.Event, on_failure: OnFailure
    ) -> Outcome:
        if self.dead_letter_url is None:
            self.counters.add("failed")
            log.error(
                "dropped event id=%s source=%s: %s, and there is no dead-letter sink",
                event.id,
                event.attributes["source"],
                reason,
            )
            return Outcome.DROPPED
        failed_event = event.with_extensions(self._error_extensions(last))
        failures = 0
        while not (attempt := self._post(self.dead_letter_url, failed_event, failures + 1)).succeeded:
            failures += 1
            on_failure(failures, f"the dead-letter sink answered {attempt.describe()}")
            self.counters.add("failed")
            log.warning("dead-letter sink refused event id=%s (%s); retrying", event.id, attempt.describe())
            if cancelled.wait(self._dead_letter_backoff(failures)):
                return Outcome.CANCELLED
        self.counters.add("dead_lettered")
        log.error("dead-lettered event id=%s source=%s: %s", event.id, event.attributes["source"], reason)
        return Outcome.DEAD_LETTERED

    def _dead_letter_backoff(self, failures: int) -> float:
        delay = self.delivery.backoff(min(failures, 16))
        return min(max(delay, MIN_DEAD_LETTER_BACKOFF_S), MAX_DEAD_LETTER_BACKOFF_S)

    def _error_extensions(self, last: Attempt) -> dict[str, str]:
        extensions = {"knativeerrordest": self.sink_url}
        if last.status is None:
            return extensions
        extensions["knativeerrorcode"] = str(last.status)
        for name, value in last.headers.items():
            if name.lower().startswith(_ERROR_HEADER_PREFIX):
                extension = re.sub(r"[^a-z0-9]", "", name[len(_ERROR_HEADER_PREFIX) :].lower())
                if extension:
                    extensions[extension] = value
        if last.body:
            extensions["knativeerrordata"] = base64.b64encode(last.body[:ERROR_DATA_MAX_BYTES]).decode()
        return extensions

    def _post(self, url: str, event: Event, number: int) -> Attempt:
        """The `number`th POST of `event` to `url`, in a span of its own."""
        with tracing.span(
            "POST", None, SpanKind.CLIENT, {"url.full": url, "http.request.resend_count": number - 1}
        ) as span:
            attempt = self._attempt(url, event)
            if attempt.status is not None:
                span.set_attribute(tracing.STATUS_CODE, attempt.status)
            if not attempt.succeeded:
                tracing.failed(span, attempt.describe())
            return attempt

    def _attempt(self, url: str, event: Event) -> Attempt:
        headers, body = http.binary(event)
        headers.update(tracing.headers())
        headers["Prefer"] = "reply"
        headers["Kn-Namespace"] = self._namespace
        started = time.perf_counter()
        try:
            reply = self._clients[url].post(body, headers)
        except PostFailed as error:
            if error.timed_out:
                return Attempt(status=None, error=f"no response within {self.delivery.timeout:g} s")
            return Attempt(status=None, error=str(error))
        finally:
            self.counters.attempted(time.perf_counter() - started, dead_letter=url != self.sink_url)
        if 200 <= reply.status < 300:
            return Attempt(status=reply.status)
        return Attempt(status=reply.status, body=reply.body[:ERROR_DATA_MAX_BYTES], headers=reply.headers)


def _ignore(attempts: int, error: str) -> None:
    """The OnFailure of a caller that does not watch attempts."""
