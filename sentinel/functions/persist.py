"""persist: stores every scored decision in PostgreSQL, exactly once per transaction.

KafkaSource delivers at least once, so the insert is keyed on transaction_id
and a repeat is a no-op that still answers 200. Concurrent requests share
transactions and so commits (sentinel.group_commit); each is answered only once
its rows are committed.
"""

from __future__ import annotations

import flask
from psycopg.types.json import Jsonb

from sentinel import db, decision, wire
from sentinel.config import Settings
from sentinel.group_commit import GroupCommitter
from sentinel.runtime import Function

INSERT = """
INSERT INTO transactions (
    transaction_id, user_id, amount, event_time, payload, risk_score, decision,
    model_version, thresholds, received_at, scored_at
) VALUES (
    %(transaction_id)s, %(user_id)s, %(amount)s, %(event_time)s, %(payload)s, %(risk_score)s,
    %(decision)s, %(model_version)s, %(thresholds)s, %(received_at)s, %(scored_at)s
)
ON CONFLICT (transaction_id) DO NOTHING
RETURNING transaction_id
"""


class Persist(Function):
    name = "persist"

    def start(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = db.create_pool(settings.database_url, name="persist")
        self.committer = GroupCommitter(self.pool, INSERT)

    def stop(self) -> None:
        self.pool.close()

    def handle(self, request: flask.Request) -> flask.Response:
        scores = decision.read_scores(request, self.settings.max_body_bytes, "persist")
        inserted = self.committer.store([_row(score) for score in scores])
        stored = [score["transaction_id"] for score, new in zip(scores, inserted, strict=True) if new]
        duplicates = [score["transaction_id"] for score, new in zip(scores, inserted, strict=True) if not new]
        return wire.json_response({"stored": stored, "duplicates": duplicates})


def _row(score: decision.Score) -> dict:
    item = score["transaction"]
    return {
        "transaction_id": score["transaction_id"],
        "user_id": score["user_id"],
        "amount": item["Amount"],
        "event_time": item.get("event_time"),
        "payload": Jsonb(item),
        "risk_score": score["risk_score"],
        "decision": score["decision"],
        "model_version": score["model_version"],
        "thresholds": Jsonb(score["thresholds"]),
        "received_at": score["received_at"],
        "scored_at": score["scored_at"],
    }
