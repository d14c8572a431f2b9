"""What the fuzz tests draw: JSON in every shape and misshape, HTTP headers, CloudEvents, and transactions.

`valid_transactions` draws only what ingest must accept, built to the rules of
sentinel.core.transaction; the other strategies draw anything, with the inputs that
broke Sentinel before (docs/bad-input.md) over-represented among the edge cases.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from sentinel.core import events
from sentinel.core.transaction import MAX_AMOUNT, MAX_FEATURE, PCA_FIELDS, is_text

ID_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"

# Text of any kind: controls, lone surrogates and noncharacters over-represented.
NOT_TEXT = ["\x00", "\x1f", "\x7f", "\x85", "\x9f", "\ud800", "\udfff", "\ufdd0", "\ufffe", "\U0010ffff"]
any_text = st.text(st.characters() | st.sampled_from(NOT_TEXT), max_size=20)
# Text a CloudEvents String or a stored field may hold.
valid_text = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20).filter(is_text)

nasty_numbers = st.sampled_from(
    [10**400, -(10**400), 2**63, 2**64, 1e308, -1e308, 5e-324, -0.0, 1e15, 1.0000000000000002e15, 1e16, 12.345]
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | nasty_numbers
    | any_text
)
json_documents = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=12,
)

# Raw JSON-ish text: fragments that break parsers, spliced between well-formed ones.
NASTY_FRAGMENTS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "1" + "0" * 400,
    '"\\ud800"',
    '"\\udc00\\ud800"',
    '"\\u0000"',
    '"a\\tb"',
    '{"a":1,"a":2}',
    '{"a":1,"\\u0061":2}',
    '{"a":1,"a":"\\u0022\\u0022"}',
    "[" * 70 + "]" * 70,
    "[" * 2000 + "]" * 2000,
    "{",
    "]",
    '"unterminated',
    "\xff",
    "01",
    "-",
    '{"a" :1, "a" :2}',
]


@st.composite
def json_texts(draw: st.DrawFn) -> bytes:
    """Bytes that are JSON, nearly JSON, or JSON with a nasty fragment in it."""
    document = draw(json_documents)
    spaced = draw(st.booleans())
    text = json.dumps(document, ensure_ascii=draw(st.booleans()), separators=(", ", ": ") if spaced else (",", ":"))
    if draw(st.booleans()):
        fragment = draw(st.sampled_from(NASTY_FRAGMENTS))
        at = draw(st.integers(0, len(text)))
        text = text[:at] + fragment + text[at:]
    return text.encode("utf-8", "surrogatepass")


@st.composite
def json_objects_with_repeats(draw: st.DrawFn) -> bytes:
    """A JSON object whose member names may repeat, written with or without escapes and spaces."""
    names = draw(st.lists(st.sampled_from(["a", "b", "Amount", "\u00e9", "a b"]), min_size=1, max_size=6))
    members = []
    for name in names:
        written = json.dumps(name, ensure_ascii=False)
        if draw(st.booleans()):
            written = '"' + "".join(f"\\u{ord(c):04x}" for c in name) + '"'
        value = draw(st.sampled_from(["1", '"x"', '"q\\"uote"', '"\\u0022\\u0022"', "[1, {}]", '{"a": 2}', "null"]))
        members.append(written + draw(st.sampled_from([":", " : "])) + value)
    return ("{" + draw(st.sampled_from([",", ", "])).join(members) + "}").encode()


# -- HTTP ------------------------------------------------------------------------------

CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/cloudevents+json",
    "application/cloudevents+json; charset=latin-1",
    "application/cloudevents-batch+json",
    "application/cloudevents+avro",
    "text/plain",
    "json",
    "",
]
# Header values as a server hands them over: latin-1, without line breaks.
header_text = st.text(st.characters(max_codepoint=0xFF, exclude_characters="\r\n"), max_size=30)
header_values = header_text | st.sampled_from(["%", "%zz", "%C0%A0", "%ED%A0%80", "%00", '"a\\"b"', '"', "a%20b"])


@st.composite
def ce_headers(draw: st.DrawFn) -> dict[str, str]:
    """A binary-mode header set: the required attributes mostly right, anything else around them."""
    headers = {
        "ce-specversion": draw(st.sampled_from(["1.0", "1.0", "0.3", ""])),
        "ce-id": draw(header_values),
        "ce-source": draw(st.sampled_from(["/tests", "https://example.com/x", "a b", ""]) | header_values),
        "ce-type": draw(st.sampled_from([events.TRANSACTION_CREATED, events.TRANSACTION_SCORED, "other"])),
    }
    for name in draw(st.lists(st.sampled_from(list(headers)), max_size=2, unique=True)):
        del headers[name]
    extras = draw(
        st.dictionaries(
            st.sampled_from(["subject", "time", "dataschema", "Data", "x_y", "a" * 21]), header_values, max_size=2
        )
    )
    headers.update({f"ce-{name}": value for name, value in extras.items()})
    content_type = draw(st.sampled_from(CONTENT_TYPES) | header_text)
    if content_type:
        headers["Content-Type"] = content_type
    return headers


# -- transactions -----------------------------------------------------------------------


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """An RFC 3339 timestamp PostgreSQL stores and reads back: upper case, microseconds at most, offset under 16 h."""
    local = draw(st.datetimes(min_value=datetime(1, 1, 3), max_value=datetime(9999, 12, 29)))
    digits = draw(st.integers(0, 6))
    fraction = "." + f"{local.microsecond:06d}"[:digits] if digits else ""
    offset = draw(st.integers(-(16 * 60 - 1), 16 * 60 - 1))
    if offset == 0 and draw(st.booleans()):
        zone = "Z"
    else:
        zone = f"{'-' if offset < 0 else '+'}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    return local.isoformat(timespec="seconds") + fraction + zone


identifiers = st.text(st.sampled_from(ID_CHARACTERS), min_size=1, max_size=64)
features = st.floats(min_value=-MAX_FEATURE, max_value=MAX_FEATURE, allow_nan=False) | st.sampled_from(
    [0.0, -0.0, 5e-324, 1e-300, MAX_FEATURE, -MAX_FEATURE, 123456789.125]
)


@st.composite
def valid_transactions(draw: st.DrawFn) -> dict[str, Any]:
    """A transaction ingest accepts as it is (numbers already floats)."""
    transaction: dict[str, Any] = {
        "transaction_id": draw(identifiers),
        "user_id": draw(identifiers),
        "Time": draw(st.floats(min_value=0.0, max_value=MAX_FEATURE)),
        "Amount": draw(st.integers(0, MAX_AMOUNT * 100)) / 100,
    }
    transaction.update({name: draw(features) for name in PCA_FIELDS})
    optional = {
        "currency": st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=3, max_size=3),
        "merchant_id": valid_text.filter(lambda text: 1 <= len(text) <= 64),
        "event_time": timestamps(),
    }
    for name in draw(st.lists(st.sampled_from(sorted(optional)), unique=True)):
        transaction[name] = draw(optional[name])
    return transaction


@st.composite
def transaction_shaped(draw: st.DrawFn) -> dict[str, Any]:
    """A valid transaction with some fields replaced by anything at all, or added."""
    transaction = draw(valid_transactions())
    for name in draw(st.lists(st.sampled_from([*transaction, "event_time", "merchant_id", "unknown"]), max_size=3)):
        transaction[name] = draw(json_scalars | timestamps() | any_text)
    return transaction
