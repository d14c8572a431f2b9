"""The signature on every alert webhook POST, in the scheme the major payment APIs use.

    Sentinel-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">

The key is the deployment's webhook secret (SENTINEL_WEBHOOK_SECRET). Signing the
timestamp with the body lets a receiver refuse a replay of an old, genuine POST: it
recomputes the HMAC over the raw body exactly as received, compares in constant time
with each v1 value, and refuses a timestamp more than a few minutes from its clock
(`verifies` is that check, for receivers written in Python and for the tests).
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Sentinel-Signature"
TOLERANCE_S = 300


def header_value(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verifies(secret: str, header: str | None, body: bytes, now: float, *, tolerance_s: int = TOLERANCE_S) -> bool:
    """Whether `header` signs `body` with `secret`, at a time within `tolerance_s` of `now`."""
    if not header:
        return False
    fields = [part.strip().partition("=") for part in header.split(",")]
    stamps = [value for name, _, value in fields if name == "t"]
    signatures = [value for name, _, value in fields if name == "v1"]
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()) or not signatures:
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = _mac(secret, timestamp, body).encode()
    return any(hmac.compare_digest(expected, signature.encode("ascii", "replace")) for signature in signatures)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
