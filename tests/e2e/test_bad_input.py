"""Bad input never stalls the pipeline: each input is refused at ingest or stored, and none holds up
the next transaction of the same user (same partition) by more than 2 s.

A poison that gets past ingest (an event forged or corrupted between hops, written
straight into `sentinel.scored` through the KafkaSink ingress) is refused by persist
with a 4xx, so the dispatcher dead-letters it at once instead of retrying it while
its partition waits.
"""

from __future__ import annotations

import json
import time
import uuid

import psycopg
import pytest
import requests
from confluent_kafka import Consumer, TopicPartition
from support import a_champion_score, a_transaction, bearer, signed_scored, wait_for

from sentinel.codec import http
from sentinel.core import events

pytestmark = pytest.mark.stack

FOLLOWER_DEADLINE_S = 2.0
DEAD_LETTER_DEADLINE_S = 1.0
DEAD_LETTER_TOPIC = "sentinel.dlq"

# Each: what replaces part of a valid transaction's JSON body. Raw text, so inputs
# Python's json module would never write (huge integers, NaN, deep nesting) go as sent.
BAD_INPUTS = {
    "a NUL character in merchant_id": ('"merchant_id": "m-1"', '"merchant_id": "m\\u0000x"'),
    "a control character in merchant_id": ('"merchant_id": "m-1"', '"merchant_id": "m\\u0007x"'),
    "a lone surrogate in merchant_id": ('"merchant_id": "m-1"', '"merchant_id": "m\\ud800x"'),
    "an ISO week date as event_time": ('"event_time": "T"', '"event_time": "2011-W01-2T00:05:23+00:00"'),
    "a comma fraction in event_time": ('"event_time": "T"', '"event_time": "2011-01-03T00:05:23,5+00:00"'),
    "an event_time without an offset": ('"event_time": "T"', '"event_time": "2011-01-03T00:05:23"'),
    "an event_time on February 30": ('"event_time": "T"', '"event_time": "2011-02-30T00:05:23Z"'),
    "an integer of 400 digits as Amount": ('"Amount": 42.5', '"Amount": 1' + "0" * 400),
    "a float beyond double precision as V1": ('"V1": 0.0', '"V1": 1e400'),
    "NaN as Amount": ('"Amount": 42.5', '"Amount": NaN'),
    "nesting 100,000 deep as currency": ('"currency": "EUR"', '"currency": ' + "[" * 100_000 + "]" * 100_000),
}


def a_body(transaction: dict) -> str:
    template = {**transaction, "merchant_id": "m-1", "event_time": "T", "currency": "EUR", "V1": 0.0}
    return json.dumps(template)


def post_to_ingest(stack, body: str) -> requests.Response:
    headers = {
        "ce-specversion": "1.0",
        "ce-type": events.TRANSACTION_CREATED,
        "ce-source": "/tests/bad-input",
        "ce-id": uuid.uuid4().hex,
        "content-type": "application/json",
        **bearer(stack.api_key),
    }
    return requests.post(stack.url("ingest") + "/", data=body.encode(), headers=headers, timeout=30)


def stored(stack, transaction_id: str) -> bool:
    with psycopg.connect(stack.settings.database_url) as conn:
        row = conn.execute("SELECT 1 FROM transactions WHERE transaction_id = %s", (transaction_id,)).fetchone()
    return row is not None


def stored_within(stack, transaction_id: str, seconds: float) -> float:
    """Seconds until `transaction_id` was stored; fails past `seconds`."""
    started = time.monotonic()
    wait_for(lambda: stored(stack, transaction_id), timeout=seconds, every=0.05, what=f"{transaction_id} stored")
    return time.monotonic() - started


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_refused_at_ingest_with_a_4xx_naming_the_problem(stack, name):
    old, new = BAD_INPUTS[name]
    body = a_body(a_transaction(user_id="u-bad-input"))
    assert old in body
    response = post_to_ingest(stack, body.replace(old, new))
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"] and "Traceback" not in response.text


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_does_not_hold_up_the_next_transaction_of_its_user(stack, name):
    old, new = BAD_INPUTS[name]
    post_to_ingest(stack, a_body(a_transaction(user_id="u-bad-then-good")).replace(old, new))
    follower = a_transaction(user_id="u-bad-then-good")
    assert post_to_ingest(stack, json.dumps(follower)).status_code == 202
    stored_within(stack, follower["transaction_id"], FOLLOWER_DEADLINE_S)


def scored_event_for(stack, transaction: dict):
    """The event score would emit about `transaction`, signed with the stack's scored key."""
    return signed_scored(a_champion_score(stack.settings, transaction), stack.settings.scored_signing_key)


def dead_letter_end(stack) -> int:
    consumer = Consumer({"bootstrap.servers": stack.settings.kafka_bootstrap_servers, "group.id": "unused"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(DEAD_LETTER_TOPIC, 0), timeout=10)[1]
    finally:
        consumer.close()


def seconds_until_dead_lettered(stack, offset: int, event_id: str, since: float) -> float:
    """Seconds from `since` until `event_id` appeared in the dead-letter topic at or after `offset`."""
    consumer = Consumer(
        {"bootstrap.servers": stack.settings.kafka_bootstrap_servers, "group.id": "unused", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(DEAD_LETTER_TOPIC, 0, offset)])
    try:
        while time.monotonic() - since < 30:
            record = consumer.poll(0.05)
            if (
                record is not None
                and record.error() is None
                and ("ce_id", event_id.encode()) in (record.headers() or [])
            ):
                return time.monotonic() - since
    finally:
        consumer.close()
    raise AssertionError(f"{event_id} never reached {DEAD_LETTER_TOPIC}")


def test_a_poison_past_ingest_is_dead_lettered_within_a_second_and_its_partition_flows_on(stack):
    ingress = stack.url("kafka-sink-ingress") + "/sentinel/sentinel-scored"
    poison = a_transaction(user_id="u-poison", merchant_id="m\x00poison")
    follower = a_transaction(user_id="u-poison")
    start = dead_letter_end(stack)
    sent_at = time.monotonic()
    for item in (poison, follower):
        headers, body = http.binary(scored_event_for(stack, item))
        assert requests.post(ingress, data=body, headers=headers, timeout=10).status_code == 202
    assert seconds_until_dead_lettered(stack, start, poison["transaction_id"], sent_at) <= DEAD_LETTER_DEADLINE_S
    stored_within(stack, follower["transaction_id"], FOLLOWER_DEADLINE_S)
    assert not stored(stack, poison["transaction_id"])
