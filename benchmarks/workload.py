"""The events the benchmarks send: synthetic transactions as ingest and score receive them,
and scored decisions as persist and alert receive them.

A transaction is a binary-mode CloudEvent whose body is a template with an ID_MARK
where the transaction id goes, so a load generator can give every request a fresh id
for the cost of a string join; and, when the template spreads its requests over many
users, a USER_MARK where the user id goes (request i is user i mod `users`), so
concurrent requests are not all about one user's history, as real traffic is not.
A decision carries score's signature over its id, so each is built and signed as it
is sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.loadgen import http_request
from sentinel.codec import http
from sentinel.core import events, score
from sentinel.core.integrity import SigningKeys
from sentinel.core.model import ModelRecord
from sentinel.serving.event_integrity import signed_json_event
from training.synthetic import demo_transactions

ID_MARK = "__ID__"
USER_MARK = "__USER__"
USER_PREFIX = "u-bench-"
BENCH_SOURCE = "/sentinel/benchmarks"
BENCH_CLIENT = "benchmarks"  # the client of the decisions the benchmarks sign themselves


@dataclass(frozen=True)
class Template:
    headers: dict[str, str]
    body: str  # JSON with ID_MARK where the transaction id goes
    users: int = 0  # when above 0, the body has USER_MARK where the user id goes

    def render(self, transaction_id: str, index: int = 0) -> bytes:
        body = self.body.replace(ID_MARK, transaction_id)
        if self.users:
            body = body.replace(USER_MARK, f"{USER_PREFIX}{index % self.users}")
        return body.encode()


def transactions(count: int, *, seed: int = 11, fraud_share: float = 0.03) -> list[dict[str, Any]]:
    """Synthetic transactions in the Transaction schema (the demo traffic's generator)."""
    return demo_transactions(count, seed=seed, fraud_share=fraud_share)


def created(transaction: dict[str, Any], *, api_key: str, users: int = 0) -> Template:
    """`dev.sentinel.transaction.created`, as a client holding `api_key` POSTs it to ingest or score;
    spread over `users` users when above 0, else all of the transaction's own user."""
    data = {**transaction, "user_id": USER_MARK} if users else transaction
    template = _template(events.TRANSACTION_CREATED, data)
    return Template({**template.headers, "Authorization": f"Bearer {api_key}"}, template.body, users)


def signed_scored_requests(
    transaction: dict[str, Any],
    host: str,
    port: int,
    *,
    champion: ModelRecord,
    keys: SigningKeys,
    id_prefix: str,
) -> Callable[[int], bytes]:
    """The i-th `dev.sentinel.transaction.scored` as score emits it for persist and alert: a block
    by the champion, for transaction `<id_prefix><i>`, signed with the scored key (so each is
    signed as it is sent, about 50 µs a request)."""
    risk_score = max(champion.thresholds["block"], 0.97)

    def request(index: int) -> bytes:
        now = events.utc_now()
        decision = score.build(
            {**transaction, "transaction_id": f"{id_prefix}{index}", "client_id": BENCH_CLIENT},
            risk_score=risk_score,
            decision="block",
            model_version=champion.version,
            thresholds=champion.thresholds,
            received_at=now,
            scored_at=now,
        )
        attributes = events.transaction_attributes(events.TRANSACTION_SCORED, events.SCORE_SOURCE, decision)
        headers, body = http.binary(signed_json_event(attributes, decision, keys))
        return http_request(host, port, "/", headers, body)

    return request


def _template(event_type: str, data: dict[str, Any]) -> Template:
    body = {**data, "transaction_id": ID_MARK}
    headers = {
        "ce-specversion": "1.0",
        "ce-id": ID_MARK,
        "ce-source": BENCH_SOURCE,
        "ce-type": event_type,
        "ce-subject": ID_MARK,
        "Content-Type": "application/json",
    }
    return Template(headers, json.dumps(body))


def requests_for(
    templates: list[Template], host: str, port: int, *, id_prefix: str, path: str = "/"
) -> Callable[[int], bytes]:
    """The i-th request: template i mod n with transaction id `<id_prefix><i>`."""

    def request(index: int) -> bytes:
        template = templates[index % len(templates)]
        transaction_id = f"{id_prefix}{index}"
        headers = {name: value.replace(ID_MARK, transaction_id) for name, value in template.headers.items()}
        return http_request(host, port, path, headers, template.render(transaction_id, index))

    return request
