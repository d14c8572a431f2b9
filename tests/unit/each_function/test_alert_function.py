"""alert, in memory: one alert for every review or block, in the table, the stream and the webhook."""

import pytest
from fakes import MemoryStream, MemoryWebhook, scored, scored_events
from support import a_transaction

from functions.alert.main import Alert
from sentinel.core.errors import Unavailable


def decided(decision):
    return scored(a_transaction(Amount=1234.5), decision)


@pytest.fixture
def stream():
    return MemoryStream()


@pytest.fixture
def webhook():
    return MemoryWebhook()


@pytest.fixture
def alert(alerts, stream, webhook):
    return Alert(alerts, stream, scored_events(), webhook)


@pytest.mark.parametrize("decision", ["review", "block"])
def test_a_review_or_block_becomes_an_alert_in_the_table_and_the_stream(alert, alerts, stream, decision):
    event = decided(decision)
    reply = alert.handle([event])
    assert reply.document == {"alerted": [event.id], "duplicates": []}
    assert list(alerts.rows) == [event.id] and [entry["transaction_id"] for entry in stream.entries] == [event.id]


def test_the_alert_says_what_was_decided_by_which_model_for_how_much(alert, alerts):
    event = decided("block")
    alert.handle([event])
    assert {key: alerts.rows[event.id][key] for key in ("decision", "risk_score", "model_version", "amount")} == {
        "decision": "block",
        "risk_score": 0.95,
        "model_version": "v0003",
        "amount": 1234.5,
    }


def test_an_approval_is_acknowledged_and_ignored(alert, alerts, stream, webhook):
    assert alert.handle([decided("approve")]).document == {"alerted": [], "duplicates": []}
    assert (alerts.rows, stream.entries, webhook.posted) == ({}, [], [])


def test_a_redelivered_block_is_a_duplicate_recorded_once(alert, alerts, stream):
    event = decided("block")
    alert.handle([event])
    assert alert.handle([event]).document == {"alerted": [], "duplicates": [event.id]}
    assert len(alerts.rows) == len(stream.entries) == 1


def test_the_webhook_gets_each_new_alert_once(alert, webhook):
    event = decided("review")
    alert.handle([event])
    alert.handle([event])
    assert [posted["transaction_id"] for posted in webhook.posted] == [event.id]


def test_a_failing_webhook_is_unavailable_and_posted_again_on_redelivery(alert, webhook):
    event = decided("block")
    webhook.failure = Unavailable("the alert webhook answered 500")
    with pytest.raises(Unavailable):
        alert.handle([event])
    webhook.failure = None
    alert.handle([event])
    assert [posted["transaction_id"] for posted in webhook.posted] == [event.id]


def test_without_a_webhook_alerts_are_still_recorded(alerts, stream):
    Alert(alerts, stream, scored_events()).handle([decided("review")])
    assert len(alerts.rows) == 1


def test_stop_releases_the_table_the_stream_and_the_webhook(alert, alerts, stream, webhook):
    alert.stop()
    assert alerts.closed and stream.closed and webhook.closed
