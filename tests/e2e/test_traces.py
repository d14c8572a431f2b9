"""One transaction followed from ingest to its alert by its W3C trace id, on the real stack.

The caller's `traceparent` header (W3C Trace Context §3.2) starts the trace; every
event then carries it in the CloudEvents distributed-tracing extension, through Kafka
as the `ce_traceparent` record header (Kafka protocol binding §3.2.3: attributes as
`ce_` headers), and each hop exports its spans by OTLP to the collector the test
stack was started with (tests/conftest.py).
"""

from __future__ import annotations

import orjson
import psycopg
import pytest
from psycopg.rows import dict_row
from support import a_traceparent, a_transaction, blocked_features, created_event, post_binary, records_about, wait_for

from sentinel.stores import redis_client

pytestmark = pytest.mark.stack

EVERY_HOP = {
    "sentinel-ingest",
    "sentinel-kafka-sink-ingress",
    "sentinel-score-source",
    "sentinel-score",
    "sentinel-persist-source",
    "sentinel-persist",
    "sentinel-alert-source",
    "sentinel-alert",
}


@pytest.fixture(scope="module")
def traced(stack, trace_collector):
    """A transaction the champion blocks, sent with a traceparent; (transaction id, trace id, the caller's span id)."""
    traceparent, trace_id = a_traceparent()
    trace_collector.watch(trace_id)
    transaction = a_transaction(**blocked_features(stack.settings))
    response = post_binary(
        stack.url("ingest") + "/", created_event(transaction), key=stack.api_key, traceparent=traceparent
    )
    assert response.status_code == 202, response.text
    return transaction["transaction_id"], trace_id, traceparent.split("-")[2]


def row_of(stack, table: str, transaction_id: str) -> dict | None:
    with psycopg.connect(stack.settings.database_url, row_factory=dict_row) as conn:
        return conn.execute(f"SELECT * FROM {table} WHERE transaction_id = %s", (transaction_id,)).fetchone()


def trace_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


def test_the_stored_decision_records_the_callers_trace(stack, traced):
    transaction_id, trace_id, _ = traced
    row = wait_for(lambda: row_of(stack, "transactions", transaction_id), what="the stored decision")
    assert row["trace_id"] == trace_id


def test_the_alert_records_the_callers_trace(stack, traced):
    transaction_id, trace_id, _ = traced
    alert = wait_for(lambda: row_of(stack, "alerts", transaction_id), what="the alert")
    assert alert["trace_id"] == trace_id


def test_the_alert_on_the_redis_stream_records_the_callers_trace(stack, traced):
    transaction_id, trace_id, _ = traced
    client = redis_client.connect(stack.settings.redis_url)
    [entry] = wait_for(
        lambda: [
            orjson.loads(fields[b"alert"])
            for _, fields in client.xrange(stack.settings.alerts_stream)
            if fields[b"transaction_id"].decode() == transaction_id
        ],
        what="the alert on the stream",
    )
    assert entry["trace_id"] == trace_id


def test_the_received_and_the_scored_events_carry_the_trace_in_their_kafka_headers(stack, traced):
    transaction_id, trace_id, _ = traced
    wait_for(lambda: row_of(stack, "alerts", transaction_id), what="the alert")
    bootstrap = stack.settings.kafka_bootstrap_servers
    [received] = records_about(bootstrap, "sentinel.transactions", transaction_id)
    [scored] = records_about(bootstrap, "sentinel.scored", transaction_id)
    assert trace_of(received["ce_traceparent"]) == trace_of(scored["ce_traceparent"]) == trace_id


def test_every_hop_exports_its_spans_of_the_trace(trace_collector, traced):
    _, trace_id, _ = traced
    wait_for(
        lambda: EVERY_HOP <= {span.service for span in trace_collector.spans_of(trace_id)},
        timeout=30,
        what=f"spans of every hop (have {sorted({span.service for span in trace_collector.spans_of(trace_id)})})",
    )


def test_the_spans_form_one_tree_rooted_at_the_callers_span(trace_collector, traced):
    _, trace_id, caller_span = traced
    wait_for(lambda: EVERY_HOP <= {span.service for span in trace_collector.spans_of(trace_id)}, timeout=30)
    spans = trace_collector.spans_of(trace_id)
    known = {span.span_id for span in spans} | {caller_span}
    assert [span for span in spans if span.parent_span_id not in known] == []
    [ingest] = [span for span in spans if span.service == "sentinel-ingest"]
    assert ingest.parent_span_id == caller_span


def test_no_hop_marks_the_traced_transaction_failed(trace_collector, traced):
    _, trace_id, _ = traced
    wait_for(lambda: EVERY_HOP <= {span.service for span in trace_collector.spans_of(trace_id)}, timeout=30)
    assert [(span.service, span.name) for span in trace_collector.spans_of(trace_id) if span.failed] == []
