"""KafkaLog: the PartitionLog dead letters are read and replayed through, on a broker reached by confluent-kafka."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from eventing.dead_letters.errors import BrokerUnreachable, DeadLetterError
from eventing.kafka_clients import consumer_config
from eventing.offsets import fetched_end_offset, fetched_start_offset
from eventing.producer import AckingProducer
from sentinel.codec.kafka import ConsumedRecord, KafkaRecord
from sentinel.core.errors import Unavailable

READER_GROUP = "sentinel-dlq-reader"  # named because the client needs one; never joined, never committed
DEFAULT_TIMEOUT_S = 5.0  # for each request to the broker
# A KafkaLog lives for one command or page: a few requests, then it is closed.
_SHORT_LIVED = {
    # It says once, in words, that the broker is unreachable; librdkafka's own log would
    # add a line for every reconnect attempt, 20 a second.
    "log_level": 0,
    # It stops at the end it found. tansu holds a fetch that finds nothing new for all of
    # fetch.wait.max.ms, and each new position waits for the fetch in flight: 20 ms each.
    "fetch.wait.max.ms": 1,
    # Connecting to the bootstrap broker at once, not when the first request needs it,
    # saves 50 ms on that first request (measured on tansu).
    "enable.sparse.connections": False,
}


class KafkaLog:
    """PartitionLog on a Kafka-protocol broker: consumers that join no group, and a producer once one is needed.

    A partition's end comes from a fetch response: tansu answers ListOffsets with the last
    batch's base offset + 1 (see eventing.offsets), so that answer only says where to fetch.
    """

    def __init__(self, bootstrap_servers: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self._servers = bootstrap_servers
        self._timeout = timeout
        self._consumers: dict[str, Consumer] = {}
        self._producer: AckingProducer | None = None

    def __enter__(self) -> KafkaLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        for consumer in self._consumers.values():
            consumer.close()
        if self._producer is not None:
            self._producer.close(self._timeout)

    def partitions(self, topic: str) -> list[int]:
        try:
            metadata = self._consumer().list_topics(timeout=self._timeout)
        except KafkaException as error:
            raise self._unreachable(error) from None
        described = metadata.topics.get(topic)
        if described is None or described.error is not None:
            raise DeadLetterError(f"the broker at {self._servers} has no topic {topic}: is it the pipeline's broker?")
        return sorted(described.partitions)

    def bounds(self, topic: str, partition: int) -> tuple[int, int]:
        consumer = self._consumer()
        try:
            start, listed_end = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=self._timeout)
        except KafkaException as error:
            raise self._unreachable(error) from None
        if listed_end <= start:  # tansu's answer too is exact for an empty partition
            return start, start
        self._fetch(topic, partition, listed_end - 1, 1, done=lambda: self._fetched_end(topic, partition) is not None)
        fetched_start = fetched_start_offset(consumer, topic, partition)
        end = max(self._fetched_end(topic, partition) or 0, listed_end)
        return (start if fetched_start is None else fetched_start), end

    def records(self, topic: str, partition: int, start: int, stop: int) -> list[ConsumedRecord]:
        def past_stop() -> bool:
            [position] = self._consumer().position([TopicPartition(topic, partition)])
            return position.offset >= stop

        fetched = self._fetch(topic, partition, start, stop - start, done=past_stop)
        return [message for message in fetched if start <= message.offset() < stop]

    def committed(self, group: str, topic: str, partition: int) -> int | None:
        try:
            [found] = self._consumer(group).committed([TopicPartition(topic, partition)], timeout=self._timeout)
        except KafkaException as error:
            raise self._unreachable(error) from None
        return found.offset if found.offset >= 0 else None

    def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        try:
            self._consumer(group).commit(offsets=[TopicPartition(topic, partition, offset)], asynchronous=False)
        except KafkaException as error:
            raise self._unreachable(error) from None

    def produce(self, topic: str, record: KafkaRecord) -> None:
        if self._producer is None:
            self._producer = AckingProducer(
                self._servers, delivery_timeout_s=self._timeout, client_id="sentinel-dlq-replay"
            )
        try:
            self._producer.send(topic, record)
        except Unavailable as error:
            raise BrokerUnreachable(f"{error} (broker {self._servers})") from None

    def _fetch(self, topic: str, partition: int, start: int, wanted: int, *, done: Callable[[], bool]) -> list[Message]:
        consumer = self._consumer()
        consumer.assign([TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + self._timeout
        fetched: list[Message] = []
        while True:
            batch = consumer.consume(num_messages=max(wanted - len(fetched), 1), timeout=0.05)
            for message in batch:
                if message.error() is not None:
                    raise self._unreachable(KafkaException(message.error()))
            fetched.extend(batch)
            if done():
                return fetched
            if time.monotonic() > deadline:
                raise BrokerUnreachable(
                    f"the broker at {self._servers} sent no records of {topic} from offset {start}"
                    f" within {self._timeout:g} s"
                )

    def _fetched_end(self, topic: str, partition: int) -> int | None:
        return fetched_end_offset(self._consumer(), topic, partition)

    def _consumer(self, group: str = READER_GROUP) -> Consumer:
        if group not in self._consumers:
            config = consumer_config(self._servers, group, initial_offset="earliest", client_id="sentinel-dlq")
            self._consumers[group] = Consumer({**config, **_SHORT_LIVED})
        return self._consumers[group]

    def _unreachable(self, error: KafkaException) -> BrokerUnreachable:
        cause = error.args[0] if error.args else error
        reason = cause.str() if isinstance(cause, KafkaError) else str(cause)
        return BrokerUnreachable(
            f"cannot read the Kafka broker at {self._servers}: {reason} (is `sentinel up` running?)"
        )
