"""API keys: what a caller presents, what is stored of it, and what it may do.

A key is 32 random bytes, shown to its owner once. Only its SHA-256 is stored: a
key carries 256 bits of entropy, so a fast hash cannot be searched backwards and
needs no salt or slow key-derivation function (those protect low-entropy
passwords). A key holds scopes, each a thing it may do.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sentinel.core.errors import ClientError

KEY_PREFIX = "sentinel_"
INGEST = "ingest"  # submit transactions to ingest
SCORE = "score"  # ask score for a decision directly
READ = "read"  # read the UI's JSON API
SCOPES = (INGEST, SCORE, READ)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Caller:
    """Who is calling, as proven by the key they presented."""

    name: str
    scopes: frozenset[str]
    rate_per_s: int | None = None  # None: the deployment's default (SENTINEL_KEY_RATE_PER_S)

    def may(self, scope: str) -> bool:
        return scope in self.scopes


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def checked_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ClientError(
            f"invalid key name {name!r}: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def checked_scopes(scopes: list[str] | tuple[str, ...]) -> frozenset[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ClientError(f"unknown scope {', '.join(unknown)}; the scopes are {', '.join(SCOPES)}")
    if not scopes:
        raise ClientError(f"a key needs at least one scope: {', '.join(SCOPES)}")
    return frozenset(scopes)
