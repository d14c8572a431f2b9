"""score: decides approve / review / block with the champion ONNX model.

Takes `dev.sentinel.transaction.received` from the KafkaSource (whose reply is
dropped) and `dev.sentinel.transaction.created` straight from a client that wants a
decision inline. Either way the decision is emitted to K_SINK for persist and alert,
and returned as the reply: one scored CloudEvent in binary mode, or a batch for a
batch. A client asking for a decision inline needs an API key with the score scope.
A received event must carry ingest's signature unless its sender holds a score key
(403 otherwise: dead-lettered), and every decision is signed for persist and alert
(sentinel.serving.event_integrity).
The first enabled rule that matches decides instead of the model's thresholds, and
the decision names it (sentinel.core.rules); a challenger in shadow is evaluated on
every event beside the champion and its would-be decision recorded, never acted on.
The decision records the W3C trace it was made in (`trace_id`), for persist and alert to store.
A promotion, a rule change or a new challenger reaches a running process within
about a second, without a failed or unscored event (functions.score.setup).

Run by functions-framework: `functions-framework --target handle --source functions/score/main.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from functions.score.setup import Setup, SetupWatch
from sentinel.codec.event import Event
from sentinel.config import Settings
from sentinel.core import behaviour, events, rules, score, transaction
from sentinel.core.api_keys import SCORE, Caller
from sentinel.core.decision import ALERTING_DECISIONS, Decision, ThresholdOverrides, Thresholds, decide, thresholds_for
from sentinel.core.errors import ClientError, Problem, Unavailable
from sentinel.core.idempotency import conflict_message, fingerprint
from sentinel.core.integrity import SigningKeys
from sentinel.core.model import OnnxModel
from sentinel.core.transaction import CLIENT_FIELD
from sentinel.serving import tracing
from sentinel.serving.callers import Limits, must_hold, required
from sentinel.serving.event_integrity import received_keys, require_signature, scored_keys, signed_json_event
from sentinel.serving.function import Function, Reply
from sentinel.serving.http_handler import http_handler
from sentinel.serving.metrics import decided
from sentinel.serving.sink import Sink, SinkClient
from sentinel.stores import redis_client
from sentinel.stores.behaviour import UserHistories, UserKey
from sentinel.stores.inline_decisions import InlineDecisions, Remembered
from sentinel.stores.rate_limits import RateLimits

NO_OVERRIDES = ThresholdOverrides()


class Setups(Protocol):
    """Where champion, rules and challenger come from: PostgreSQL, followed as they change."""

    missing_reason: str

    def current(self) -> Setup | None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class InlineAnswers(Protocol):
    """The decisions given inline, for retries: see sentinel.stores.inline_decisions."""

    def keep_first(self, client_id: str, transaction_id: str, kept: Remembered) -> Remembered | None: ...
    def forget(self, client_id: str, transaction_id: str, kept: Remembered) -> None: ...
    def close(self) -> None: ...


class Histories(Protocol):
    """Each user's history, which gives the behavioural features: see sentinel.stores.behaviour."""

    def observe(self, observed: Sequence[tuple[UserKey, behaviour.Observation]]) -> list[behaviour.Features]: ...
    def close(self) -> None: ...


class Score(Function):
    name = "score"
    accepts = (events.TRANSACTION_RECEIVED, events.TRANSACTION_CREATED)
    identifies_callers = True

    def __init__(
        self,
        setups: Setups,
        sink: Sink | None,
        histories: Histories,
        *,
        overrides: ThresholdOverrides = NO_OVERRIDES,
        limits: Limits | None = None,
        inline: InlineAnswers | None = None,
        received_keys: SigningKeys,
        scored_keys: SigningKeys,
        clock: Callable[[], str] = events.utc_now,
    ) -> None:
        """`received_keys` verify what ingest sent; `scored_keys` sign the decisions."""
        self._setups = setups
        self._histories = histories
        self._limits = limits
        self._inline = inline
        self._received_keys = received_keys
        self._scored_keys = scored_keys
        self._sink = sink
        self._overrides = overrides
        self._clock = clock

    def start(self) -> None:
        self._setups.start()

    def stop(self) -> None:
        self._setups.stop()
        self._histories.close()
        if self._sink:
            self._sink.close()
        if self._inline:
            self._inline.close()

    def ready(self) -> str | None:
        if self._sink is None:
            return "K_SINK is not set: score has nowhere to emit decisions"
        if self._setups.current() is None:
            return self._setups.missing_reason
        return self._received_keys.missing() or self._scored_keys.missing()

    def admit(self, caller: Caller | None) -> None:
        """A key, when one is sent, must hold the score scope, and is held to its rate."""
        if caller is not None:
            must_hold(caller, SCORE)
            if self._limits:
                self._limits.check(caller, self.name)

    def handle(self, received: Sequence[Event], caller: Caller | None = None) -> Reply:
        if any(event.type == events.TRANSACTION_CREATED for event in received):
            required(caller, SCORE)  # a decision inline is for holders of a score key only
        items = [self._transaction_of(event, caller) for event in received]
        # One setup for the whole request: a promotion or rule change meanwhile affects only later requests.
        setup = self._setups.current()
        if setup is None:
            raise Unavailable(self._setups.missing_reason)
        if self._sink is None:
            raise Unavailable("score is not bound to a sink: K_SINK is not set")
        decisions = self._decide([item for item, _ in items], setup) if items else []
        decided(decisions)
        answers = [
            self._answer(decision, inline, self._sink) for decision, (_, inline) in zip(decisions, items, strict=True)
        ]
        return Reply.of_events(answers)

    def _answer(self, decision: score.Score, inline: bool, sink: Sink) -> Event:
        """Emit the decision, and answer with it. A transaction asked for inline before is
        answered with the first decision, not emitted again; the same id with another
        payload is a 409."""
        if not (inline and self._inline):
            event = signed_scored_event(decision, self._scored_keys)
            sink.emit(event)
            return event
        client_id, transaction_id = decision[CLIENT_FIELD], decision["transaction_id"]
        kept = Remembered(fingerprint(decision["transaction"]), decision)
        first = self._inline.keep_first(client_id, transaction_id, kept)
        if first is not None:
            if first.fingerprint != kept.fingerprint:
                raise ClientError(conflict_message(client_id, transaction_id), status=409)
            return signed_scored_event(first.decision, self._scored_keys)
        event = signed_scored_event(decision, self._scored_keys)
        try:
            sink.emit(event)
        except BaseException:
            self._inline.forget(client_id, transaction_id, kept)
            raise
        return event

    def _transaction_of(self, event: Event, caller: Caller | None) -> tuple[transaction.Transaction, bool]:
        """The transaction an event carries, with its client, and whether it was asked for inline.

        A received event names its client, under ingest's signature; only a holder of a
        score key may send one unsigned, and then only for its own client."""
        data = self.data_of(event)
        if event.type == events.TRANSACTION_CREATED:
            return {**transaction.validate(data), CLIENT_FIELD: required(caller, SCORE).client_id}, True
        if caller is None or not caller.may(SCORE):
            require_signature(event, data, self._received_keys)
        item = transaction.validate(data, extra_fields=("received_at",), with_client=True)
        if caller is not None and caller.may(SCORE) and item[CLIENT_FIELD] != caller.client_id:
            message = f"the key {caller.name!r} may send received events only for its own client, {caller.client_id}"
            raise ClientError(message, status=403, problems=[Problem(CLIENT_FIELD, message)])
        return item, False

    def _decide(self, items: list[transaction.Transaction], setup: Setup) -> list[score.Score]:
        """Every user's history takes in the transaction, whichever features the model takes, so a model
        trained on behaviour finds it already known when it is promoted."""
        now = self._clock()
        observed = self._histories.observe(
            [
                (
                    (item[CLIENT_FIELD], item["user_id"]),
                    behaviour.observation_of(item, received_at=item.get("received_at", now)),
                )
                for item in items
            ]
        )
        behavioural = [dict(zip(behaviour.FEATURES, values, strict=True)) for values in observed]
        champion = self._judged(setup.champion, setup.rules, items, observed, behavioural)
        shadow: list[dict | None] = [None] * len(items)
        if setup.challenger is not None:
            challenger = self._judged(setup.challenger, setup.rules, items, observed, behavioural)
            shadow = [score.shadow_of(setup.challenger.version, risk, decision) for _, risk, decision, _ in challenger]
        thresholds = thresholds_for(setup.champion.record.thresholds, self._overrides)
        trace_id = tracing.current_trace_id()
        return [
            score.build(
                item,
                risk_score=risk,
                decision=decision,
                model_version=setup.champion.version,
                thresholds=thresholds.to_json(),
                received_at=item.get("received_at", now),
                scored_at=now,
                threshold_overrides=self._overrides.to_json(),
                behavioural=features,
                reasons=setup.champion.reasons(row) if decision in ALERTING_DECISIONS else [],
                rule=rule.fired() if rule else None,
                shadow=would_be,
                trace_id=trace_id,
            )
            for item, (row, risk, decision, rule), features, would_be in zip(
                items, champion, behavioural, shadow, strict=True
            )
        ]

    def _judged(
        self,
        model: OnnxModel,
        ruleset: rules.Ruleset,
        items: list[transaction.Transaction],
        observed: list[behaviour.Features],
        behavioural: list[dict[str, float]],
    ) -> list[tuple[list[float], float, Decision, rules.Rule | None]]:
        """What `model` and the rules make of each transaction: its feature row, risk, decision and the rule
        that decided, if one did."""
        rows = [model.features_of(item, values) for item, values in zip(items, observed, strict=True)]
        risks = model.predict(np.array(rows, dtype=np.float32))
        thresholds = thresholds_for(model.record.thresholds, self._overrides)
        judged = []
        for item, row, risk, features in zip(items, rows, risks, behavioural, strict=True):
            rule = ruleset.first_match(rules.facts_of(item, features, float(risk))) if ruleset.rules else None
            judged.append((row, float(risk), _decision(float(risk), thresholds, rule), rule))
        return judged


def _decision(risk: float, thresholds: Thresholds, rule: rules.Rule | None) -> Decision:
    return rule.decision if rule is not None else decide(risk, thresholds)


def signed_scored_event(decision: score.Score, keys: SigningKeys) -> Event:
    """The decision as persist and alert take it, signed with the scored key so they know score made it."""
    attributes = events.transaction_attributes(events.TRANSACTION_SCORED, events.SCORE_SOURCE, decision)
    return signed_json_event(attributes, decision, keys)


def new(settings: Settings) -> Score:
    redis = redis_client.connect(settings.redis_url)  # one connection pool for rates, histories and inline decisions
    return Score(
        SetupWatch.connect(settings.database_url),
        SinkClient(settings.k_sink) if settings.k_sink else None,
        UserHistories(redis),
        overrides=ThresholdOverrides(settings.review_threshold, settings.block_threshold),
        limits=RateLimits(redis, settings.key_rate_per_s),
        inline=InlineDecisions(redis, ttl_seconds=settings.dedup_ttl_seconds),
        received_keys=received_keys(settings),
        scored_keys=scored_keys(settings),
    )


handle = http_handler(new)
