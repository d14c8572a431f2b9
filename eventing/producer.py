"""A Kafka producer that many requests share, each waiting for its own record's ack.

One producer per process lets concurrent requests batch together; a background
thread serves the delivery callbacks, and each caller waits only on its own future:
a thread blocks in `send`, a coroutine awaits `acknowledged` without holding a thread.
An idempotent producer that meets a fatal error (the local broker fences it after
one timed-out request) refuses every later record, so it is replaced by a new one:
that request is answered 503 and the next is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from eventing.kafka_clients import producer_config
from sentinel.codec.kafka import KafkaRecord
from sentinel.core.errors import ClientError, Unavailable

log = logging.getLogger(__name__)

HEALTH_CACHE_S = 1.0
_TOO_LARGE = frozenset({KafkaError.MSG_SIZE_TOO_LARGE})


class BrokerUnavailable(Unavailable):
    """The record was not acknowledged, for now: the broker is down, slow, or busy (503: send it again)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the broker did not acknowledge the event: {reason}", retry_after=1)


class RecordTooLarge(ClientError):
    """The record is larger than the broker accepts; sending it again will not help (413)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the broker refused the event as too large: {reason}", status=413)


def _refusal(error: KafkaError) -> Exception:
    if error.code() in _TOO_LARGE:
        return RecordTooLarge(error.str())
    return BrokerUnavailable(error.str())


class AckingProducer:
    def __init__(self, bootstrap_servers: str, *, delivery_timeout_s: float, client_id: str) -> None:
        self._config = producer_config(bootstrap_servers, delivery_timeout_s=delivery_timeout_s, client_id=client_id)
        self._producer = Producer(self._config)
        self._renew_lock = threading.Lock()
        self._ack_timeout_s = delivery_timeout_s + 1.0
        self._stopping = threading.Event()
        self._health_lock = threading.Lock()
        self._health: tuple[float, bool] = (0.0, False)
        self._poller = threading.Thread(target=self._serve_callbacks, name="producer-callbacks", daemon=True)
        self._poller.start()

    def send(self, topic: str, record: KafkaRecord) -> None:
        """Produce the record and return once the broker acknowledged it; else raise why not."""
        acked: Future[KafkaError | None] = Future()
        producer = self._produce(topic, record, acked.set_result)
        try:
            error = acked.result(timeout=self._ack_timeout_s)
        except FutureTimeout:
            raise BrokerUnavailable(f"no acknowledgement within {self._ack_timeout_s:g} s") from None
        self._raise_refusal(producer, error)

    async def acknowledged(self, topic: str, record: KafkaRecord) -> None:
        """`send` for a coroutine: the event loop goes on serving while the broker acknowledges."""
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[KafkaError | None] = loop.create_future()

        def on_delivery(error: KafkaError | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: no one is waiting any more
                loop.call_soon_threadsafe(_settle, acked, error)

        producer = self._produce(topic, record, on_delivery)
        try:
            error = await asyncio.wait_for(acked, self._ack_timeout_s)
        except TimeoutError:
            raise BrokerUnavailable(f"no acknowledgement within {self._ack_timeout_s:g} s") from None
        self._raise_refusal(producer, error)

    def _produce(self, topic: str, record: KafkaRecord, acked: Callable[[KafkaError | None], object]) -> Producer:
        """Hand the record to the producer, which calls `acked` from the callback thread; returns that producer."""

        def on_delivery(error: KafkaError | None, _message: Message) -> None:
            acked(error)

        producer = self._producer
        try:
            producer.produce(topic, value=record.value, key=record.key, headers=record.headers, on_delivery=on_delivery)
        except BufferError:
            raise BrokerUnavailable("too many records are waiting for the broker") from None
        except KafkaException as error:
            self._renew_if_fatal(producer, error.args[0])
            raise _refusal(error.args[0]) from None
        return producer

    def _raise_refusal(self, producer: Producer, error: KafkaError | None) -> None:
        if error is not None:
            self._renew_if_fatal(producer, error)
            raise _refusal(error)

    def _renew_if_fatal(self, producer: Producer, error: KafkaError) -> None:
        """Replace `producer` when `error` leaves it refusing every later record (once, however many saw it)."""
        if not (error.fatal() or error.code() == KafkaError._FATAL):
            return
        with self._renew_lock:
            if self._producer is producer:
                log.warning("the producer met a fatal error (%s): starting a new one", error.str())
                self._producer = Producer(self._config)

    def reachable(self) -> bool:
        """Whether the broker answered a metadata request lately (cached for a second)."""
        with self._health_lock:
            checked_at, healthy = self._health
            if time.monotonic() - checked_at < HEALTH_CACHE_S:
                return healthy
            try:
                self._producer.list_topics(timeout=1.0)
                healthy = True
            except KafkaException:
                healthy = False
            self._health = (time.monotonic(), healthy)
            return healthy

    def close(self, timeout_s: float = 10.0) -> int:
        """Wait for records still on their way; returns how many were not acknowledged in time."""
        self._stopping.set()
        self._poller.join()
        return self._producer.flush(timeout_s)

    def _serve_callbacks(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.05)


def _settle(acked: asyncio.Future[KafkaError | None], error: KafkaError | None) -> None:
    if not acked.done():  # a request whose wait timed out has stopped listening
        acked.set_result(error)
