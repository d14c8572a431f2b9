"""Event signatures (sentinel.core.integrity): what they cover, and that they survive every hop."""

import pytest

from sentinel.codec import http
from sentinel.codec.event import Event, json_event
from sentinel.codec.kafka import KafkaRecord, from_kafka, to_kafka
from sentinel.core.integrity import ATTRIBUTE, SigningKeys
from sentinel.serving.event_integrity import signed_json_event

KEYS = SigningKeys("SENTINEL_SCORED_SIGNING_KEY", "the current key")
ATTRIBUTES = {
    "type": "dev.sentinel.transaction.scored",
    "source": "/sentinel/score",
    "id": "t-1",
    "subject": "t-1",
    "partitionkey": "u-1",
}
DATA = {"transaction_id": "t-1", "Amount": 3600.0, "risk_score": 0.25, "reasons": ["é", "\u2028"], "nested": {"b": 1}}


class Consumed:
    """A record as the dispatcher consumes it: what the KafkaSink ingress wrote."""

    def __init__(self, record: KafkaRecord) -> None:
        self._record = record

    def headers(self) -> list[tuple[str, bytes]]:
        return self._record.headers

    def value(self) -> bytes | None:
        return self._record.value


def verifies(event: Event, keys: SigningKeys = KEYS) -> bool:
    return keys.verifies(event.attributes.get(ATTRIBUTE), event.attributes, event.json())


@pytest.fixture
def signed() -> Event:
    return signed_json_event(ATTRIBUTES, DATA, KEYS)


def test_a_signed_event_verifies(signed):
    assert signed.attributes[ATTRIBUTE].startswith("v1=") and verifies(signed)


def test_the_signature_survives_binary_structured_and_batched_http_and_kafka(signed):
    binary = http.read_event(*http.binary(signed))
    structured = http.read_events({"Content-Type": "application/cloudevents+json"}, http.batch([signed])[1][1:-1])
    [batched] = http.read_events(*http.batch([signed]))
    from_record = from_kafka(Consumed(to_kafka(signed)), namespace="sentinel", source_name="persist-source")
    assert all(verifies(event) for event in (binary, *structured, batched, from_record))


def test_data_written_again_with_other_spacing_order_escapes_and_integers_still_verifies(signed):
    rewritten = Event(
        signed.attributes,
        b'{ "nested": {"b": 1.0}, "reasons": ["\\u00e9", "\\u2028"], "risk_score": 0.25,'
        b' "Amount": 3600, "transaction_id": "t-1" }',
    )
    assert verifies(rewritten)


@pytest.mark.parametrize("name", ["type", "source", "id", "subject"])
def test_changing_a_signed_attribute_breaks_the_signature(signed, name):
    assert not verifies(signed.with_extensions({name: signed.attributes[name] + "x"}))


def test_changing_any_value_of_the_data_breaks_the_signature(signed):
    assert not verifies(json_event(signed.attributes, {**DATA, "risk_score": 0.26}))


def test_an_event_without_a_signature_or_with_another_scheme_does_not_verify(signed):
    unsigned = json_event(ATTRIBUTES, DATA)
    other_scheme = signed.with_extensions({ATTRIBUTE: signed.attributes[ATTRIBUTE].replace("v1=", "v0=")})
    assert not verifies(unsigned) and not verifies(other_scheme)


def test_a_signature_by_another_key_does_not_verify(signed):
    assert not verifies(signed, SigningKeys(KEYS.setting, "another key"))


def test_during_a_rotation_the_other_key_verifies_but_never_signs(signed):
    rotated = SigningKeys(KEYS.setting, "the new key", other=KEYS.current)
    assert verifies(signed, rotated)
    assert rotated.sign(ATTRIBUTES, DATA) != KEYS.sign(ATTRIBUTES, DATA)


def test_without_a_key_nothing_is_signed_and_the_reason_names_the_setting():
    keys = SigningKeys("SENTINEL_RECEIVED_SIGNING_KEY")
    assert "SENTINEL_RECEIVED_SIGNING_KEY is not set" in keys.missing()
    assert not keys.verifies("v1=00", ATTRIBUTES, DATA)


def test_keys_are_never_shown_in_their_representation():
    assert "the current key" not in repr(SigningKeys("S", "the current key", "the other key"))
