"""Demo traffic: realistic transactions streamed to ingest as CloudEvents, at a steady rate.

Mostly normal transactions, a share of fraud-like ones, and a few exact
re-sends of earlier transactions so de-duplication has something to do.
When ingest sheds load (503 or 429 with Retry-After) the sender waits as told
and sends the same transaction again, for up to RETRY_FOR_S.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from requests.adapters import HTTPAdapter

from sentinel.core import events
from training.synthetic import demo_transactions

DEMO_SOURCE = "/sentinel/demo"
RETRY_FOR_S = 120.0
SHEDDING_STATUSES = frozenset({429, 503})


@dataclass
class SendReport:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    failed: int = 0
    deferred: int = 0  # answers that said "retry after", each waited out
    seconds: float = 0.0
    accepted_ids: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # reason -> count

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def plan_traffic(count: int, *, seed: int, fraud_share: float, duplicate_share: float) -> list[dict[str, Any]]:
    """`count` transactions to send, of which about `duplicate_share` repeat an earlier one."""
    rng = random.Random(seed)
    repeats = int(count * duplicate_share)
    unique = demo_transactions(count - repeats, seed=seed, fraud_share=fraud_share)
    planned = list(unique)
    for _ in range(repeats):
        position = rng.randrange(1, len(planned) + 1)
        planned.insert(position, rng.choice(planned[:position]))
    return planned


def created_event(transaction: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        {
            "type": events.TRANSACTION_CREATED,
            "source": DEMO_SOURCE,
            "id": str(uuid.uuid4()),
            "subject": transaction["transaction_id"],
            "datacontenttype": "application/json",
        },
        transaction,
    )


def send(
    url: str,
    transactions: list[dict[str, Any]],
    *,
    rate: float,
    api_key: str | None = None,
    concurrency: int = 8,
    on_sent: Callable[[], None] = lambda: None,
) -> SendReport:
    """POST each transaction to ingest in binary mode, `rate` per second, and count the answers."""
    report = SendReport()
    lock = threading.Lock()
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_maxsize=concurrency))
    started = time.monotonic()

    def post(index: int, transaction: dict[str, Any]) -> None:
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        headers, body = to_binary(created_event(transaction))
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        outcome, reason = "failed", ""
        give_up_at = time.monotonic() + RETRY_FOR_S
        try:
            response = session.post(url, data=body, headers=headers, timeout=30)
            while (wait := retry_after(response)) is not None and time.monotonic() + wait < give_up_at:
                with lock:
                    report.deferred += 1
                time.sleep(wait)
                response = session.post(url, data=body, headers=headers, timeout=30)
            if response.status_code == 202:
                answer = response.json()
                outcome = "accepted" if answer.get("accepted") else "duplicate"
            else:
                reason = f"HTTP {response.status_code}: {error_of(response)}"
        except requests.RequestException as error:
            reason = type(error).__name__
        with lock:
            report.sent += 1
            if outcome == "accepted":
                report.accepted += 1
                report.accepted_ids.append(transaction["transaction_id"])
            elif outcome == "duplicate":
                report.duplicates += 1
            else:
                report.failed += 1
                report.failures[reason] = report.failures.get(reason, 0) + 1
        on_sent()

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for index, transaction in enumerate(transactions):
            pool.submit(post, index, transaction)
    report.seconds = time.monotonic() - started
    session.close()
    return report


def error_of(response: requests.Response) -> str:
    """The `error` of a JSON error answer, else its status text."""
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return response.reason or "no reason given"


def retry_after(response: requests.Response) -> float | None:
    """Seconds to wait when ingest shed the request (RFC 9110 §10.2.3 delay-seconds), else None."""
    if response.status_code not in SHEDDING_STATUSES:
        return None
    try:
        return max(float(response.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return None
