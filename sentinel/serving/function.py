"""What a Sentinel function is: an instance that takes decoded events and returns a reply.

Like Knative's Python functions, a function has `handle`, `start`, `stop`, `ready`
and `alive`. It is built by its module's `new(settings)`, which opens what it needs
(pools, clients, the model source) and hands them to the constructor, so a test can
hand it in-memory stand-ins instead and call `handle` directly: no HTTP, no sockets.
The function owns what it was given and releases it in `stop`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sentinel.codec.event import Event
from sentinel.core.api_keys import Caller
from sentinel.core.errors import ClientError, Problem


@dataclass(frozen=True)
class Reply:
    """A function's answer: events (one is sent in binary mode, any other number as a batch) or a JSON document."""

    status: int = 200
    events: Sequence[Event] | None = None
    document: Any = None

    @classmethod
    def of_events(cls, events: Sequence[Event]) -> Reply:
        return cls(events=events)

    @classmethod
    def of_document(cls, document: Any, status: int = 200) -> Reply:
        return cls(status=status, document=document)


class Function(ABC):
    """One event function. Subclasses take their dependencies in their constructor."""

    name: ClassVar[str]
    # The event types this function takes; any other is refused with a 400.
    accepts: ClassVar[tuple[str, ...]]
    # Paths where a plain JSON body is taken as the data of one event of the given type
    # (ingest keeps the original Sentinel API this way).
    plain_json_paths: ClassVar[Mapping[str, str]] = {}
    # Whether requests are checked for an API key (`Authorization: Bearer`): the server
    # then identifies the caller before the body is read and hands it to `admit`.
    identifies_callers: ClassVar[bool] = False

    def start(self) -> None:
        """Begin background work, once, before the first event (score follows promotions)."""

    def stop(self) -> None:
        """Release what the function was given."""

    def ready(self) -> str | None:
        """None when the function can serve events, else the reason it cannot."""
        return None

    def alive(self) -> bool:
        return True

    def refuse_if_overloaded(self) -> None:
        """Raise Unavailable (503 with Retry-After) while the function sheds load. Asked first, on the
        server's event loop, for every request (as Knative's queue-proxy sheds before the container
        sees a request), so it must answer from memory and never block."""

    def admit(self, caller: Caller | None) -> None:
        """Refuse a request before its body is read: 401/403 for the wrong caller, 429 over its rate.
        `caller` is None when the request has no key (or keys are not checked); that call is made on
        the server's event loop, so with no caller it must answer from memory and never block."""

    @abstractmethod
    def handle(self, events: Sequence[Event], caller: Caller | None = None) -> Reply:
        """Answer the events of one request, sent by `caller` (see `admit`)."""

    def data_of(self, event: Event) -> Any:
        """The JSON data of an event this function takes; a 400 for any other type (it can never succeed here)."""
        if event.type not in self.accepts:
            message = f"unsupported event type {event.type!r}; {self.name} takes {', '.join(self.accepts)}"
            raise ClientError(message, problems=[Problem("type", message)])
        return event.json()
