"""A real dead letter on the running stack: seen with `sentinel dlq`, in the UI, and replayed.

A scored event without a genuine score, written to sentinel.scored through the KafkaSink
ingress, is refused with a 400 by persist and by alert: two dead letters.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
import requests
from support import SENTINEL, bearer, wait_for

from sentinel.codec import http
from sentinel.codec.event import json_event
from sentinel.core import events


def dead_letters(stack) -> list[dict]:
    listed = stack.sentinel("dlq", "list", "--json", "--limit", "1000")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    return json.loads(listed.stdout)["dead_letters"]


def letters_of(stack, event_id: str) -> list[dict]:
    return [letter for letter in dead_letters(stack) if letter["event_id"] == event_id]


@pytest.fixture
def refused(stack) -> str:
    """The id of an event persist and alert have both dead-lettered."""
    event_id = f"t-dlq-{uuid.uuid4().hex[:12]}"
    event = json_event(
        {
            "id": event_id,
            "source": "/tests/dead-letters",
            "type": events.TRANSACTION_SCORED,
            "subject": event_id,
            "partitionkey": "u-dlq",
        },
        {"transaction_id": event_id},
    )
    headers, body = http.binary(event)
    sink = stack.url("kafka-sink-ingress") + "/sentinel/sentinel-scored"
    assert requests.post(sink, data=body, headers=headers, timeout=15).status_code == 202
    wait_for(lambda: len(letters_of(stack, event_id)) == 2, timeout=60, every=0.5, what="two dead letters")
    return event_id


@pytest.mark.stack
def test_dlq_list_shows_each_refusal_with_its_code_destination_and_error(stack, refused):
    letters = letters_of(stack, refused)
    assert {letter["destination"] for letter in letters} == {stack.url("persist"), stack.url("alert")}
    for letter in letters:
        assert (letter["type"], letter["subject"], letter["error_code"]) == (events.TRANSACTION_SCORED, refused, 400)
        assert "risk_score" in letter["error"]


@pytest.mark.stack
def test_dlq_show_gives_every_attribute_the_decoded_error_and_the_data(stack, refused):
    [letter, _] = letters_of(stack, refused)
    shown = stack.sentinel("dlq", "show", letter["id"], "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    document = json.loads(shown.stdout)
    assert document["attributes"]["partitionkey"] == "u-dlq"
    assert document["error_data"]["error"]
    assert document["data"] == {"transaction_id": refused}


@pytest.mark.stack
def test_the_ui_lists_the_dead_letters_the_stack_holds(stack, refused):
    answer = requests.get(stack.url("ui") + "/api/dead-letters?limit=200", headers=bearer(stack.api_key), timeout=15)
    document = answer.json()
    assert refused in {letter["event_id"] for letter in document["dead_letters"]}


@pytest.mark.stack
def test_replaying_one_sends_it_back_to_sentinel_scored_where_both_functions_refuse_it_again(stack, refused):
    [letter, _] = letters_of(stack, refused)
    replayed = stack.sentinel("dlq", "replay", letter["id"])
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"replayed dead letter {letter['id']} (event {refused}) to sentinel.scored" in replayed.stdout
    wait_for(lambda: len(letters_of(stack, refused)) == 4, timeout=60, every=0.5, what="the replay dead-lettered again")


@pytest.mark.stack
def test_replay_all_does_not_replay_again_what_an_earlier_run_replayed(stack, refused):
    pending = {letter["id"] for letter in letters_of(stack, refused)}
    first, second = (json.loads(stack.sentinel("dlq", "replay", "--all", "--json").stdout) for _ in range(2))
    ids = {replay["id"] for replay in first["replayed"]} | set(first["repeats"])
    assert pending <= ids
    assert refused in {replay["event_id"] for replay in first["replayed"]}
    again = {replay["id"] for replay in second["replayed"]} | set(second["repeats"])
    assert not again & ids  # the second run replays only what the first run's replays dead-lettered since


@pytest.mark.stack
def test_an_id_the_topic_does_not_hold_is_refused_in_words(stack):
    shown = stack.sentinel("dlq", "show", "999999999")
    assert shown.returncode == 1
    assert "there is no dead letter 999999999: sentinel.dlq holds" in shown.stdout


def test_a_broker_that_is_down_is_named():
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}
    listed = subprocess.run([SENTINEL, "dlq", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 1
    assert "cannot read the Kafka broker at 127.0.0.1:9" in listed.stdout
