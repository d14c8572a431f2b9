"""Kafka client settings shared by the dispatcher, the ingress and the lag probe.

The local broker (tansu) rebalances a consumer group promptly only with short
session and poll timeouts (DESIGN.md §7); Redpanda and Kafka are happy with them too.
"""

from __future__ import annotations

from typing import Any

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 2000
MAX_POLL_INTERVAL_MS = 30000


def consumer_config(bootstrap_servers: str, group: str, *, initial_offset: str, client_id: str) -> dict[str, Any]:
    """A group member that commits only what the application says is done."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group,
        "client.id": client_id,
        "auto.offset.reset": initial_offset,
        "enable.auto.commit": False,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
        "fetch.wait.max.ms": 100,
    }


def producer_config(bootstrap_servers: str, *, delivery_timeout_s: float, client_id: str) -> dict[str, Any]:
    """An idempotent producer that waits for every in-sync replica.

    `murmur2_random` is the Java client's partitioner, so a key lands on the same
    partition as it would through Knative's own KafkaSink.
    """
    return {
        "bootstrap.servers": bootstrap_servers,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": "murmur2_random",
        "linger.ms": 2,
        "delivery.timeout.ms": int(delivery_timeout_s * 1000),
    }
