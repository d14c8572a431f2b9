"""ingest: the front door. Validates transactions, drops duplicates, emits the rest.

Takes `dev.sentinel.transaction.created` CloudEvents in any HTTP content mode, and the
original Sentinel API (`POST /api/v1/transactions` with a plain JSON transaction). A
request is validated as a whole before anything is emitted, so a bad batch leaves no
trace. Every request needs an API key with the ingest scope (401/403 otherwise).
Each new transaction is emitted to K_SINK as `dev.sentinel.transaction.received`;
the answer is 202 with what was accepted and what was a duplicate. Transaction ids are
the client's own (the client of its API key): a retry with the same payload is a
duplicate, the same id with another payload a 409. While the pipeline
is too far behind (functions/ingest/admission.py) the answer is 503 with Retry-After,
before anything else is done.

Run by functions-framework: `functions-framework --target handle --source functions/ingest/main.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from functions.ingest.admission import Admission
from sentinel.codec.event import Event
from sentinel.config import Settings
from sentinel.core import events, transaction
from sentinel.core.api_keys import INGEST, Caller
from sentinel.core.errors import ClientError, Problem, Unavailable
from sentinel.core.idempotency import conflict_message, fingerprint
from sentinel.core.integrity import SigningKeys
from sentinel.core.transaction import CLIENT_FIELD
from sentinel.serving import metrics
from sentinel.serving.callers import Limits, required
from sentinel.serving.event_integrity import received_keys, signed_json_event
from sentinel.serving.function import Function, Reply
from sentinel.serving.http_handler import http_handler
from sentinel.serving.sink import Sink, SinkClient
from sentinel.stores import redis_client
from sentinel.stores.backlog import PipelineBacklog
from sentinel.stores.dedup import Claim, Deduplicator, Outcome
from sentinel.stores.rate_limits import RateLimits

ORIGINAL_API_PATH = "/api/v1/transactions"


class Claims(Protocol):
    """Who owns a client's transaction id, and with which payload: see sentinel.stores.dedup."""

    def claim(self, client_id: str, transaction_id: str, fingerprint: str) -> Claim: ...
    def confirm(self, claim: Claim) -> None: ...
    def release(self, claim: Claim) -> None: ...
    def close(self) -> None: ...


class Ingest(Function):
    name = "ingest"
    accepts = (events.TRANSACTION_CREATED,)
    plain_json_paths = {ORIGINAL_API_PATH: events.TRANSACTION_CREATED}
    identifies_callers = True

    def __init__(
        self,
        claims: Claims,
        sink: Sink | None,
        *,
        admission: Admission | None = None,
        limits: Limits | None = None,
        keys: SigningKeys,
        clock: Callable[[], str] = events.utc_now,
    ) -> None:
        """`admission` None admits everything (SENTINEL_INGEST_MAX_BACKLOG=0); `limits` None sets no rate;
        `keys` sign received events."""
        self._claims = claims
        self._limits = limits
        self._sink = sink
        self._keys = keys
        self._admission = admission
        self._clock = clock

    def stop(self) -> None:
        if self._sink:
            self._sink.close()
        self._claims.close()
        if self._admission:
            self._admission.close()

    def ready(self) -> str | None:
        return self._keys.missing() if self._sink else "K_SINK is not set: ingest has nowhere to emit"

    def start(self) -> None:
        if self._admission:
            self._admission.start()

    def refuse_if_overloaded(self) -> None:
        """While the pipeline is behind, no one may submit."""
        if self._admission:
            self._admission.check()

    def admit(self, caller: Caller | None) -> None:
        """Only a key with the ingest scope may submit, within its rate."""
        required(caller, INGEST)
        if self._limits:
            self._limits.check(caller, self.name)

    def handle(self, received: Sequence[Event], caller: Caller | None = None) -> Reply:
        transactions = self._validated(received)
        if self._sink is None:
            raise Unavailable("ingest is not bound to a sink: K_SINK is not set")
        client_id = required(caller, INGEST).client_id
        accepted, duplicates = self._admit(transactions, client_id, self._sink)
        metrics.duplicates(self.name, len(duplicates))
        return Reply.of_document({"accepted": accepted, "duplicates": duplicates}, 202)

    def _validated(self, received: Sequence[Event]) -> list[transaction.Transaction]:
        """Validate every event before any is emitted; in a batch, name the event of each problem.

        A transaction repeated within one request is kept: de-duplication reports the
        repeat as a duplicate, exactly as if it came in a later request."""
        if len(received) == 1:
            return [transaction.validate(self.data_of(received[0]))]
        problems: list[Problem] = []
        valid: list[transaction.Transaction] = []
        for index, event in enumerate(received):
            try:
                valid.append(transaction.validate(self.data_of(event)))
            except ClientError as error:
                where = f"event {index} ({event.id})"
                problems.extend(
                    Problem(p.field, f"{where}: {p.message}")
                    for p in error.problems or [Problem("data", error.message)]
                )
        if problems:
            raise ClientError("invalid request: nothing was accepted", problems=problems)
        return valid

    def _admit(
        self, transactions: list[transaction.Transaction], client_id: str, sink: Sink
    ) -> tuple[list[str], list[str]]:
        """Emit each transaction the client has not submitted before. A retry (same id, same
        payload) is answered as a duplicate; the same id with another payload is a 409."""
        accepted: list[str] = []
        duplicates: list[str] = []
        received_at = self._clock()
        for item in transactions:
            claim = self._claims.claim(client_id, item["transaction_id"], fingerprint(item))
            if claim.outcome is Outcome.DUPLICATE:
                duplicates.append(item["transaction_id"])
                continue
            if claim.outcome is Outcome.CONFLICT:
                raise ClientError(conflict_message(client_id, item["transaction_id"]), status=409)
            if claim.outcome is Outcome.IN_FLIGHT:
                raise ClientError(
                    f"transaction {item['transaction_id']} is being accepted by another request; retry", status=409
                )
            try:
                sink.emit(received_event({**item, CLIENT_FIELD: client_id}, received_at, self._keys))
            except BaseException:
                self._claims.release(claim)
                raise
            self._claims.confirm(claim)
            accepted.append(item["transaction_id"])
        if self._admission:
            self._admission.admitted(accepted, datetime.fromisoformat(received_at).timestamp())
        return accepted, duplicates


def received_event(item: transaction.Transaction, received_at: str, keys: SigningKeys) -> Event:
    """The event score takes, signed with the received key so score knows ingest sent it."""
    data = {**item, "received_at": received_at}
    attributes = events.transaction_attributes(events.TRANSACTION_RECEIVED, events.INGEST_SOURCE, data)
    return signed_json_event(attributes, data, keys)


def new(settings: Settings) -> Ingest:
    redis = redis_client.connect(settings.redis_url)  # one connection pool for claims, rates and the backlog
    admission = Admission(PipelineBacklog(redis), settings.ingest_max_backlog) if settings.ingest_max_backlog else None
    return Ingest(
        Deduplicator(redis, ttl_seconds=settings.dedup_ttl_seconds),
        SinkClient(settings.k_sink) if settings.k_sink else None,
        admission=admission,
        limits=RateLimits(redis, settings.key_rate_per_s),
        keys=received_keys(settings),
    )


handle = http_handler(new)
