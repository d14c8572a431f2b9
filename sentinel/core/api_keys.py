"""API keys: what a caller presents, what is stored of it, and what it may do.

A key belongs to a client, whose transaction ids are its own: two clients may use the
same id for different transactions. A key is 32 random bytes, shown to its owner once. Only its SHA-256 is stored: a
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
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # key and client names
NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
# The client of rows stored before transaction ids were scoped per client: no name can be it.
UNKNOWN_CLIENT = "-"


@dataclass(frozen=True)
class Caller:
    """Who is calling, as proven by the key they presented."""

    name: str
    scopes: frozenset[str]
    rate_per_s: int | None = None  # None: the deployment's default (SENTINEL_KEY_RATE_PER_S)
    client: str | None = None  # None: the key's own name

    @property
    def client_id(self) -> str:
        """Whose transaction ids this caller's are."""
        return self.client or self.name

    def may(self, scope: str) -> bool:
        return scope in self.scopes


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def checked_name(name: str, what: str = "key name") -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ClientError(f"invalid {what} {name!r}: {NAME_RULE}")
    return name


def checked_scopes(scopes: list[str] | tuple[str, ...]) -> frozenset[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ClientError(f"unknown scope {', '.join(unknown)}; the scopes are {', '.join(SCOPES)}")
    if not scopes:
        raise ClientError(f"a key needs at least one scope: {', '.join(SCOPES)}")
    return frozenset(scopes)
