"""Configuration from the environment, with every default in this one place.

The same variable names are used by the local stack and in the cluster
(DESIGN.md §6). With none of them set, everything points at the local stack.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

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


# prometheus_client's multiprocess mode: where each process of one server keeps its metrics
# (sentinel.serving.metrics). Unset, each process serves only its own; the local stack
# gives each function a directory of its own (`local_metrics_dir`), the manifests /tmp/metrics.
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

RECEIVED_SIGNING_KEY = "SENTINEL_RECEIVED_SIGNING_KEY"
SCORED_SIGNING_KEY = "SENTINEL_SCORED_SIGNING_KEY"


def _secret(name: str) -> str | None:
    return os.environ.get(name, "").strip() or None


def _float_or_none(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else None


@dataclass(frozen=True)
class Settings:
    """Everything a Sentinel process reads from its environment."""

    kafka_bootstrap_servers: str
    database_url: str
    redis_url: str
    # Score's own connection: a role that reads models and cannot write them (SCORE_DATABASE_URL;
    # locally the stack's sentinel_score role, else DATABASE_URL).
    score_database_url: str
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
    # Threads that run a function's `handle` in one server process (SENTINEL_FUNCTION_THREADS);
    # the event loop itself answers probes and refusals (sentinel.serving.http_handler).
    function_threads: int = 8
    # Transactions admitted by ingest and not stored yet, across every instance; at this many
    # ingest answers 503 with Retry-After (sentinel.stores.backlog). 0 admits everything.
    ingest_max_backlog: int = 500
    bootstrap_training_rows: int = 150_000
    # The local Redis's memory limit; at it, writes fail (noeviction) rather than drop claims.
    redis_maxmemory: str = "512mb"
    # The one directory training reads CSV files from (SENTINEL_DATA_DIR); default <state dir>/data.
    data_dir: Path | None = None
    # A KafkaSource dispatcher that found and delivered nothing for this long fetches only in
    # probes, one every SENTINEL_SOURCE_IDLE_PROBE_EVERY_S (eventing.idle_backoff); 0 never stops.
    source_idle_after_s: float = 5.0
    source_idle_probe_every_s: float = 0.5
    # Requests a second one API key may make to ingest and to score, unless the key sets its own.
    key_rate_per_s: int = 2000
    # The key `sentinel send` and other clients present; default: the one `sentinel up` made.
    api_key: str | None = None
    # The UI's session cookie: sent over HTTPS only when the UI is served over HTTPS, and
    # how long a login lasts before the analyst logs in again.
    ui_secure_cookies: bool = False
    ui_session_hours: float = 12.0
    # Which of broker/postgres/redis the user pointed elsewhere; the local
    # stack starts only the others.
    external: frozenset[str] = field(default_factory=frozenset)
    # HMAC keys of the events between hops (sentinel.core.integrity): received events are
    # signed by ingest for score, scored events by score for persist and alert. The
    # *_PREVIOUS key is also accepted, never used to sign: for rotating without a gap.
    received_signing_key: str | None = field(default=None, repr=False)
    received_signing_key_previous: str | None = field(default=None, repr=False)
    scored_signing_key: str | None = field(default=None, repr=False)
    scored_signing_key_previous: str | None = field(default=None, repr=False)
    # The alert webhook: its HMAC secret (sentinel.core.webhook_signature), and whether
    # a plain-http URL is allowed (else https is required).
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_allow_http: bool = False
    # Where the UI links a decision's trace id (SENTINEL_TRACE_URL), `{trace_id}` standing for it:
    # e.g. Jaeger's http://127.0.0.1:16686/trace/{trace_id}. Unset: the id is shown without a link.
    trace_url: str | None = None

    @property
    def training_data_dir(self) -> Path:
        """Where `csv:` training sources must live: SENTINEL_DATA_DIR, else <state dir>/data."""
        return self.data_dir or default_data_dir(self.state_dir)

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

        state_dir = Path(env.get("SENTINEL_STATE_DIR") or PROJECT_ROOT / ".sentinel")
        database_url = env.get("DATABASE_URL") or local_database_url(state_dir, local_port("postgres"))
        if env.get("DATABASE_URL"):
            score_database_url = env.get("SCORE_DATABASE_URL") or database_url
        else:
            score_database_url = local_database_url(state_dir, local_port("postgres"), role=LOCAL_SCORE_ROLE)
        return cls(
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{local_port('broker')}",
            database_url=database_url,
            redis_url=env.get("REDIS_URL")
            or f"redis://127.0.0.1:{local_port('redis')}/0?password_file={quote(str(redis_password_file(state_dir)))}",
            score_database_url=score_database_url,
            k_sink=env.get("K_SINK") or None,
            port=int(env.get("PORT", 8080)),
            review_threshold=_float_or_none("SENTINEL_REVIEW_THRESHOLD"),
            block_threshold=_float_or_none("SENTINEL_BLOCK_THRESHOLD"),
            alert_webhook_url=env.get("ALERT_WEBHOOK_URL") or None,
            state_dir=state_dir,
            port_base=port_base,
            dedup_ttl_seconds=int(env.get("SENTINEL_DEDUP_TTL_SECONDS", 7 * 24 * 3600)),
            alerts_stream_maxlen=int(env.get("SENTINEL_ALERTS_STREAM_MAXLEN", 100_000)),
            function_threads=int(env.get("SENTINEL_FUNCTION_THREADS", 8)),
            ingest_max_backlog=int(env.get("SENTINEL_INGEST_MAX_BACKLOG", 500)),
            bootstrap_training_rows=int(env.get("SENTINEL_BOOTSTRAP_ROWS", 150_000)),
            redis_maxmemory=env.get("SENTINEL_REDIS_MAXMEMORY") or "512mb",
            data_dir=Path(env["SENTINEL_DATA_DIR"]) if env.get("SENTINEL_DATA_DIR") else None,
            source_idle_after_s=float(env.get("SENTINEL_SOURCE_IDLE_AFTER_S", 5.0)),
            source_idle_probe_every_s=float(env.get("SENTINEL_SOURCE_IDLE_PROBE_EVERY_S", 0.5)),
            key_rate_per_s=int(env.get("SENTINEL_KEY_RATE_PER_S", 2000)),
            api_key=env.get("SENTINEL_API_KEY") or None,
            ui_secure_cookies=env.get("SENTINEL_UI_SECURE_COOKIES", "").strip().lower() in ("1", "true", "yes"),
            ui_session_hours=float(env.get("SENTINEL_UI_SESSION_HOURS", 12.0)),
            external=external,
            received_signing_key=_secret(RECEIVED_SIGNING_KEY),
            received_signing_key_previous=_secret(f"{RECEIVED_SIGNING_KEY}_PREVIOUS"),
            scored_signing_key=_secret(SCORED_SIGNING_KEY),
            scored_signing_key_previous=_secret(f"{SCORED_SIGNING_KEY}_PREVIOUS"),
            webhook_secret=_secret("SENTINEL_WEBHOOK_SECRET"),
            webhook_allow_http=env.get("SENTINEL_WEBHOOK_ALLOW_HTTP", "").strip().lower() in ("1", "true", "yes"),
            trace_url=env.get("SENTINEL_TRACE_URL", "").strip() or None,
        )


# The local PostgreSQL's roles: the application's (owns the schema) and score's (reads only).
LOCAL_DATABASE_ROLE = "sentinel"
LOCAL_SCORE_ROLE = "sentinel_score"


def local_secrets_dir(state_dir: Path) -> Path:
    """Where the local stack keeps the credentials it generates (sentinel.stack.secrets)."""
    return state_dir / "secrets"


def pgpass_file(state_dir: Path, role: str) -> Path:
    """The libpq password file holding `role`'s password for the local PostgreSQL."""
    return local_secrets_dir(state_dir) / f"{role}.pgpass"


def redis_password_file(state_dir: Path) -> Path:
    return local_secrets_dir(state_dir) / "redis"


def local_database_url(state_dir: Path, port: int, *, role: str = LOCAL_DATABASE_ROLE, dbname: str = "sentinel") -> str:
    """A URL of the local PostgreSQL that names the role's password file, never the password:
    safe to show, and enough for libpq (so for every process and test) to log in."""
    passfile = quote(str(pgpass_file(state_dir, role)))
    return f"postgresql://{role}@127.0.0.1:{port}/{dbname}?passfile={passfile}"


def local_metrics_dir(state_dir: Path, component: str) -> Path:
    """Where the local stack's `component` keeps its processes' metrics (METRICS_DIR_VARIABLE)."""
    return state_dir / "metrics" / component


def default_data_dir(state_dir: Path) -> Path:
    return state_dir / "data"


def component_port(component: str, port_base: int, offset: int | None = None) -> int:
    """The local port of a stack component: its own override, else its fixed port, else base + its offset."""
    override = os.environ.get(port_env_name(component))
    if override:
        return int(override)
    if component in FIXED_PORTS:
        return FIXED_PORTS[component]
    return port_base + (PORT_OFFSETS[component] if offset is None else offset)
