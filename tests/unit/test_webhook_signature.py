"""Signed alert webhooks: the Sentinel-Signature header, how a receiver checks it, and the POST itself."""

import time

import pytest
from support import RecordingSink, Reply

from sentinel.core import webhook_signature
from sentinel.core.errors import Unavailable
from sentinel.serving.webhook import Webhook

SECRET = "the webhook secret"
BODY = b'{"transaction_id":"t-1","decision":"block"}'
NOW = 1_767_225_600


def test_the_header_carries_the_timestamp_and_the_hmac_of_timestamp_dot_body():
    header = webhook_signature.header_value(SECRET, BODY, NOW)
    assert header.startswith(f"t={NOW},v1=") and len(header.split("v1=")[1]) == 64
    assert webhook_signature.verifies(SECRET, header, BODY, NOW)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("another secret", BODY, NOW),
        (SECRET, BODY.replace(b"block", b"approve"), NOW),
        (SECRET, BODY, NOW + webhook_signature.TOLERANCE_S + 1),
        (SECRET, BODY, NOW - webhook_signature.TOLERANCE_S - 1),
    ],
    ids=["another secret", "a changed body", "a replay too old", "a timestamp from the future"],
)
def test_a_receiver_refuses(secret, body, now):
    header = webhook_signature.header_value(SECRET, BODY, NOW)
    assert not webhook_signature.verifies(secret, header, body, now)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=1,t=2,v1=abc", "t=x,v1=abc", "t=²,v1=abc"])
def test_a_receiver_refuses_a_missing_or_malformed_header(header):
    assert not webhook_signature.verifies(SECRET, header, BODY, NOW)


@pytest.fixture
def receiver():
    sink = RecordingSink()
    yield sink
    sink.stop()


def test_a_plain_http_webhook_is_refused_unless_allowed(receiver):
    with pytest.raises(ValueError, match="SENTINEL_WEBHOOK_ALLOW_HTTP"):
        Webhook(receiver.url, SECRET)


def test_a_webhook_without_a_secret_is_refused():
    with pytest.raises(ValueError, match="SENTINEL_WEBHOOK_SECRET"):
        Webhook("https://hooks.example/alerts", None)


def test_each_post_is_signed_so_the_receiver_can_verify_it(receiver):
    webhook = Webhook(receiver.url, SECRET, allow_http=True)
    webhook.post({"transaction_id": "t-1"})
    [request] = receiver.received
    assert webhook_signature.verifies(SECRET, request.headers["sentinel-signature"], request.body, time.time())


def test_a_redirect_is_not_followed_and_the_alert_is_not_delivered(receiver):
    receiver.script(Reply(status=307, headers={"Location": "http://127.0.0.1:9/elsewhere"}))
    webhook = Webhook(receiver.url, SECRET, allow_http=True)
    with pytest.raises(Unavailable, match="307"):
        webhook.post({"transaction_id": "t-1"})
    assert len(receiver.received) == 1
