"""Every component of the running stack serves /metrics that Prometheus's own parser reads, and the counts
follow the traffic: four functions, the KafkaSink ingress and each KafkaSource dispatcher.

Counts are compared before and after a run, with the pipeline quiet before it (no lag,
nothing in flight, as the dispatchers' own metrics say), since the session's stack is shared.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from support import a_transaction, created_event, post_binary, wait_for

from sentinel.stack.components import EVENTING, FUNCTION
from sentinel.stack.local import LocalStack

pytestmark = pytest.mark.stack

SENT = 12
# A family shows once it counted something: in multiprocess mode an unused label set has no file.
FUNCTION_FAMILIES = {
    "sentinel_function_requests",
    "sentinel_function_request_duration_seconds",
    "sentinel_function_in_flight_requests",
}
EXPECTED = {
    "ingest": FUNCTION_FAMILIES | {"sentinel_function_duplicates", "sentinel_function_errors"},
    "score": FUNCTION_FAMILIES
    | {"sentinel_score_decisions", "sentinel_score_risk_score", "sentinel_score_setup_changes", "sentinel_score_model"},
    "persist": FUNCTION_FAMILIES,
    "alert": FUNCTION_FAMILIES,
    "kafka-sink-ingress": {"sentinel_ingress_records", "sentinel_ingress_produce_seconds", "process_cpu_seconds"},
}
DISPATCHER_FAMILIES = {
    "sentinel_dispatcher_deliveries",
    "sentinel_dispatcher_retries",
    "sentinel_dispatcher_consumer_lag",
    "sentinel_dispatcher_committed_offset",
    "sentinel_dispatcher_in_flight_deliveries",
    "sentinel_dispatcher_delivery_attempt_seconds",
    "sentinel_dispatcher_commits",
}

Samples = list[tuple[str, dict[str, str], float]]


def addresses(stack) -> dict[str, str]:
    """Every function's, dispatcher's and the ingress's address."""
    return {
        component.name: component.address
        for component in LocalStack(stack.settings).components
        if component.kind in (EVENTING, FUNCTION)
    }


def families(url: str) -> dict[str, list]:
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, url
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4"), url
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def samples(url: str) -> Samples:
    return [(sample.name, sample.labels, sample.value) for found in families(url).values() for sample in found]


def total(found: Samples, name: str, **labels: str) -> float:
    return sum(value for sample, have, value in found if sample == name and labels.items() <= have.items())


def scrape_all(stack) -> dict[str, Samples]:
    return {name: samples(url) for name, url in addresses(stack).items()}


def dispatchers(stack) -> list[str]:
    return [name for name in addresses(stack) if name.endswith("-source")]


def quiet(stack) -> bool:
    """No dispatcher has lag or a delivery in flight."""
    for name in dispatchers(stack):
        found = samples(addresses(stack)[name])
        if total(found, "sentinel_dispatcher_consumer_lag") or total(found, "sentinel_dispatcher_in_flight_deliveries"):
            return False
    return True


def stored(stack, transaction_ids: Iterable[str]) -> bool:
    ids = list(transaction_ids)
    with psycopg.connect(stack.settings.database_url) as conn:
        (count,) = conn.execute("SELECT count(*) FROM transactions WHERE transaction_id = ANY(%s)", (ids,)).fetchone()
    return count == len(ids)


@pytest.fixture(scope="module")
def run(stack):
    """SENT transactions through ingest (one sent twice, and one request without a key), every one stored,
    with a scrape of every component before and after; and what identified them, which no label may carry."""
    wait_for(lambda: quiet(stack), timeout=60, what="a quiet pipeline")
    before = scrape_all(stack)
    transactions = [a_transaction() for _ in range(SENT)]
    event_ids = []
    for transaction in transactions:
        event_ids.append(uuid.uuid4().hex)
        event = created_event(transaction, id=event_ids[-1])
        assert post_binary(stack.url("ingest") + "/", event, key=stack.api_key).status_code == 202
    again = post_binary(stack.url("ingest") + "/", created_event(transactions[0]), key=stack.api_key)
    assert again.json()["duplicates"] == [transactions[0]["transaction_id"]]
    assert post_binary(stack.url("ingest") + "/", created_event(a_transaction())).status_code == 401
    wait_for(lambda: stored(stack, [t["transaction_id"] for t in transactions]), timeout=60, what="every decision")
    wait_for(lambda: quiet(stack), timeout=60, what="the pipeline to settle")
    identifiers = {t["transaction_id"] for t in transactions} | {t["user_id"] for t in transactions}
    return before, scrape_all(stack), identifiers | set(event_ids) | {stack.api_key}


def test_every_function_the_ingress_and_each_dispatcher_serve_metrics_the_prometheus_parser_reads(stack, run):
    found = {name: set(families(url)) for name, url in addresses(stack).items()}
    assert len(dispatchers(stack)) == 3
    for name, names in found.items():
        expected = DISPATCHER_FAMILIES if name.endswith("-source") else EXPECTED[name]
        assert expected <= names, (name, expected - names)


def test_score_counts_one_decision_for_each_transaction_sent(run):
    before, after, _ = run
    decided = total(after["score"], "sentinel_score_decisions_total") - total(
        before["score"], "sentinel_score_decisions_total"
    )
    risks = total(after["score"], "sentinel_score_risk_score_count") - total(
        before["score"], "sentinel_score_risk_score_count"
    )
    assert decided == risks == SENT


def test_ingest_counts_each_request_the_refusal_and_the_duplicate(run):
    before, after, _ = run

    def moved(name: str, **labels: str) -> float:
        return total(after["ingest"], name, **labels) - total(before["ingest"], name, **labels)

    assert moved("sentinel_function_requests_total", code="202") == SENT + 1
    assert moved("sentinel_function_requests_total", code="401") == 1
    assert moved("sentinel_function_errors_total", kind="client") == 1
    assert moved("sentinel_function_request_duration_seconds_count") == SENT + 2
    assert moved("sentinel_function_duplicates_total") == 1


def test_the_ingress_counts_each_record_it_wrote_by_topic(run):
    before, after, _ = run
    for topic in ("sentinel.transactions", "sentinel.scored"):
        labels = {"topic": topic, "outcome": "acknowledged"}
        written = total(after["kafka-sink-ingress"], "sentinel_ingress_records_total", **labels)
        assert written - total(before["kafka-sink-ingress"], "sentinel_ingress_records_total", **labels) == SENT


def test_each_dispatcher_counts_the_deliveries_and_commits_it_made(run):
    before, after, _ = run
    for name in ("score-source", "persist-source", "alert-source"):
        delivered = total(after[name], "sentinel_dispatcher_deliveries_total", outcome="delivered")
        assert delivered - total(before[name], "sentinel_dispatcher_deliveries_total", outcome="delivered") == SENT
        attempts = total(after[name], "sentinel_dispatcher_delivery_attempt_seconds_count", target="sink")
        assert (
            attempts - total(before[name], "sentinel_dispatcher_delivery_attempt_seconds_count", target="sink") >= SENT
        )
        assert total(after[name], "sentinel_dispatcher_commits_total") > total(
            before[name], "sentinel_dispatcher_commits_total"
        )


def test_persist_and_alert_answer_every_delivery(run):
    before, after, _ = run
    for name in ("persist", "alert"):
        answered = total(after[name], "sentinel_function_requests_total", code="200")
        assert answered - total(before[name], "sentinel_function_requests_total", code="200") == SENT


def test_score_reports_the_champion_it_loaded(run):
    _, after, _ = run
    assert total(after["score"], "sentinel_score_setup_changes_total", part="champion") >= 1
    assert total(after["score"], "sentinel_score_model", role="champion") == 1


def test_no_label_carries_a_transaction_user_event_id_or_key_after_a_run(run):
    _, after, identifiers = run
    values = {value for found in after.values() for _, labels, _ in found for value in labels.values()}
    assert not values & identifiers
    assert not [value for value in values if any(identifier in value for identifier in identifiers)]


def test_sentinel_status_shows_each_functions_request_rate_and_percentiles(stack, run):
    result = stack.sentinel("status", "--json")
    assert result.returncode in (0, 1), result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    for name in ("ingest", "score", "persist", "alert"):
        requests_row = rows[name]["requests"]
        assert requests_row is not None and requests_row["window_s"] >= 1.0, name
        assert set(requests_row) == {"window_s", "rate_per_s", "errors_per_s", "p50_ms", "p99_ms"}
    assert rows["score-source"]["requests"] is None
