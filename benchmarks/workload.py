"""The events the benchmarks send: synthetic transactions as ingest and score receive them,
and scored decisions as persist and alert receive them.

Each is a binary-mode CloudEvent whose body is a template with an ID_MARK where the
transaction id goes, so a load generator can give every request a fresh id for the
cost of a string join.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.loadgen import http_request
from sentinel.core import events, score
from training.synthetic import demo_transactions

ID_MARK = "__ID__"
BENCH_SOURCE = "/sentinel/benchmarks"


@dataclass(frozen=True)
class Template:
    headers: dict[str, str]
    body: str  # JSON with ID_MARK where the transaction id goes

    def render(self, transaction_id: str) -> bytes:
        return self.body.replace(ID_MARK, transaction_id).encode()


def transactions(count: int, *, seed: int = 11, fraud_share: float = 0.03) -> list[dict[str, Any]]:
    """Synthetic transactions in the Transaction schema (the demo traffic's generator)."""
    return demo_transactions(count, seed=seed, fraud_share=fraud_share)


def created(transaction: dict[str, Any]) -> Template:
    """`dev.sentinel.transaction.created`, as a client POSTs it to ingest or score."""
    return _template(events.TRANSACTION_CREATED, transaction)


def scored(transaction: dict[str, Any], *, risk_score: float, verdict: str) -> Template:
    """`dev.sentinel.transaction.scored`, as score emits it for persist and alert."""
    now = events.utc_now()
    decision = score.build(
        {**transaction, "transaction_id": ID_MARK},
        risk_score=risk_score,
        decision=verdict,
        model_version="bench",
        thresholds={"review": 0.5, "block": 0.9},
        received_at=now,
        scored_at=now,
    )
    return _template(events.TRANSACTION_SCORED, decision)


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
        return http_request(host, port, path, headers, template.render(transaction_id))

    return request
