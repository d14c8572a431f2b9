"""The eventing stand-ins' Prometheus metrics: the KafkaSink ingress and each KafkaSource dispatcher.

Each is one process, so prometheus_client's default registry serves it (with the
process's own CPU and memory). A dispatcher's deliveries, lag, offsets and deliveries
in flight are read from its status document at scrape time (`DispatcherCollector`):
the numbers `sentinel status` shows, with no second bookkeeping. Only what the status
does not keep is counted as it happens: each delivery attempt's duration, and commits.
Labels are bounded: a source, a topic, a partition, an outcome; never an event id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from eventing.producer import AckingProducer
from eventing.sender import DeliveryCounters
from sentinel.codec.kafka import KafkaRecord
from sentinel.core.errors import ClientError, Unavailable
from sentinel.serving.metrics import DURATION_BUCKETS, exposition

PRODUCED = Counter(
    "sentinel_ingress_records",
    "Records the KafkaSink ingress was asked to write, by topic and outcome",
    ["topic", "outcome"],
)
PRODUCE_SECONDS = Histogram(
    "sentinel_ingress_produce_seconds",
    "Time from a record's hand-over to the producer to the broker's acknowledgement (or refusal)",
    ["topic"],
    buckets=DURATION_BUCKETS,
)
ATTEMPT_SECONDS = Histogram(
    "sentinel_dispatcher_delivery_attempt_seconds",
    "Time each POST of an event took, to the sink or to the dead-letter sink",
    ["source", "target"],
    buckets=DURATION_BUCKETS,
)
COMMITS = Counter(
    "sentinel_dispatcher_commits", "Partition offsets committed, as the broker confirmed them", ["source"]
)


def collect_dispatcher(status: Callable[[], dict[str, Any]]) -> None:
    """Have this process's metrics report the dispatcher whose status `status` reads."""
    REGISTRY.register(DispatcherCollector(status))


def metrics_document() -> tuple[bytes, str]:
    """This process's metrics in the Prometheus text format, and its content type."""
    return exposition(REGISTRY)


@contextmanager
def producing(topic: str) -> Iterator[None]:
    """Time and count one record written through the ingress: acknowledged, refused (a 4xx), unavailable
    (the broker did not acknowledge: a 503) or failed (anything else)."""
    started = time.perf_counter()
    outcome = "failed"
    try:
        yield
        outcome = "acknowledged"
    except ClientError:
        outcome = "refused"
        raise
    except Unavailable:
        outcome = "unavailable"
        raise
    finally:
        PRODUCE_SECONDS.labels(topic).observe(time.perf_counter() - started)
        PRODUCED.labels(topic, outcome).inc()


class MeasuredProducer(AckingProducer):
    """The ingress's producer, counting and timing each record it is asked to write."""

    async def acknowledged(self, topic: str, record: KafkaRecord) -> None:
        with producing(topic):
            await super().acknowledged(topic, record)


@dataclass
class DeliveryMetrics(DeliveryCounters):
    """A dispatcher's delivery counters that also time each attempt for Prometheus."""

    source: str = ""
    _to_sink: Any = field(init=False, repr=False)
    _to_dead_letters: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._to_sink = ATTEMPT_SECONDS.labels(self.source, "sink")
        self._to_dead_letters = ATTEMPT_SECONDS.labels(self.source, "dead_letter_sink")

    def attempted(self, seconds: float, *, dead_letter: bool) -> None:
        (self._to_dead_letters if dead_letter else self._to_sink).observe(seconds)

    def committed(self, partitions: int) -> None:
        COMMITS.labels(self.source).inc(partitions)


# The counters of a dispatcher's status that are outcomes of sentinel_dispatcher_deliveries_total.
DELIVERY_OUTCOMES = ("delivered", "dead_lettered")


PARTITION_LABELS = ["source", "consumer_group", "topic", "partition"]


def _dispatcher_families() -> dict[str, Metric]:
    """A dispatcher's metric families, without samples yet."""
    families: list[Metric] = [
        CounterMetricFamily(
            "sentinel_dispatcher_deliveries",
            "Events that reached an end, by outcome: delivered to the sink, or dead-lettered after failing",
            labels=["source", "outcome"],
        ),
        CounterMetricFamily(
            "sentinel_dispatcher_retries", "Failed POSTs to the sink that were tried again", labels=["source"]
        ),
        CounterMetricFamily(
            "sentinel_dispatcher_failures",
            "Events dropped for want of a dead-letter sink, and POSTs the dead-letter sink refused",
            labels=["source"],
        ),
        GaugeMetricFamily(
            "sentinel_dispatcher_consumer_lag",
            "Records in a partition past the consumer group's committed offset",
            labels=PARTITION_LABELS,
        ),
        GaugeMetricFamily(
            "sentinel_dispatcher_committed_offset", "The consumer group's committed offset", labels=PARTITION_LABELS
        ),
        GaugeMetricFamily(
            "sentinel_dispatcher_in_flight_deliveries", "Events being delivered now", labels=PARTITION_LABELS
        ),
        GaugeMetricFamily(
            "sentinel_dispatcher_healthy", "1 while the dispatcher makes progress, 0 while stalled", labels=["source"]
        ),
    ]
    return {family.name: family for family in families}


class DispatcherCollector(Collector):
    """A dispatcher's status (eventing.dispatcher.Dispatcher.status) as metrics, read at each scrape."""

    def __init__(self, status: Callable[[], dict[str, Any]]) -> None:
        self._status = status

    def describe(self) -> Iterator[Metric]:
        """The families without samples: what registering the collector checks, without asking for the status."""
        return iter(_dispatcher_families().values())

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        source = status["source"]
        counters = status["counters"]
        families = _dispatcher_families()
        for outcome in DELIVERY_OUTCOMES:
            families["sentinel_dispatcher_deliveries"].add_metric([source, outcome], counters[outcome])
        families["sentinel_dispatcher_retries"].add_metric([source], counters["retried"])
        families["sentinel_dispatcher_failures"].add_metric([source], counters["failed"])
        families["sentinel_dispatcher_healthy"].add_metric([source], 1 if status["healthy"] else 0)
        for row in status["partitions"]:
            labels = [source, status["consumer_group"], row["topic"], str(row["partition"])]
            if row["lag"] is not None:
                families["sentinel_dispatcher_consumer_lag"].add_metric(labels, row["lag"])
            if row["committed"] is not None:
                families["sentinel_dispatcher_committed_offset"].add_metric(labels, row["committed"])
            families["sentinel_dispatcher_in_flight_deliveries"].add_metric(labels, row["in_flight"])
        yield from families.values()
