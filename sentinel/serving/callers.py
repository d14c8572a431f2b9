"""Who is calling: the Bearer key of a request (RFC 6750) checked against the stored keys.

Lookups are cached for `ttl_s` seconds, both found and not found, so a busy caller
costs one database query per key every few seconds, and a revoked key stops working
within `ttl_s`. The cache holds hashes only, never keys, and at most `max_entries`
of them, so a flood of made-up keys cannot grow it without bound.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from sentinel.core.api_keys import Caller, key_hash
from sentinel.core.errors import Unauthorized

TTL_S = 5.0
MAX_ENTRIES = 10_000
_CHALLENGE = 'Bearer realm="sentinel"'


class KeyLookup(Protocol):
    """See sentinel.stores.api_keys.ApiKeyStore."""

    def caller(self, hashed: str) -> Caller | None: ...
    def close(self) -> None: ...


class Limits(Protocol):
    """Requests a second per caller, for a function: see sentinel.stores.rate_limits (429 when over)."""

    def check(self, caller: Caller, function: str) -> None: ...


class Callers:
    def __init__(
        self,
        lookup: KeyLookup,
        *,
        ttl_s: float = TTL_S,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[float, Caller | None]] = OrderedDict()

    def close(self) -> None:
        self._lookup.close()

    def identify(self, authorization: str | None) -> Caller | None:
        """The caller an Authorization header proves; None without one; 401 for anything else."""
        if authorization is None:
            return None
        scheme, _, key = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized("the Authorization header must be `Bearer <API key>`")
        caller = self._caller(key_hash(key.strip()))
        if caller is None:
            raise Unauthorized(
                "the API key is not valid: unknown or revoked",
                challenge=f'{_CHALLENGE}, error="invalid_token", error_description="unknown or revoked key"',
            )
        return caller

    def _caller(self, hashed: str) -> Caller | None:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(hashed)
            if cached is not None and cached[0] > now:
                return cached[1]
        caller = self._lookup.caller(hashed)
        with self._lock:
            self._cache[hashed] = (now + self._ttl_s, caller)
            self._cache.move_to_end(hashed)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return caller


def required(caller: Caller | None, scope: str) -> Caller:
    """The caller, who must hold `scope`: 401 without a key, 403 without the scope."""
    if caller is None:
        raise Unauthorized(f"an API key with the {scope!r} scope is required: send `Authorization: Bearer <key>`")
    return must_hold(caller, scope)


def must_hold(caller: Caller, scope: str) -> Caller:
    """The caller, who must hold `scope` (403 otherwise)."""
    if not caller.may(scope):
        raise Unauthorized(
            f"the key {caller.name!r} lacks the {scope!r} scope",
            status=403,
            challenge=f'{_CHALLENGE}, error="insufficient_scope", scope="{scope}"',
        )
    return caller
