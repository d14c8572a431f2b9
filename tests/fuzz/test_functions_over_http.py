"""The four functions behind their HTTP adapter, fuzzed in memory: every request is answered 2xx or 4xx, never 5xx.

The functions are built with the in-memory stand-ins of tests/unit/each_function/fakes.py
and called as functions-framework calls them (support.InProcess).
"""

import json
import uuid

import pytest
from fakes import scored
from hypothesis import given
from hypothesis import strategies as st
from in_memory import BUILDERS, answer
from strategies import ce_headers, json_documents, json_texts, transaction_shaped, valid_transactions
from support import InProcess

from functions.ingest.main import ORIGINAL_API_PATH
from sentinel.core import events

MODES = ("binary", "structured", "batch", "plain")


@given(st.sampled_from(sorted(BUILDERS)), ce_headers(), st.binary(max_size=200) | json_texts())
def test_any_message_to_any_function_is_answered_2xx_or_4xx(served, name, headers, body):
    answer(served[name], content=body, headers=headers)


@given(json_texts())
def test_any_body_on_the_original_api_is_answered_2xx_or_4xx(served, body):
    answer(served["ingest"], ORIGINAL_API_PATH, content=body, headers={"Content-Type": "application/json"})


@given(
    st.sampled_from([("ingest", mode) for mode in MODES] + [("score", mode) for mode in MODES[:3]]),
    transaction_shaped(),
)
def test_a_transaction_is_accepted_or_refused_alike_in_every_content_mode(served, target, transaction):
    name, mode = target
    status, _ = post_transaction(served[name], mode, transaction)
    reference, _ = post_transaction(served[name], "binary", transaction)
    assert status // 100 == reference // 100


@given(st.sampled_from(MODES), valid_transactions())
def test_a_valid_transaction_is_accepted_by_ingest_in_every_content_mode(served, mode, transaction):
    transaction = {**transaction, "transaction_id": uuid.uuid4().hex}  # ids are one transaction each
    status, body = post_transaction(served["ingest"], mode, transaction)
    assert status == 202 and body["accepted"] == [transaction["transaction_id"]]


@given(st.sampled_from(["persist", "alert"]), valid_transactions(), json_documents)
def test_a_forged_scored_event_is_stored_or_refused_with_a_4xx(served, name, transaction, value):
    event = scored(transaction, decision="review")
    data = {**event.json(), "transaction": {**transaction, "merchant_id": value}}
    headers = {f"ce-{key}": item for key, item in event.attributes.items() if key != "datacontenttype"}
    answer(served[name], content=json.dumps(data), headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("mode", MODES)
def test_nesting_100000_deep_is_refused_with_a_400_in_every_content_mode(served, mode):
    status, body = post_transaction(served["ingest"], mode, "[" * 100_000 + "]" * 100_000)
    assert status == 400 and "depth" in body["error"]


def post_transaction(function: InProcess, mode: str, transaction):
    """POST `transaction` (a document, or raw JSON text) to `function` in a content mode."""
    data = transaction if isinstance(transaction, str) else json.dumps(transaction)
    attributes = {"specversion": "1.0", "id": "e-1", "source": "/fuzz", "type": events.TRANSACTION_CREATED}
    if mode == "plain":
        return answer(function, ORIGINAL_API_PATH, content=data, headers={"Content-Type": "application/json"})
    if mode == "binary":
        headers = {f"ce-{key}": value for key, value in attributes.items()}
        return answer(function, content=data, headers={**headers, "Content-Type": "application/json"})
    envelope = json.dumps(attributes)[:-1] + ', "data": ' + data + "}"
    if mode == "structured":
        return answer(function, content=envelope, headers={"Content-Type": "application/cloudevents+json"})
    return answer(function, content=f"[{envelope}]", headers={"Content-Type": "application/cloudevents-batch+json"})
