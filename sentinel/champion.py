"""The model a score process uses: the registry's champion, loaded once per process.

A process that starts while the registry is empty, unreachable, or holds a
champion that cannot be served keeps answering 503s that say so, and looks
again at most every few seconds.
"""

from __future__ import annotations

import threading
import time

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from sentinel import registry
from sentinel.model import ModelRejected, OnnxModel

RETRY_SECONDS = 2.0


class Champion:
    def __init__(self, pool: ConnectionPool):
        self._pool = pool
        self._model: OnnxModel | None = None
        self._lock = threading.Lock()
        self._last_attempt = float("-inf")
        self.missing_reason = "no champion model loaded yet"

    def current(self) -> OnnxModel | None:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None and time.monotonic() - self._last_attempt >= RETRY_SECONDS:
                self._last_attempt = time.monotonic()
                self._load()
        return self._model

    def _load(self) -> None:
        try:
            with self._pool.connection() as conn:
                record = registry.champion(conn)
        except (psycopg.OperationalError, PoolTimeout) as error:
            self.missing_reason = f"cannot read the model registry: {str(error).strip()[:200]}"
            return
        if record is None:
            self.missing_reason = "the model registry holds no champion yet: `sentinel up` trains a first one"
            return
        try:
            self._model = OnnxModel(record)
        except ModelRejected as error:
            self.missing_reason = f"champion {record.version} cannot be served: {error}"
