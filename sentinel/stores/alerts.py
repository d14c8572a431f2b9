"""Where an alert is recorded: the `alerts` table and the Redis alerts stream, each once per transaction.

- PostgreSQL: one `alerts` row per (client_id, transaction_id) (insert-if-absent), which also
  remembers whether the operator's webhook has taken the alert;
- the Redis stream: a marker key and the XADD happen in one Lua script, so a
  transaction is added to the stream exactly once, however often it is redelivered.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from sentinel.stores import redis_client
from sentinel.stores.database import create_pool

AlertDocument = dict[str, Any]  # an alert as it is stored, streamed and posted

INSERT_ALERT = """
INSERT INTO alerts (client_id, transaction_id, user_id, decision, risk_score, model_version, reasons, rule, trace_id)
VALUES (
    %(client_id)s, %(transaction_id)s, %(user_id)s, %(decision)s, %(risk_score)s, %(model_version)s, %(reasons)s,
    %(rule)s, %(trace_id)s
)
ON CONFLICT (client_id, transaction_id) DO NOTHING
"""

_STREAM_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
    return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'transaction_id', ARGV[3], 'alert', ARGV[4])
end
return false
"""
STREAMED_PREFIX = "sentinel:alerts:streamed:"


class AlertStore:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    @classmethod
    def connect(cls, database_url: str) -> AlertStore:
        return cls(create_pool(database_url, name="alert"))

    def add(self, alert: AlertDocument) -> bool:
        """Store the alert; True when this call created it, False when it was there already."""
        with self._pool.connection() as conn:
            rule = Jsonb(alert["rule"]) if alert.get("rule") else None
            return conn.execute(INSERT_ALERT, {**alert, "reasons": Jsonb(alert["reasons"]), "rule": rule}).rowcount == 1

    def webhook_delivered(self, client_id: str, transaction_id: str) -> bool:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT webhook_delivered_at FROM alerts WHERE client_id = %s AND transaction_id = %s",
                (client_id, transaction_id),
            ).fetchone()
        return row is not None and row[0] is not None

    def mark_webhook_delivered(self, client_id: str, transaction_id: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE alerts SET webhook_delivered_at = now() WHERE client_id = %s AND transaction_id = %s",
                (client_id, transaction_id),
            )

    def close(self) -> None:
        self._pool.close()


class AlertStream:
    """The capped Redis stream analysts' tools follow; each transaction appears in it once."""

    def __init__(self, client: redis.Redis, *, stream: str, max_length: int, marker_ttl_seconds: int) -> None:
        self._client = client
        self.stream = stream
        self._max_length = max_length
        self._marker_ttl = marker_ttl_seconds
        self._add_once = client.register_script(_STREAM_ONCE)

    @classmethod
    def connect(cls, redis_url: str, **options: Any) -> AlertStream:
        return cls(redis_client.connect(redis_url), **options)

    def publish(self, alert: AlertDocument) -> None:
        self._add_once(
            keys=[f"{STREAMED_PREFIX}{alert['client_id']}:{alert['transaction_id']}", self.stream],
            args=[self._marker_ttl, self._max_length, alert["transaction_id"], orjson.dumps(alert)],
        )

    def close(self) -> None:
        self._client.close()
