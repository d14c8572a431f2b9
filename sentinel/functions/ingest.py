"""ingest: the front door. Validates transactions, drops duplicates, emits the rest.

Accepts `dev.sentinel.transaction.created` CloudEvents in any HTTP content
mode, and the original Sentinel API (`POST /api/v1/transactions` with a plain
JSON transaction). A request is validated as a whole before anything is
emitted, so a bad batch leaves no trace. Each new transaction is emitted to
K_SINK as `dev.sentinel.transaction.received`; the answer is 202 with what was
accepted and what was a duplicate.
"""

from __future__ import annotations

from typing import Any

import flask
import redis
from cloudevents.http import CloudEvent

from sentinel import events, transaction, wire
from sentinel.config import Settings
from sentinel.dedup import Deduplicator, Outcome
from sentinel.errors import ClientError, Problem, Unavailable
from sentinel.runtime import Function
from sentinel.sink import SinkClient

ORIGINAL_API_PATH = "/api/v1/transactions"


class Ingest(Function):
    name = "ingest"

    def start(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=3)
        self.dedup = Deduplicator(self.redis, ttl_seconds=settings.dedup_ttl_seconds)
        self.sink = SinkClient(settings.k_sink) if settings.k_sink else None

    def stop(self) -> None:
        if self.sink:
            self.sink.close()
        self.redis.close()

    def ready(self) -> str | None:
        return None if self.sink else "K_SINK is not set: ingest has nowhere to emit"

    def handle(self, request: flask.Request) -> flask.Response:
        transactions = self._read(request)
        if self.sink is None:
            raise Unavailable("ingest is not bound to a sink: K_SINK is not set")
        accepted, duplicates = self._admit(transactions)
        return wire.json_response({"accepted": accepted, "duplicates": duplicates}, 202)

    def _read(self, request: flask.Request) -> list[transaction.Transaction]:
        max_bytes = self.settings.max_body_bytes
        if request.path == ORIGINAL_API_PATH:
            if wire.media_type(request) != wire.JSON:
                raise ClientError("POST /api/v1/transactions takes application/json", status=415)
            body = wire.read_body(request, max_bytes)
            try:
                document: Any = flask.json.loads(body)
            except ValueError as error:
                raise ClientError(f"the body is not valid JSON: {error}") from None
            return [transaction.validate(document)]
        received = wire.read_events(request, max_bytes)
        return _validated(received)

    def _admit(self, transactions: list[transaction.Transaction]) -> tuple[list[str], list[str]]:
        accepted: list[str] = []
        duplicates: list[str] = []
        received_at = events.utc_now()
        for item in transactions:
            claim = self.dedup.claim(item["transaction_id"])
            if claim.outcome is Outcome.DUPLICATE:
                duplicates.append(item["transaction_id"])
                continue
            if claim.outcome is Outcome.IN_FLIGHT:
                raise ClientError(
                    f"transaction {item['transaction_id']} is being accepted by another request; retry",
                    status=409,
                )
            try:
                self.sink.emit(events.received_event(item, received_at))
            except BaseException:
                self.dedup.release(claim)
                raise
            self.dedup.confirm(claim)
            accepted.append(item["transaction_id"])
        return accepted, duplicates


def _validated(received: list[CloudEvent]) -> list[transaction.Transaction]:
    """Validate every event before any is emitted; name the event of each problem.

    A transaction repeated within one request is kept: de-duplication reports
    the repeat as a duplicate, exactly as if it came in a later request."""
    problems: list[Problem] = []
    valid: list[transaction.Transaction] = []
    for index, event in enumerate(received):
        where = f"event {index} ({event['id']})" if len(received) > 1 else f"event {event['id']}"
        try:
            wire.check_type(event, (events.TRANSACTION_CREATED,), "ingest")
            item = transaction.validate(wire.event_data(event))
        except ClientError as error:
            problems.extend(
                Problem(p.field, f"{where}: {p.message}") for p in error.problems or [Problem("data", error.message)]
            )
            continue
        valid.append(item)
    if problems:
        raise ClientError("invalid request: nothing was accepted", problems=problems)
    return valid
