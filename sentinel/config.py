"""Configuration from the environment, with every default in this one place.

The same variable names are used by the local stack and in the cluster
(DESIGN.md §6). With none of them set, everything points at the local stack.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_PORT_BASE = 18000

# Where each local component listens, as an offset from SENTINEL_PORT_BASE.
# Any one of them can be moved with SENTINEL_PORT_<NAME> (dashes become underscores).
PORT_OFFSETS: dict[str, int] = {
    "ui": 0,
    "kafka-sink-ingress": 80,
    "ingest": 81,
    "score": 82,
    "persist": 83,
    "alert": 84,
    "prefect-serve": 88,
    "broker": 92,
    "redis": 379,
    "postgres": 432,
}
# Prefect's server keeps the port its own docs and UI links use.
FIXED_PORTS: dict[str, int] = {"prefect": 4200}

# Dispatchers, one per KafkaSource, take base + 85, 86, ... in name order.
DISPATCHER_PORT_OFFSET = 85


def port_env_name(component: str) -> str:
    return "SENTINEL_PORT_" + component.upper().replace("-", "_")


def _float_or_none(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else None


@dataclass(frozen=True)
class Settings:
    """Everything a Sentinel process reads from its environment."""

    kafka_bootstrap_servers: str
    database_url: str
    redis_url: str
    k_sink: str | None
    port: int
    review_threshold: float | None
    block_threshold: float | None
    alert_webhook_url: str | None
    state_dir: Path
    port_base: int
    dedup_ttl_seconds: int = 7 * 24 * 3600
    alerts_stream: str = "sentinel:alerts"
    alerts_stream_maxlen: int = 100_000
    max_body_bytes: int = 1024 * 1024
    # Transactions admitted by ingest and not stored yet, across every instance; at this many
    # ingest answers 503 with Retry-After (sentinel.stores.backlog). 0 admits everything.
    ingest_max_backlog: int = 500
    bootstrap_training_rows: int = 150_000
    # Which of broker/postgres/redis the user pointed elsewhere; the local
    # stack starts only the others.
    external: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        port_base = int(env.get("SENTINEL_PORT_BASE", DEFAULT_PORT_BASE))
        external = frozenset(
            name
            for name, variable in (
                ("broker", "KAFKA_BOOTSTRAP_SERVERS"),
                ("postgres", "DATABASE_URL"),
                ("redis", "REDIS_URL"),
            )
            if env.get(variable)
        )

        def local_port(component: str) -> int:
            return component_port(component, port_base)

        return cls(
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{local_port('broker')}",
            database_url=env.get("DATABASE_URL")
            or f"postgresql://sentinel@127.0.0.1:{local_port('postgres')}/sentinel",
            redis_url=env.get("REDIS_URL") or f"redis://127.0.0.1:{local_port('redis')}/0",
            k_sink=env.get("K_SINK") or None,
            port=int(env.get("PORT", 8080)),
            review_threshold=_float_or_none("SENTINEL_REVIEW_THRESHOLD"),
            block_threshold=_float_or_none("SENTINEL_BLOCK_THRESHOLD"),
            alert_webhook_url=env.get("ALERT_WEBHOOK_URL") or None,
            state_dir=Path(env.get("SENTINEL_STATE_DIR") or PROJECT_ROOT / ".sentinel"),
            port_base=port_base,
            dedup_ttl_seconds=int(env.get("SENTINEL_DEDUP_TTL_SECONDS", 7 * 24 * 3600)),
            alerts_stream_maxlen=int(env.get("SENTINEL_ALERTS_STREAM_MAXLEN", 100_000)),
            ingest_max_backlog=int(env.get("SENTINEL_INGEST_MAX_BACKLOG", 500)),
            bootstrap_training_rows=int(env.get("SENTINEL_BOOTSTRAP_ROWS", 150_000)),
            external=external,
        )


def component_port(component: str, port_base: int, offset: int | None = None) -> int:
    """The local port of a stack component: its own override, else its fixed port, else base + its offset."""
    override = os.environ.get(port_env_name(component))
    if override:
        return int(override)
    if component in FIXED_PORTS:
        return FIXED_PORTS[component]
    return port_base + (PORT_OFFSETS[component] if offset is None else offset)
