"""Benchmark 6's subject: the single-process batch consumer the event functions are measured against.

    python -m benchmarks.batch_consumer --topic T --group G --expect N

Kafka → ONNX → PostgreSQL, the original project's design: consume up to a
thousand records at once, validate each transaction as ingest and score do, take
the batch into its users' histories in Redis for the behavioural features (one
round trip, as score does for a request), score the whole batch with one call of
the champion's ONNX session, explain each review and block, insert the decisions
(and an alert row for each review or block) in one transaction, then commit the
offsets. At-least-once like the pipeline: a crash before the offset commit repeats
the batch, and the inserts are idempotent. Exits once N records were stored.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import psycopg
from confluent_kafka import Consumer, Message
from psycopg.types.json import Jsonb

from eventing.kafka_clients import consumer_config
from sentinel.config import Settings
from sentinel.core import behaviour, transaction
from sentinel.core.decision import ThresholdOverrides, Thresholds, decide, thresholds_for
from sentinel.core.events import utc_now
from sentinel.core.model import OnnxModel
from sentinel.stores import redis_client, registry
from sentinel.stores.behaviour import UserHistories
from sentinel.stores.decisions import INSERT as INSERT_TRANSACTION

BATCH = 1000
INSERT_ALERT = """
INSERT INTO alerts (client_id, transaction_id, user_id, decision, risk_score, model_version)
VALUES (%(client_id)s, %(transaction_id)s, %(user_id)s, %(decision)s, %(risk_score)s, %(model_version)s)
ON CONFLICT (client_id, transaction_id) DO NOTHING
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch_consumer", description=__doc__.split("\n")[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--expect", type=int, required=True, help="stop after storing this many records")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    with psycopg.connect(settings.database_url, autocommit=False) as conn:
        model = OnnxModel(registry.get(conn, registry.champion_version(conn)))
        conn.commit()
        histories = UserHistories(redis_client.connect(settings.redis_url))
        overrides = ThresholdOverrides(settings.review_threshold, settings.block_threshold)
        thresholds = thresholds_for(model.record.thresholds, overrides)
        consumer = Consumer(
            consumer_config(
                settings.kafka_bootstrap_servers, args.group, initial_offset="earliest", client_id=args.group
            )
        )
        consumer.subscribe([args.topic])
        stored, deadline = 0, time.monotonic() + args.timeout
        while stored < args.expect and time.monotonic() < deadline:
            records = [record for record in consumer.consume(BATCH, timeout=0.05) if record.error() is None]
            if not records:
                continue
            stored += _store(conn, histories, model, thresholds, records)
            consumer.commit(asynchronous=False)
        consumer.close()
        histories.close()
    print(json.dumps({"stored": stored}))
    return 0 if stored >= args.expect else 1


def _store(
    conn: psycopg.Connection,
    histories: UserHistories,
    model: OnnxModel,
    thresholds: Thresholds,
    records: list[Message],
) -> int:
    items = [
        transaction.validate(json.loads(record.value()), extra_fields=("received_at",), with_client=True)
        for record in records
    ]
    observed = histories.observe(
        [
            (
                (item[transaction.CLIENT_FIELD], item["user_id"]),
                behaviour.observation_of(item, received_at=item["received_at"]),
            )
            for item in items
        ]
    )
    inputs = [model.features_of(item, values) for item, values in zip(items, observed, strict=True)]
    risks = model.predict(np.array(inputs, dtype=np.float32))
    scored_at = utc_now()
    rows, alerts = [], []
    for item, values, row_input, risk in zip(items, observed, inputs, risks, strict=True):
        verdict = decide(float(risk), thresholds)
        row = {
            "client_id": item[transaction.CLIENT_FIELD],
            "transaction_id": item["transaction_id"],
            "user_id": item["user_id"],
            "amount": item["Amount"],
            "event_time": item.get("event_time"),
            "payload": Jsonb({key: value for key, value in item.items() if key not in ("received_at", "client_id")}),
            "risk_score": float(risk),
            "decision": verdict,
            "model_version": model.version,
            "thresholds": Jsonb(thresholds.to_json()),
            "received_at": item["received_at"],
            "scored_at": scored_at,
            "behaviour": Jsonb(dict(zip(behaviour.FEATURES, values, strict=True))),
            "reasons": Jsonb(model.reasons(row_input) if verdict != "approve" else []),
            "rule": None,
            "shadow": None,
            "trace_id": None,
        }
        rows.append(row)
        if verdict != "approve":
            alerts.append(row)
    with conn.cursor() as cursor:
        cursor.executemany(INSERT_TRANSACTION, rows)
        if alerts:
            cursor.executemany(INSERT_ALERT, alerts)
    conn.commit()
    return len(rows)


if __name__ == "__main__":
    sys.exit(main())
