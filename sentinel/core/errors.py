"""The errors a function turns into HTTP answers.

A `ClientError` is the sender's fault and can never succeed as sent (4xx, the
dispatcher dead-letters it). `Unavailable` means a dependency is down and the
same event will succeed later (503, the dispatcher retries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, and where."""

    field: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message}


class ClientError(Exception):
    def __init__(self, message: str, *, status: int = 400, problems: list[Problem] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.problems = problems or []

    def summary(self) -> str:
        """Every problem as "field: message", joined for one line of text; the message when there are none."""
        return "; ".join(f"{problem.field}: {problem.message}" for problem in self.problems) or self.message

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.problems:
            body["problems"] = [problem.to_json() for problem in self.problems]
        return body


class Unauthorized(ClientError):
    """No credentials, or ones that prove nothing (401), or too few rights (403).

    `challenge` is the WWW-Authenticate value: RFC 6750 §3 requires one on every 401,
    with `error="invalid_token"` for a bad key and `error="insufficient_scope"` (403)
    naming the scope that was missing."""

    def __init__(self, message: str, *, status: int = 401, challenge: str = 'Bearer realm="sentinel"'):
        super().__init__(message, status=status)
        self.challenge = challenge


class RateLimited(ClientError):
    """A caller over its rate (429): `retry_after` seconds is when to try again."""

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message, status=429)
        self.retry_after = retry_after


class Unavailable(Exception):
    """A dependency (Kafka, PostgreSQL, Redis, the model) cannot serve right now, or the
    pipeline is too far behind to take more; `retry_after` seconds is when to try again."""

    def __init__(self, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "retryable": True}
