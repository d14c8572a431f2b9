"""The end-to-end benchmark's baseline does the pipeline's work, so the two are compared fairly."""

from __future__ import annotations

import subprocess

import psycopg
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from benchmarks import processes, workload
from benchmarks.end_to_end import produce_received

COUNT = 300


@pytest.mark.stack
def test_the_batch_consumer_stores_every_record_with_behaviour_and_explains_each_alert(stack):
    servers = stack.settings.kafka_bootstrap_servers
    topic = "bench.baseline.test"
    admin = AdminClient({"bootstrap.servers": servers})
    admin.create_topics([NewTopic(topic, 6, 1)])[topic].result()
    produce_received(servers, topic, workload.transactions(COUNT, fraud_share=0.2), "baseline-", count=COUNT, rate=None)

    consumer = subprocess.run(
        [processes.PYTHON, "-m", "benchmarks.batch_consumer", "--topic", topic, "--group", "g", "--expect", str(COUNT)],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert consumer.returncode == 0, consumer.stderr
    with psycopg.connect(stack.settings.database_url) as conn:
        rows = conn.execute(
            "SELECT decision, behaviour, reasons FROM transactions WHERE transaction_id LIKE 'baseline-%'"
        ).fetchall()
        alerts = conn.execute("SELECT count(*) FROM alerts WHERE transaction_id LIKE 'baseline-%'").fetchone()[0]
    assert len(rows) == COUNT
    assert all(behaviour for _, behaviour, _ in rows)
    flagged = [reasons for decision, _, reasons in rows if decision != "approve"]
    assert flagged and all(flagged)
    assert alerts == len(flagged)
