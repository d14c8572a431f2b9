"""The pipeline: every component, healthy or not, and what it has done.

The UI does not find this out itself: a PipelineStatus, handed to `create_app`,
takes each snapshot. Locally that is the stack's own view (what `sentinel status`
shows, plus delivery counters and topic sizes; sentinel.stack.pipeline_status), in
a cluster the Knative resources as the Kubernetes API reports them.

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
from typing import Any, Protocol

from flask import Blueprint, Flask, current_app, jsonify, render_template
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

blueprint = Blueprint("pipeline", __name__)

MAX_AGE_S = 5.0
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

    @property
    def stalled(self) -> list[dict[str, Any]]:
        """The components that run but have stopped making progress."""
        return [component for component in self.components if not component["healthy"] and component.get("stalled")]

    @property
    def down(self) -> list[dict[str, Any]]:
        return [component for component in self.components if not component["healthy"] and not component.get("stalled")]

    @property
    def state(self) -> str:
        """The headline: healthy, degraded (something is stalled) or down (something does not run or answer)."""
        if self.error is not None or self.down:
            return "down"
        return "degraded" if self.stalled else "healthy"

    def to_json(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at,
            "healthy": self.healthy,
            "state": self.state,
            "error": self.error,
            "dead_letters": self.dead_letters,
            "dead_letter_topics": list(self.dead_letter_topics),
            "topics": self.topics,
            "components": self.components,
        }


class PipelineStatus(Protocol):
    """Where the pipeline's status comes from: the local stack, or a cluster's API."""

    def snapshot(self) -> Snapshot:
        """The status now; may take seconds."""
        ...


class NoPipelineStatus:
    """For a UI started on its own: it knows no pipeline to report on, and says so."""

    def snapshot(self) -> Snapshot:
        return Snapshot(
            datetime.now(UTC),
            error="this UI was started without a pipeline to watch: `sentinel up` starts the UI with the local"
            " stack's status, and in a cluster it reads the Knative resources",
        )


class PipelineMonitor:
    """The latest snapshot, refreshed in the background once it is older than `max_age`."""

    def __init__(self, status: PipelineStatus, max_age: float = MAX_AGE_S) -> None:
        self._status = status
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
            snapshot = self._status.snapshot()
        except Exception as error:  # the page says what went wrong instead of failing
            log.exception("the pipeline status could not be read")
            snapshot = Snapshot(datetime.now(UTC), error=f"{type(error).__name__}: {error}")
        with self._lock:
            self._latest, self._taken, self._refreshing = snapshot, time.monotonic(), None
        return snapshot


def init_app(app: Flask, status: PipelineStatus) -> None:
    app.extensions["sentinel.pipeline"] = PipelineMonitor(status)


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
