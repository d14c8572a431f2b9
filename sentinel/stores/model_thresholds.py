"""Each model version's own thresholds, read from the registry once per process.

A version's thresholds are written when it is registered and never change, so a
version found is cached for good; one not found is asked for again next time (it
may be registered meanwhile). A miss opens one short-lived connection: it happens
about once per model version per process, so no pool is held for it.
"""

from __future__ import annotations

import threading

from sentinel.stores import database, registry


class ModelThresholds:
    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._lock = threading.Lock()
        self._known: dict[str, dict[str, float]] = {}

    def thresholds(self, version: str) -> dict[str, float] | None:
        """The review and block thresholds the model `version` was registered with; None when it is unknown."""
        with self._lock:
            known = self._known.get(version)
        if known is not None:
            return known
        with database.connect(self._database_url) as conn:
            record = registry.get(conn, version, with_onnx=False)
        if record is None:
            return None
        with self._lock:
            self._known[version] = record.thresholds
        return record.thresholds

    def close(self) -> None:
        """Nothing is held open."""
