"""The model a score process uses: the registry's champion, kept current while the process runs.

Hot reload by polling. A background thread asks the registry for the champion's
version every POLL_SECONDS (one indexed lookup of a short string). When it
changes, the thread loads the new model completely (bytes, sha256, onnxruntime
session) and only then swaps the reference. A request reads the reference once
and scores its whole batch with that model, so requests in flight finish on the
old model, new ones get the new one, and no request ever waits for a load.

Why polling and not Redis pub/sub: PostgreSQL is where promotions happen, so
asking it cannot miss one, while a pub/sub message sent during a reconnect is
lost and would need this poll as a fallback anyway. One poll a second keeps
promotion-to-first-event well inside five seconds.

Failures never take the current model away: while PostgreSQL is unreachable, or
when a new champion cannot be served, the process goes on scoring with the model
it has, logs why, and keeps looking. A process that has no model yet (an empty
registry) answers 503s that say so, until a champion appears.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from sentinel.core.model import ModelRecord, ModelRejected, OnnxModel
from sentinel.stores import registry
from sentinel.stores.database import create_pool

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
EMPTY_REGISTRY = "the model registry holds no champion yet: `sentinel up` or `sentinel retrain` trains one"


class Champion:
    """The score function's model source; it owns the pool it reads the registry through."""

    def __init__(self, pool: ConnectionPool, *, poll_seconds: float = POLL_SECONDS):
        self._pool = pool
        self._poll_seconds = poll_seconds
        self._model: OnnxModel | None = None
        self._refused_version: str | None = None  # a champion that failed to load: not retried every poll
        self._registry_down = False
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self.missing_reason = "no champion model loaded yet"

    @classmethod
    def connect(cls, database_url: str) -> Champion:
        return cls(create_pool(database_url, max_size=2, name="score"))

    def current(self) -> OnnxModel | None:
        """The model to score with now; None while there is none (see `missing_reason`)."""
        return self._model

    def start(self) -> None:
        """Load the champion now, then follow promotions from a background thread."""
        self.refresh()
        self._watcher = threading.Thread(target=self._watch, name="champion-watcher", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        self._pool.close()

    def refresh(self) -> None:
        """Look at the registry once, and swap in the champion if it is new and can be served."""
        try:
            version = registry.champion_version(self._pool)
            if version is None:
                self._registry_reachable()
                if self._model is None:
                    self.missing_reason = EMPTY_REGISTRY
                return
            if self._model is not None and self._model.version == version or version == self._refused_version:
                self._registry_reachable()
                return
            record = registry.get(self._pool, version)
        except (psycopg.Error, PoolTimeout) as error:
            self._registry_unreachable(error)
            return
        self._registry_reachable()
        if record is not None:
            self._swap_to(record)

    def _watch(self) -> None:
        while not self._stopping.wait(self._poll_seconds):
            try:
                self.refresh()
            except Exception:  # the watcher must outlive any surprise; the current model keeps serving
                log.exception("looking for a new champion failed")

    def _swap_to(self, record: ModelRecord) -> None:
        try:
            model = OnnxModel(record)
        except ModelRejected as error:
            self._refused_version = record.version
            log.error("champion %s cannot be served, keeping %s: %s", record.version, self._version_or_none(), error)
            if self._model is None:
                self.missing_reason = f"champion {record.version} cannot be served: {error}"
            return
        previous = self._version_or_none()
        self._model = model
        self._refused_version = None
        log.warning("now scoring with champion %s (was %s)", record.version, previous)

    def _registry_unreachable(self, error: Exception) -> None:
        reason = f"cannot read the model registry: {str(error).strip()[:200]}"
        if self._model is None:
            self.missing_reason = reason
        if not self._registry_down:
            self._registry_down = True
            log.warning("%s; scoring goes on with %s", reason, self._version_or_none())

    def _registry_reachable(self) -> None:
        if self._registry_down:
            self._registry_down = False
            log.warning("the model registry is reachable again")

    def _version_or_none(self) -> str | None:
        return self._model.version if self._model is not None else None
