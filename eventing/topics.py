"""Creating the topics the KafkaSinks name, as Knative's KafkaSink controller does."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from eventing.topology import SinkSpec


def ensure_topics(bootstrap_servers: str, sinks: Iterable[SinkSpec], timeout: float = 15.0) -> list[str]:
    """Create each sink's topic with its partitions unless it exists; return those created."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [
        NewTopic(sink.topic, num_partitions=sink.partitions, replication_factor=sink.replication_factor)
        for sink in sinks
        if sink.topic not in existing
    ]
    if not wanted:
        return []
    created = []
    for topic, future in admin.create_topics(wanted, request_timeout=timeout).items():
        try:
            future.result()
            created.append(topic)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created
