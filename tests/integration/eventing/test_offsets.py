"""Consumer-group lag measured from outside the group, against a real broker."""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka import Consumer, TopicPartition
from eventing_support import produce

from eventing.offsets import consumer_group_lag


def commit(broker: str, group: str, offsets: list[TopicPartition]) -> None:
    consumer = Consumer({"bootstrap.servers": broker, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()


def test_lag_is_measured_against_true_end_offsets_after_batched_produces(
    broker: str, make_topic: Callable[..., str], unique_name: str
):
    topic = make_topic(3)
    group = f"g-{unique_name}"
    per_partition = {0: 100, 1: 120, 2: 100}
    records = [{"value": b"x", "partition": p} for p, count in per_partition.items() for _ in range(count)]
    produce(broker, topic, records, flush_every=10)  # many small batches: where ListOffsets goes wrong here
    commit(broker, group, [TopicPartition(topic, 0, 40), TopicPartition(topic, 2, 100)])

    lag = consumer_group_lag(broker, group, [topic])

    assert lag["group"] == group
    assert lag["partitions"] == [
        {"topic": topic, "partition": 0, "committed": 40, "end": 100, "lag": 60},
        {"topic": topic, "partition": 1, "committed": None, "end": 120, "lag": 120},
        {"topic": topic, "partition": 2, "committed": 100, "end": 100, "lag": 0},
    ]
    assert lag["total_lag"] == 180


def test_topics_that_do_not_exist_are_left_out(broker: str, unique_name: str):
    lag = consumer_group_lag(broker, f"g-{unique_name}", [f"t-{unique_name}-missing"])

    assert lag == {"group": f"g-{unique_name}", "partitions": [], "total_lag": 0}
