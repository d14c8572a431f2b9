"""Redis clients for the functions: one place for how they connect."""

from __future__ import annotations

import redis

TIMEOUT_S = 3


def connect(redis_url: str) -> redis.Redis:
    """A client that gives up on a connect or a command after a few seconds (the caller answers 503)."""
    return redis.Redis.from_url(redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
