"""Recording an alert for a review or block decision, once per transaction.

Three effects, each idempotent under redelivery:
- PostgreSQL: one `alerts` row per transaction_id (insert-if-absent);
- the Redis alerts stream: a marker key and the XADD happen in one Lua script,
  so a transaction is added to the stream exactly once;
- the webhook (when configured): POSTed until it answers 2xx, then marked
  delivered on the row, so a redelivered event does not POST it again.
"""

from __future__ import annotations

import json

import redis
import requests
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from sentinel import decision
from sentinel.errors import Unavailable

_STREAM_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
    return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'transaction_id', ARGV[3], 'alert', ARGV[4])
end
return false
"""
STREAMED_PREFIX = "sentinel:alerts:streamed:"

INSERT_ALERT = """
INSERT INTO alerts (transaction_id, user_id, decision, risk_score, model_version, reasons)
VALUES (%(transaction_id)s, %(user_id)s, %(decision)s, %(risk_score)s, %(model_version)s, %(reasons)s)
ON CONFLICT (transaction_id) DO NOTHING
"""


class AlertRecorder:
    def __init__(
        self,
        pool: ConnectionPool,
        client: redis.Redis,
        *,
        stream: str,
        stream_maxlen: int,
        marker_ttl_seconds: int,
        webhook_url: str | None,
    ):
        self._pool = pool
        self._stream = stream
        self._stream_maxlen = stream_maxlen
        self._marker_ttl = marker_ttl_seconds
        self._stream_once = client.register_script(_STREAM_ONCE)
        self._webhook_url = webhook_url
        self._http = requests.Session()

    def record(self, score: decision.Score) -> bool:
        """Record the alert; True when this call created it, False for a repeat."""
        alert = _alert(score)
        with self._pool.connection() as conn:
            created = conn.execute(INSERT_ALERT, {**alert, "reasons": Jsonb(alert["reasons"])}).rowcount == 1
        self._stream_once(
            keys=[STREAMED_PREFIX + alert["transaction_id"], self._stream],
            args=[self._marker_ttl, self._stream_maxlen, alert["transaction_id"], json.dumps(alert)],
        )
        if self._webhook_url:
            self._deliver_webhook(alert)
        return created

    def _deliver_webhook(self, alert: dict) -> None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT webhook_delivered_at FROM alerts WHERE transaction_id = %s", (alert["transaction_id"],)
            ).fetchone()
            if row and row[0] is not None:
                return
            try:
                response = self._http.post(self._webhook_url, json=alert, timeout=5)
            except requests.RequestException as error:
                raise Unavailable(f"the alert webhook is unreachable: {error}") from None
            if not 200 <= response.status_code < 300:
                raise Unavailable(f"the alert webhook answered {response.status_code}")
            conn.execute(
                "UPDATE alerts SET webhook_delivered_at = now() WHERE transaction_id = %s",
                (alert["transaction_id"],),
            )

    def close(self) -> None:
        self._http.close()


def _alert(score: decision.Score) -> dict:
    return {
        "transaction_id": score["transaction_id"],
        "user_id": score["user_id"],
        "decision": score["decision"],
        "risk_score": score["risk_score"],
        "model_version": score["model_version"],
        "amount": score["Amount"],
        "scored_at": score["scored_at"],
        "reasons": score.get("reasons", []),
    }
