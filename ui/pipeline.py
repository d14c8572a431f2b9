"""The pipeline: every component of the local stack, healthy or not, and what it has done.

Health, pids, restarts and consumer lag come from `LocalStack.status()`, the
source of `sentinel status`. Added to that: what each dispatcher delivered,
retried and dead-lettered (its /healthz counters, since it started), what each
function received (what the dispatchers feeding it delivered), how many records
each topic holds, and so the dead-letter count: the records in the dead-letter
topic.

Asking takes seconds (every component is probed, every consumer group's lag is
measured), so the monitor keeps the last snapshot and refreshes it in the
background: the page shows the latest one at once (or, before the first, says it
is reading) and refreshes itself.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from flask import Blueprint, Flask, current_app, jsonify, render_template
from werkzeug.wrappers import Response

from eventing.topology import Topology
from sentinel.config import Settings

log = logging.getLogger(__name__)

blueprint = Blueprint("pipeline", __name__)

MAX_AGE_S = 5.0
COUNTERS_TIMEOUT_S = 2.0
# A consumer group that never commits: its lag on a topic is every record the topic holds.
COUNTING_GROUP = "sentinel-ui-record-count"
KIND_ORDER = {"infrastructure": 0, "eventing": 1, "function": 2}
KIND_TITLES = {"infrastructure": "Services", "eventing": "Eventing", "function": "Functions"}


@dataclass
class Snapshot:
    taken_at: datetime
    components: list[dict[str, Any]] = field(default_factory=list)
    topics: dict[str, int | None] = field(default_factory=dict)
    dead_letter_topics: tuple[str, ...] = ()
    error: str | None = None

    @property
    def dead_letters(self) -> int | None:
        counts = [self.topics.get(topic) for topic in self.dead_letter_topics]
        return None if not counts or None in counts else sum(counts)

    def groups(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """The components by kind, in start order, each kind under its title."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for component in self.components:
            grouped.setdefault(component["kind"], []).append(component)
        return [(KIND_TITLES.get(kind, kind.capitalize()), members) for kind, members in grouped.items()]

    @property
    def healthy(self) -> bool:
        return self.error is None and all(component["healthy"] for component in self.components)

    def to_json(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at,
            "healthy": self.healthy,
            "error": self.error,
            "dead_letters": self.dead_letters,
            "dead_letter_topics": list(self.dead_letter_topics),
            "topics": self.topics,
            "components": self.components,
        }


class PipelineMonitor:
    """The latest snapshot of the stack, refreshed in the background once it is older than `max_age`."""

    def __init__(self, settings: Settings, max_age: float = MAX_AGE_S) -> None:
        self._settings = settings
        self._max_age = max_age
        self._lock = threading.Lock()
        self._latest: Snapshot | None = None
        self._taken = 0.0
        self._refreshing: threading.Thread | None = None

    def latest(self) -> Snapshot | None:
        """The last snapshot at once, None before the first; starts a refresh when it is stale."""
        with self._lock:
            latest, age = self._latest, time.monotonic() - self._taken
            if (latest is None or age > self._max_age) and self._refreshing is None:
                self._refreshing = threading.Thread(target=self._refresh, name="pipeline-refresh", daemon=True)
                self._refreshing.start()
        return latest

    def snapshot(self) -> Snapshot:
        """The last snapshot, waiting for the first one when there is none yet."""
        latest = self.latest()
        if latest is not None:
            return latest
        with self._lock:
            refreshing = self._refreshing
        if refreshing is not None:
            refreshing.join()
        return self._latest or self._refresh()

    def _refresh(self) -> Snapshot:
        try:
            snapshot = take_snapshot(self._settings)
        except Exception as error:  # the page says what went wrong instead of failing
            log.exception("the pipeline status could not be read")
            snapshot = Snapshot(datetime.now(UTC), error=f"{type(error).__name__}: {error}")
        with self._lock:
            self._latest, self._taken, self._refreshing = snapshot, time.monotonic(), None
        return snapshot


def take_snapshot(settings: Settings) -> Snapshot:
    from eventing.offsets import consumer_group_lag
    from sentinel.stack.local import LocalStack

    stack = LocalStack(settings)
    topology = stack.topology
    statuses = stack.status()
    counters = {status.name: _counters(status.address) for status in statuses if status.consumer_group}
    sink_topics = sorted({sink.topic for sink in topology.sinks.values()})
    topics: dict[str, int | None] = dict.fromkeys(sink_topics)
    try:
        held = consumer_group_lag(settings.kafka_bootstrap_servers, COUNTING_GROUP, sink_topics)
        for partition in held["partitions"]:
            if partition["lag"] is not None:
                topics[partition["topic"]] = (topics[partition["topic"]] or 0) + partition["lag"]
    except Exception as error:  # the broker may be down; the components' rows say so
        log.warning("could not count the records in %s: %s", ", ".join(sink_topics), error)
    fed_by: dict[str, list[str]] = {source.sink: [] for source in topology.sources.values()}
    for source in topology.sources.values():
        fed_by[source.sink].append(source.name)
    components = []
    for status in sorted(statuses, key=lambda item: KIND_ORDER.get(item.kind, 3)):
        row = status.to_json()
        row["counters"] = counters.get(status.name)
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


def _counters(address: str) -> dict[str, int] | None:
    """A dispatcher's delivery counters from its /healthz document."""
    try:
        return requests.get(f"{address}/healthz", timeout=COUNTERS_TIMEOUT_S).json().get("counters")
    except (requests.RequestException, ValueError):
        return None


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["sentinel.pipeline"] = PipelineMonitor(settings)


def monitor() -> PipelineMonitor:
    return current_app.extensions["sentinel.pipeline"]


@blueprint.get("/pipeline")
def index() -> str:
    """The page at once; before the first snapshot it says so, and its first refresh brings it."""
    return render_template("pipeline/page.html", snapshot=monitor().latest())


@blueprint.get("/partials/pipeline")
def partial() -> str:
    return render_template("pipeline/_status.html", snapshot=monitor().snapshot())


@blueprint.get("/api/pipeline")
def api() -> Response:
    return jsonify(monitor().snapshot().to_json())
