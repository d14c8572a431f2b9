"""The pipeline's status as the local stack sees it, for the UI's Pipeline page.

Health, pids, restarts, consumer lag, stalled partitions and what each dispatcher
delivered, retried and dead-lettered (its /healthz counters, since it started) come
from `LocalStack.status()`, the source of `sentinel status`. Added to that: what
each function received (what the dispatchers feeding it delivered), how many records
each topic holds, and so the dead-letter count: the records in the dead-letter topic;
and each function's request rate and latency percentiles since the previous snapshot,
read from its /metrics (sentinel.stack.request_rates).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from eventing.broker_holdings import held_records
from eventing.topology import Topology
from sentinel.config import Settings
from sentinel.stack.local import LocalStack
from sentinel.stack.request_rates import RequestWatch
from ui.pipeline import Snapshot

log = logging.getLogger(__name__)

KIND_ORDER = {"infrastructure": 0, "eventing": 1, "function": 2}


class LocalStackStatus:
    """The UI's PipelineStatus for the local stack."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._watch: RequestWatch | None = None  # the functions' last scrape, from the previous snapshot

    def snapshot(self) -> Snapshot:
        stack = LocalStack(self._settings)
        if self._watch is None:
            self._watch = RequestWatch(stack.function_urls())
        return _snapshot(self._settings, stack, self._watch)


def _snapshot(settings: Settings, stack: LocalStack, watch: RequestWatch) -> Snapshot:
    topology = stack.topology
    statuses = stack.status(watch)
    counters = {status.name: status.counters for status in statuses if status.consumer_group}
    sink_topics = sorted({sink.topic for sink in topology.sinks.values()})
    topics: dict[str, int | None] = dict.fromkeys(sink_topics)
    try:
        topics.update(held_records(settings.kafka_bootstrap_servers, sink_topics))
    except Exception as error:  # the broker may be down; the components' rows say so
        log.warning("could not count the records in %s: %s", ", ".join(sink_topics), error)
    fed_by: dict[str, list[str]] = {source.sink: [] for source in topology.sources.values()}
    for source in topology.sources.values():
        fed_by[source.sink].append(source.name)
    components = []
    for status in sorted(statuses, key=lambda item: KIND_ORDER.get(item.kind, 3)):
        row = status.to_json()
        row["events"] = _events(status.name, counters, fed_by, topics, topology)
        components.append(row)
    dead_letter_sinks = {source.delivery.dead_letter_sink for source in topology.sources.values()}
    return Snapshot(
        taken_at=datetime.now(UTC),
        components=components,
        topics=topics,
        dead_letter_topics=tuple(sorted(topology.sinks[name].topic for name in dead_letter_sinks if name)),
    )


def _events(
    name: str,
    counters: dict[str, dict[str, int] | None],
    fed_by: dict[str, list[str]],
    topics: dict[str, int | None],
    topology: Topology,
) -> dict[str, Any] | None:
    """What this component has processed, and what the number means."""
    if name in counters:
        delivered = (counters[name] or {}).get("delivered")
        return {"count": delivered, "meaning": "delivered since it started"}
    if name in fed_by:
        delivered = [(counters.get(source) or {}).get("delivered") for source in fed_by[name]]
        total = None if None in delivered else sum(delivered)
        return {"count": total, "meaning": f"received from {', '.join(fed_by[name])}"}
    sink = topology.sink_of(name)
    if sink is not None:
        return {"count": topics.get(sink.topic), "meaning": f"accepted into {sink.topic}"}
    if name == "kafka-sink-ingress" and topics and None not in topics.values():
        return {"count": sum(topics.values()), "meaning": "records written to the topics"}
    return None
