"""The functions scale from zero on a burst and back to zero after it, against the real stack,
and every accepted transaction is stored exactly once.

The session's stack runs its functions plainly; this test restarts them behind their
autoscaler fronts (`sentinel up --autoscale`) with short windows, and restores them after."""

from __future__ import annotations

import subprocess
import threading
import time

import psycopg
import pytest
from support import SENTINEL, wait_for

from sentinel.cli import demo_traffic
from sentinel.stack.autoscaling_status import autoscaler_status

pytestmark = pytest.mark.stack

FUNCTIONS = ("ingest", "score", "persist", "alert")
SHORT_WINDOWS = {"SENTINEL_AUTOSCALE_STABLE_WINDOW_S": "6", "SENTINEL_AUTOSCALE_TO_ZERO_GRACE_S": "3"}
BURST = 600
RATE = 150.0


@pytest.fixture
def autoscaled(stack):
    """The session's stack with its functions behind autoscaler fronts, plain again afterwards."""
    stack.sentinel("down", *FUNCTIONS)
    started = _up(stack, ["--autoscale"], SHORT_WINDOWS)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield stack
    finally:
        stack.sentinel("down", *FUNCTIONS)
        restored = _up(stack, [], {})
        assert restored.returncode == 0, restored.stdout + restored.stderr


def _up(stack, flags: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SENTINEL, "up", *flags], env={**stack.env, **env}, capture_output=True, text=True, timeout=300
    )


def _replicas(stack) -> dict[str, int]:
    return {name: (autoscaler_status(stack.url(name)) or {}).get("ready", -1) for name in FUNCTIONS}


def _stored(database_url: str, ids: list[str]) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT transaction_id, count(*) FROM transactions WHERE transaction_id = ANY(%s) GROUP BY 1", (ids,)
        ).fetchall()
    return dict(rows)


def test_a_burst_after_idle_scales_every_function_from_zero_and_back_and_stores_each_event_once(autoscaled):
    stack = autoscaled
    assert wait_for(lambda: _replicas(stack) == dict.fromkeys(FUNCTIONS, 0), timeout=60, what="every function at zero")
    assert stack.sentinel("status").returncode == 0  # at zero replicas a function is healthy, idle

    peak = dict.fromkeys(FUNCTIONS, 0)
    sending = threading.Event()

    def sample() -> None:
        while sending.is_set():
            for name, ready in _replicas(stack).items():
                peak[name] = max(peak[name], ready)
            time.sleep(0.2)

    sending.set()
    sampler = threading.Thread(target=sample)
    sampler.start()
    planned = demo_traffic.plan_traffic(BURST, seed=15, fraud_share=0.03, duplicate_share=0.0)
    try:
        report = demo_traffic.send(stack.url("ingest") + "/", planned, rate=RATE, api_key=stack.api_key)
        assert report.failed == 0, report.failures
        assert report.accepted == BURST
        stored = wait_for(
            lambda: (rows := _stored(stack.settings.database_url, report.accepted_ids)) and len(rows) == BURST and rows,
            timeout=120,
            what="every accepted transaction stored",
        )
    finally:
        sending.clear()
        sampler.join()
    assert set(stored.values()) == {1}
    assert all(peak[name] >= 1 for name in FUNCTIONS), peak

    assert wait_for(lambda: _replicas(stack) == dict.fromkeys(FUNCTIONS, 0), timeout=90, what="back to zero")
    ingest = autoscaler_status(stack.url("ingest"))
    assert ingest is not None and ingest["cold_starts"], "the first event after idle was answered after a cold start"
    reasons = [event["reason"] for event in ingest["events"]]
    assert any("to zero" in reason for reason in reasons), reasons
