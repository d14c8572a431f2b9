"""The ingress's producer: a fatal error (a fenced idempotent producer) must not leave every later event refused,
and a coroutine waits for its record's acknowledgement as a thread does."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka import KafkaError

from eventing import producer as producer_module
from eventing.producer import AckingProducer, BrokerUnavailable
from sentinel.codec.kafka import KafkaRecord

RECORD = KafkaRecord(key=b"u-1", value=b"{}", headers=[])


class FakeProducer:
    """confluent-kafka's Producer at its boundary: the first one made is fenced, later ones acknowledge."""

    made: list[FakeProducer] = []

    silent = False  # True: records are taken and never acknowledged

    def __init__(self, config: dict) -> None:
        self.fenced = not FakeProducer.made
        FakeProducer.made.append(self)

    def produce(self, topic, value, key, headers, on_delivery) -> None:
        if self.silent:
            return
        error = KafkaError(KafkaError._FATAL, "PRODUCER_FENCED", fatal=True) if self.fenced else None
        on_delivery(error, None)

    def poll(self, timeout: float) -> int:
        time.sleep(timeout)
        return 0

    def flush(self, timeout: float) -> int:
        return 0


def awaited(coroutine):
    """Run `coroutine` to its end on a loop of its own thread: this thread may already run one (the browser tests')."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


@pytest.fixture
def producer(monkeypatch):
    FakeProducer.made = []
    FakeProducer.silent = False
    monkeypatch.setattr(producer_module, "Producer", FakeProducer)
    made = AckingProducer("127.0.0.1:9", delivery_timeout_s=1, client_id="test")
    yield made
    made.close()


def test_a_fatal_error_answers_that_event_503(producer):
    with pytest.raises(BrokerUnavailable):
        producer.send("t", RECORD)


def test_after_a_fatal_error_the_next_event_goes_through_a_new_producer(producer):
    with pytest.raises(BrokerUnavailable):
        producer.send("t", RECORD)
    producer.send("t", RECORD)
    assert len(FakeProducer.made) == 2


def test_a_coroutine_gets_503_for_a_fatal_error_and_sends_the_next_event_through_a_new_producer(producer):
    with pytest.raises(BrokerUnavailable):
        awaited(producer.acknowledged("t", RECORD))
    awaited(producer.acknowledged("t", RECORD))
    assert len(FakeProducer.made) == 2


def test_a_coroutine_whose_record_is_never_acknowledged_gets_503_after_the_delivery_timeout(producer):
    FakeProducer.silent = True
    with pytest.raises(BrokerUnavailable, match="no acknowledgement"):
        awaited(producer.acknowledged("t", RECORD))
