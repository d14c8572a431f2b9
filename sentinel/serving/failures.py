"""Every failure as an HTTP answer: never a traceback, and 5xx only for what may succeed later.

A ClientError is the sender's fault and can never succeed as sent: its own 4xx, so a
dispatcher dead-letters it at once. Unavailable, or an outage of PostgreSQL or Redis,
means the same event will succeed later: 503, so a dispatcher retries. Anything else
is a bug: 500, logged here with its traceback, answered with the function's name only.
"""

from __future__ import annotations

import logging
from typing import Any

from sentinel.core.errors import ClientError, Unavailable
from sentinel.stores.outages import unavailable_dependency

log = logging.getLogger(__name__)


def answer_for(error: Exception, where: str) -> tuple[int, dict[str, Any]]:
    """The status and JSON body that answer `error`, raised while `where` handled a request."""
    if isinstance(error, ClientError):
        return error.status, error.to_json()
    if isinstance(error, Unavailable):
        return 503, error.to_json()
    dependency = unavailable_dependency(error)
    if dependency:
        log.warning("%s: %s unavailable: %s", where, dependency, error)
        return 503, {"error": f"{dependency} is unavailable", "retryable": True}
    log.error("%s failed", where, exc_info=error)
    return 500, {"error": f"internal error in {where}"}
