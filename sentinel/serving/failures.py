"""Every failure as an HTTP answer: never a traceback, and 5xx only for what may succeed later.

A ClientError is the sender's fault and can never succeed as sent: its own 4xx, so a
dispatcher dead-letters it at once. So is content PostgreSQL or Redis refuses to
store (sentinel.stores.failures): 422, naming why, so one poison event never holds
up the events behind it in its partition. Unavailable, or a dependency that is down
for now, means the same event will succeed later: 503, so a dispatcher retries.
Anything else is a bug: 500, logged here with its traceback, answered with the
function's name only.
"""

from __future__ import annotations

import logging
from typing import Any

from sentinel.core.errors import ClientError, RateLimited, Unauthorized, Unavailable
from sentinel.stores.failures import Rejected, Transient, classify

log = logging.getLogger(__name__)

UNPROCESSABLE = 422


def answer_for(error: Exception, where: str) -> tuple[int, dict[str, Any]]:
    """The status and JSON body that answer `error`, raised while `where` handled a request."""
    if isinstance(error, ClientError):
        return error.status, error.to_json()
    if isinstance(error, Unavailable):
        return 503, error.to_json()
    kind = classify(error)
    if isinstance(kind, Rejected):
        log.warning("%s: %s refused the event's content: %s", where, kind.dependency, kind.reason)
        body: dict[str, Any] = {"error": f"{kind.dependency} cannot store this event: {kind.reason}"}
        if kind.code:
            body["code"] = kind.code
        return UNPROCESSABLE, body
    if isinstance(kind, Transient):
        log.warning("%s: %s unavailable: %s", where, kind.dependency, error)
        return 503, {"error": f"{kind.dependency} is unavailable", "retryable": True}
    log.error("%s failed", where, exc_info=error)
    return 500, {"error": f"internal error in {where}"}


def headers_for(error: Exception) -> dict[str, str]:
    """`Retry-After` (RFC 9110 §10.2.3, in seconds) when `error` says when to try again;
    `WWW-Authenticate` (RFC 6750 §3) when it asks for credentials."""
    if isinstance(error, Unavailable | RateLimited) and error.retry_after is not None:
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, Unauthorized):
        return {"WWW-Authenticate": error.challenge}
    return {}
