"""Why dead letters cannot be read or replayed: DeadLetterError and its kinds."""

from __future__ import annotations


class DeadLetterError(Exception):
    """Why dead letters cannot be read or replayed, in words for the person who asked."""


class BrokerUnreachable(DeadLetterError):
    pass


class NoSuchDeadLetter(DeadLetterError):
    pass


class CannotReplay(DeadLetterError):
    pass
