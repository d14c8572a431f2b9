"""What a score process decides with: the champion, the rules, and a challenger in shadow, kept current.

Hot reload by polling. A background thread asks PostgreSQL every POLL_SECONDS
which model is champion, which is in shadow and which revision of the rules is
newest (one round trip of three indexed lookups). When one of them changes, the
thread loads it completely (model bytes, sha256, onnxruntime session; or every
rule, compiled) and only then swaps in a new `Setup`. A request reads the setup
once and decides its whole batch with it, so requests in flight finish on the
old one, new ones get the new one, no request ever waits for a load, and no
event is decided by half a change.

Why polling and not Redis pub/sub: PostgreSQL is where promotions and rule
changes happen, so asking it cannot miss one, while a pub/sub message sent
during a reconnect is lost and would need this poll as a fallback anyway. One
poll a second keeps a change-to-first-event well inside five seconds.

Failures never take the current setup away: while PostgreSQL is unreachable,
or when a new champion, challenger or rule cannot be served, the process goes
on deciding with what it has, logs why, and keeps looking. A process that has
no champion yet (an empty registry) answers 503s that say so, until one appears.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from sentinel.core.model import ModelRejected, OnnxModel
from sentinel.core.rules import Ruleset
from sentinel.serving import metrics
from sentinel.stores import registry
from sentinel.stores import rules as rules_store
from sentinel.stores.database import create_pool

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
EMPTY_REGISTRY = "the model registry holds no champion yet: `sentinel up` or `sentinel retrain` trains one"


@dataclass(frozen=True)
class Setup:
    """The champion decides, the first matching rule overrides it; the challenger's would-be decision is kept."""

    champion: OnnxModel
    rules: Ruleset = Ruleset()
    challenger: OnnxModel | None = None


class SetupWatch:
    """The score function's setup source; it owns the pool it reads PostgreSQL through."""

    def __init__(self, pool: ConnectionPool, *, poll_seconds: float = POLL_SECONDS):
        self._pool = pool
        self._poll_seconds = poll_seconds
        self._setup: Setup | None = None
        self._challenger: OnnxModel | None = None
        self._rules = Ruleset()
        self._refused: set[str] = set()  # model versions that failed to load: not retried every poll
        self._refused_rules = -1  # a rules revision that failed to load, likewise
        self._registry_down = False
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self.missing_reason = "no champion model loaded yet"

    @classmethod
    def connect(cls, database_url: str) -> SetupWatch:
        return cls(create_pool(database_url, max_size=2, name="score"))

    def current(self) -> Setup | None:
        """What to decide with now; None while there is no champion (see `missing_reason`)."""
        return self._setup

    def start(self) -> None:
        """Load the setup now, then follow changes from a background thread."""
        self.refresh()
        self._watcher = threading.Thread(target=self._watch, name="setup-watcher", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        self._pool.close()

    def refresh(self) -> None:
        """Look at PostgreSQL once, and swap in a new setup if anything changed and can be served."""
        current = self._setup
        try:
            versions = registry.scoring_versions(self._pool)
            champion = self._model(versions.champion, current.champion if current else None, "champion")
            challenger = self._model(versions.challenger, self._challenger, "challenger")
            rules = self._ruleset(versions.rules_revision)
        except (psycopg.Error, PoolTimeout) as error:
            self._registry_unreachable(error)
            return
        self._registry_reachable()
        if champion is None:
            if versions.champion is None:
                self.missing_reason = EMPTY_REGISTRY
            return
        self._challenger, self._rules = challenger, rules
        if current is None or (current.champion, current.rules, current.challenger) != (champion, rules, challenger):
            self._setup = Setup(champion, rules, challenger)
            self._announce(current, self._setup)

    def _watch(self) -> None:
        while not self._stopping.wait(self._poll_seconds):
            try:
                self.refresh()
            except Exception:  # the watcher must outlive any surprise; the current setup keeps serving
                log.exception("looking for a change of champion, challenger or rules failed")

    def _model(self, version: str | None, loaded: OnnxModel | None, role: str) -> OnnxModel | None:
        """The model `version` names, loaded unless it is `loaded` already. One that cannot be
        served leaves a champion as it was and a challenger out."""
        if version is None:
            return None
        if loaded is not None and loaded.version == version:
            return loaded
        fallback = loaded if role == "champion" else None
        if version in self._refused:
            return fallback
        record = registry.get(self._pool, version)
        if record is None:  # removed between the two lookups; the next poll sees what replaced it
            return fallback
        try:
            return OnnxModel(record)
        except ModelRejected as error:
            self._refused.add(version)
            metrics.setup_refused(role)
            log.error("%s %s cannot be served: %s", role, version, error)
            if fallback is None and role == "champion":
                self.missing_reason = f"champion {version} cannot be served: {error}"
            return fallback

    def _ruleset(self, revision: int) -> Ruleset:
        if revision in (self._rules.revision, self._refused_rules):
            return self._rules
        try:
            return rules_store.ruleset(self._pool)
        except ValueError as error:
            self._refused_rules = revision
            metrics.setup_refused("rules")
            log.error(
                "the rules as of revision %d cannot be applied, keeping revision %d: %s",
                revision,
                self._rules.revision,
                error,
            )
            return self._rules

    @staticmethod
    def _announce(before: Setup | None, after: Setup) -> None:
        log.warning("now deciding with %s (was %s)", _described(after), _described(before))
        for part in _changed_parts(before, after):
            metrics.setup_changed(part)
        metrics.models_in_use(_models(before), _models(after))

    def _registry_unreachable(self, error: Exception) -> None:
        reason = f"cannot read the model registry: {str(error).strip()[:200]}"
        if self._setup is None:
            self.missing_reason = reason
        if not self._registry_down:
            self._registry_down = True
            version = self._setup.champion.version if self._setup else None
            log.warning("%s; scoring goes on with %s", reason, version)

    def _registry_reachable(self) -> None:
        if self._registry_down:
            self._registry_down = False
            log.warning("the model registry is reachable again")


def _changed_parts(before: Setup | None, after: Setup) -> list[str]:
    """Which of champion, challenger and rules a change replaced (all that it set, at the first load)."""
    was = _models(before)
    now = _models(after)
    parts = [role for role in ("champion", "challenger") if was[role] != now[role]]
    if before is None or before.rules.revision != after.rules.revision:
        parts.append("rules")
    return parts


def _models(setup: Setup | None) -> dict[str, str | None]:
    """The version of each model a setup decides with, by role."""
    if setup is None:
        return {"champion": None, "challenger": None}
    return {
        "champion": setup.champion.version,
        "challenger": setup.challenger.version if setup.challenger else None,
    }


def _described(setup: Setup | None) -> str:
    if setup is None:
        return "nothing"
    rules = f"{len(setup.rules.rules)} rules (revision {setup.rules.revision})"
    shadow = f", challenger {setup.challenger.version} in shadow" if setup.challenger else ""
    return f"champion {setup.champion.version}, {rules}{shadow}"
