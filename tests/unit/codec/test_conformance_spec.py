"""CloudEvents 1.0 (spec.md), its MUSTs and the SHOULDs Sentinel holds senders to, as sentinel.codec reads events.

Each test names the section of cloudevents/spec.md it checks. Events are read in
binary HTTP mode (one header per attribute) unless the rule is about JSON types.
"""

import pytest

from sentinel.codec import http
from sentinel.codec.event import NotACloudEvent
from sentinel.codec.json_format import from_document, parse_batch
from sentinel.config import Settings

REQUIRED = {"ce-specversion": "1.0", "ce-id": "e-1", "ce-source": "/tests", "ce-type": "t"}
DOCUMENT = {"specversion": "1.0", "id": "e-1", "source": "/tests", "type": "t"}


def read(**headers):
    [event] = http.read_events({**REQUIRED, **headers, "Content-Type": "application/json"}, b"{}")
    return event


def refused(**headers):
    with pytest.raises(NotACloudEvent) as caught:
        read(**headers)
    return caught.value


def fields_of(error):
    return {problem.field for problem in error.problems}


# -- REQUIRED attributes -------------------------------------------------------------


@pytest.mark.parametrize("name", ["specversion", "id", "source", "type"])
def test_each_required_attribute_must_be_present(name):
    """spec.md "REQUIRED Attributes": id, source, specversion and type are REQUIRED."""
    headers = {key: value for key, value in REQUIRED.items() if key != f"ce-{name}"}
    with pytest.raises(NotACloudEvent) as caught:
        http.read_events({**headers, "Content-Type": "application/json"}, b"{}")
    assert fields_of(caught.value) == {name}


@pytest.mark.parametrize("name", ["id", "source", "type"])
def test_id_source_and_type_must_not_be_empty(name):
    """spec.md "id", "source", "type": each MUST be a non-empty string."""
    assert fields_of(refused(**{f"ce-{name}": ""})) == {name}


def test_a_specversion_other_than_1_0_is_refused():
    """spec.md "specversion": producers MUST use 1.0 for this version; no other is supported."""
    assert "specversion '0.3' is not supported" in refused(**{"ce-specversion": "0.3"}).message


def test_every_event_of_a_batch_must_have_the_same_specversion():
    """spec.md "Message": all CloudEvents within the same batch MUST have the same specversion."""
    with pytest.raises(NotACloudEvent, match="batch item 1"):
        parse_batch(
            b'[{"specversion":"1.0","id":"1","source":"/s","type":"t"},'
            b'{"specversion":"0.3","id":"2","source":"/s","type":"t"}]'
        )


# -- Each attribute at most once -------------------------------------------------------


def test_an_attribute_in_two_headers_is_refused():
    """spec.md "Context Attributes": each context attribute MUST only appear at most once."""
    with pytest.raises(NotACloudEvent, match="more than one header"):
        http.read_events({**REQUIRED, "ce-subject": "a", "CE-SUBJECT": "b"}, b"{}")


def test_an_attribute_twice_in_a_structured_event_is_refused():
    """spec.md "Context Attributes": each context attribute MUST only appear at most once."""
    body = b'{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}'
    with pytest.raises(NotACloudEvent) as caught:
        http.read_events({"Content-Type": "application/cloudevents+json"}, body)
    assert fields_of(caught.value) == {"id"}


# -- Naming Conventions ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["Upper", "under_score", "dash-ed", "dötted"])
def test_attribute_names_are_lower_case_letters_and_digits_only(name):
    """spec.md "Naming Conventions": names MUST consist of lower-case letters [a-z] or digits [0-9]."""
    with pytest.raises(NotACloudEvent, match="invalid attribute name"):
        from_document({**DOCUMENT, name: "x"})


def test_an_empty_attribute_name_is_refused():
    """spec.md "Naming Conventions": names MUST be at least one character in length."""
    with pytest.raises(NotACloudEvent, match="invalid attribute name"):
        http.read_events({**REQUIRED, "ce-": "x"}, b"")


def test_data_is_not_an_attribute_name():
    """spec.md "Naming Conventions": names MUST NOT use the name `data`."""
    assert "invalid attribute name(s): data" in refused(**{"ce-data": "x"}).message


def test_an_attribute_name_starting_with_a_digit_is_refused():
    """spec.md "Naming Conventions": names SHOULD start with a letter."""
    assert "invalid attribute name(s): 1st" in refused(**{"ce-1st": "x"}).message


def test_an_attribute_name_of_20_characters_is_read_and_one_of_21_refused():
    """spec.md "Naming Conventions": names SHOULD NOT exceed 20 characters."""
    assert read(**{"ce-" + "a" * 20: "x"}).attributes["a" * 20] == "x"
    assert "invalid attribute name" in refused(**{"ce-" + "a" * 21: "x"}).message


def test_knatives_kafkaheader_extensions_may_be_longer():
    """spec.md "Naming Conventions" (SHOULD): Knative's KafkaSource names header extensions kafkaheader<name>."""
    assert read(**{"ce-kafkaheadertraceparent": "x"}).attributes["kafkaheadertraceparent"] == "x"


# -- Type System ----------------------------------------------------------------------


@pytest.mark.parametrize("character", ["\x00", "\n", "\x1f", "\x7f", "\x85", "\x9f"])
def test_a_string_must_not_hold_control_characters(character):
    """spec.md "Type System", String: U+0000-U+001F and U+007F-U+009F are disallowed."""
    with pytest.raises(NotACloudEvent) as caught:
        from_document({**DOCUMENT, "subject": f"a{character}b"})
    assert fields_of(caught.value) == {"subject"}


@pytest.mark.parametrize("character", ["\ufdd0", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff"])
def test_a_string_must_not_hold_noncharacters(character):
    """spec.md "Type System", String: code points identified as noncharacters by Unicode are disallowed."""
    with pytest.raises(NotACloudEvent):
        from_document({**DOCUMENT, "subject": character})


def test_a_lone_surrogate_is_refused_and_a_pair_is_a_character():
    """spec.md "Type System", String: "\\uDEAD" is invalid, "\\uD800\\uDEAD" is legal."""
    with pytest.raises(NotACloudEvent):
        http.read_events({"Content-Type": "application/cloudevents+json"}, _structured(subject='"\\uDEAD"'))
    [event] = http.read_events(
        {"Content-Type": "application/cloudevents+json"}, _structured(subject='"\\uD800\\uDEAD"')
    )
    assert event.subject == "\U000102ad"


def test_boolean_and_integer_attributes_take_their_canonical_strings():
    """spec.md "Type System": Boolean is "true" or "false"; Integer is its JSON number's digits."""
    event = from_document({**DOCUMENT, "sampled": False, "sequence": -42})
    assert (event.attributes["sampled"], event.attributes["sequence"]) == ("false", "-42")


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1])
def test_an_integer_outside_32_bits_is_refused(value):
    """spec.md "Type System", Integer: event formats MUST only use values in -2,147,483,648..2,147,483,647."""
    with pytest.raises(NotACloudEvent, match="32-bit"):
        from_document({**DOCUMENT, "sequence": value})


def test_the_integer_bounds_are_accepted():
    """spec.md "Type System", Integer: the range is inclusive."""
    event = from_document({**DOCUMENT, "low": -(2**31), "high": 2**31 - 1})
    assert (event.attributes["low"], event.attributes["high"]) == ("-2147483648", "2147483647")


# -- source, dataschema, subject, time, datacontenttype ----------------------------


@pytest.mark.parametrize(
    "source",
    [
        "https://github.com/cloudevents",
        "mailto:cncf-wg-serverless@lists.cncf.io",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "/cloudevents/spec/pull/123",
        "/sensors/tn-1234567/alerts",
        "1-555-123-4567",
        "/apis/v1/namespaces/default/kafkasources/score-source#sentinel.transactions",
        "//[2001:db8::1]:8080/path?q=1",
    ],
)
def test_the_examples_of_source_are_uri_references(source):
    """spec.md "source": a URI-reference (RFC 3986 §4.1); the section's own examples are accepted."""
    assert read(**{"ce-source": source}).source == source


@pytest.mark.parametrize("source", ["has%20space but raw", "a:b c", "/bad%zz", "http://host/<tag>", "a{b}"])
def test_a_source_that_is_not_a_uri_reference_is_refused(source):
    """spec.md "source": MUST be a non-empty URI-reference."""
    with pytest.raises(NotACloudEvent) as caught:
        from_document({**DOCUMENT, "source": source})
    assert fields_of(caught.value) == {"source"}


def test_dataschema_must_be_an_absolute_uri():
    """spec.md "dataschema": if present, MUST be a non-empty URI (absolute, RFC 3986 §4.3)."""
    assert read(**{"ce-dataschema": "https://example.com/schema/v1"}).attributes["dataschema"]
    assert fields_of(refused(**{"ce-dataschema": "/relative/schema"})) == {"dataschema"}


def test_an_empty_subject_is_refused():
    """spec.md "subject": if present, MUST be a non-empty string."""
    with pytest.raises(NotACloudEvent) as caught:
        from_document({**DOCUMENT, "subject": ""})
    assert fields_of(caught.value) == {"subject"}


@pytest.mark.parametrize(
    "time",
    ["2018-04-05T17:31:00Z", "2018-04-05t17:31:00.123456789z", "2018-04-05T17:31:00+14:00", "2016-12-31T23:59:60Z"],
)
def test_time_in_rfc_3339_is_read(time):
    """spec.md "time": MUST adhere to RFC 3339 (§5.6: lower-case t and z, any fraction, a leap second at 23:59 UTC)."""
    assert read(**{"ce-time": time}).attributes["time"] == time


@pytest.mark.parametrize(
    "time",
    [
        "2011-W01-2T00:05:23+00:00",
        "20110103T000523Z",
        "2011-01-03T00:05:23,5Z",
        "2011-01-03T00:05:23",
        "2011-01-03 00:05:23Z",
        "2011-02-29T00:00:00Z",
        "2016-12-31T22:59:60Z",
        "2011-01-03T24:00:00Z",
    ],
)
def test_time_not_in_rfc_3339_is_refused(time):
    """spec.md "time": MUST adhere to RFC 3339; ISO 8601's other forms are not RFC 3339."""
    assert fields_of(refused(**{"ce-time": time})) == {"time"}


def test_datacontenttype_must_be_a_media_type():
    """spec.md "datacontenttype": if present, MUST adhere to RFC 2046."""
    with pytest.raises(NotACloudEvent) as caught:
        http.read_events({**REQUIRED, "Content-Type": "json"}, b"{}")
    assert fields_of(caught.value) == {"datacontenttype"}


def test_the_media_type_is_compared_case_insensitively():
    """spec.md "datacontenttype": the media type MUST be treated case-insensitively by consumers."""
    [event] = http.read_events({**REQUIRED, "Content-Type": "Application/JSON; CharSet=UTF-8"}, b'{"a":1}')
    assert event.json() == {"a": 1}


# -- Size Limits ----------------------------------------------------------------------


def test_events_of_64_kib_are_accepted():
    """spec.md "Size Limits": consumers SHOULD accept, and intermediaries MUST forward, events of 64 KiB."""
    assert Settings.from_env().max_body_bytes >= 64 * 1024


def _structured(**members: str) -> bytes:
    fields = [f'"{name}":"{value}"' for name, value in DOCUMENT.items()]
    fields += [f'"{name}":{raw}' for name, raw in members.items()]
    return ("{" + ",".join(fields) + "}").encode()
