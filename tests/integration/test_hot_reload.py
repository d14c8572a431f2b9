"""The model lifecycle end to end: Prefect `retrain` flow runs, and a running score process that follows them.

The score process is a real subprocess started with the functions-framework
command its image runs, on a registry of its own. Events stream into it while
the flow promotes a new champion, a rule is added or a challenger put in shadow:
the process must answer with the change within five seconds, and no event may
fail or go unscored meanwhile.

The tests share one registry and run in file order: empty, then v0001, then v0002,
then a rule, then v0001 in shadow.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from support import RecordingSink, a_transaction, created_event, free_port, post_binary, wait_for

from sentinel.config import PROJECT_ROOT
from sentinel.core.decision import Thresholds, decide
from sentinel.core.rules import Rule
from sentinel.stack import signing_secrets
from sentinel.stores import holdout as kept_holdout
from sentinel.stores import registry, rules
from sentinel.stores.api_keys import ApiKeyStore
from training import holdout

pytestmark = pytest.mark.stack

FUNCTIONS_FRAMEWORK = str(Path(sys.executable).parent / "functions-framework")
ROWS = 20_000
RATE = 40  # events a second while the champion changes
SWITCH_LIMIT = 5.0
HOLDOUT_SEED = 11


@dataclass(frozen=True)
class Answer:
    at: datetime
    status: int
    version: str | None
    decision: dict[str, Any] | None = None


@pytest.fixture(scope="module")
def database_url(stack) -> str:
    return stack.fresh_database("hot_reload_tests")


@pytest.fixture(scope="module")
def fixed_holdout(database_url) -> None:
    """The gate's holdout drawn from a known seed, so whether the second model passes the gate is the same every run."""
    with psycopg.connect(database_url) as conn:
        kept_holdout.keep(conn, holdout.draw(seed=HOLDOUT_SEED))


@pytest.fixture(scope="module")
def score_key(database_url) -> str:
    """A key with the score scope in the test's registry database, for asking score directly."""
    store = ApiKeyStore.connect(database_url)
    try:
        return store.create("hot-reload-tests", ["score"], by="tests")
    finally:
        store.close()


@pytest.fixture(scope="module")
def flows(stack, database_url, tmp_path_factory):
    """The training flows, run in this process on Prefect's ephemeral API, against the test's registry."""
    from training import prefect_env

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", database_url)
        patch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
        for name, value in prefect_env.settings_for(tmp_path_factory.mktemp("state")).items():
            patch.setenv(name, value)
        from training import flows

        yield flows


@pytest.fixture(scope="module")
def score(stack, database_url) -> Iterator[str]:
    """A score process started as its container starts it; its URL."""
    sink = RecordingSink()
    port = free_port()
    process = subprocess.Popen(
        [FUNCTIONS_FRAMEWORK, "--target", "handle", "--source", "functions/score/main.py", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env={
            "PATH": str(Path(sys.executable).parent),
            "DATABASE_URL": database_url,
            "REDIS_URL": stack.settings.redis_url,
            **signing_secrets.function_env(stack.settings),
            "K_SINK": sink.url,
            "HOST": "127.0.0.1",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), timeout=60, what="the score process to answer")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        sink.stop()


def _answers(url: str) -> bool:
    try:
        requests.get(f"{url}/health/liveness", timeout=2)
    except requests.ConnectionError:
        return False
    return True


def score_once(url: str, key: str) -> Answer:
    response = post_binary(f"{url}/", created_event(a_transaction()), timeout=10, key=key)
    decision = response.json() if response.status_code == 200 else None
    return Answer(datetime.now(UTC), response.status_code, decision and decision["model_version"], decision)


class Stream:
    """Scores one fresh transaction every 1/RATE seconds from a background thread, keeping every answer."""

    def __init__(self, url: str, key: str) -> None:
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, key), daemon=True)
        self._thread.start()

    def _run(self, url: str, key: str) -> None:
        while not self._stop.wait(1 / RATE):
            try:
                self.answers.append(score_once(url, key))
            except requests.RequestException as error:
                self.answers.append(Answer(datetime.now(UTC), 0, repr(error)))

    def stop(self) -> list[Answer]:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.answers


def promoted_at(database_url: str, version: str) -> datetime:
    with psycopg.connect(database_url) as conn:
        return registry.get(conn, version, with_onnx=False).promoted_at


def test_a_score_process_with_an_empty_registry_answers_503_saying_so(score, score_key):
    response = post_binary(f"{score}/", created_event(a_transaction()), key=score_key)
    assert response.status_code == 503
    assert "holds no champion" in response.json()["error"]
    readiness = requests.get(f"{score}/health/readiness", timeout=5)
    assert readiness.status_code == 503 and "holds no champion" in readiness.json()["reason"]


def test_retrain_promotes_a_new_champion_that_a_running_score_process_picks_up_without_failing_an_event(
    fixed_holdout, flows, score, score_key, database_url
):
    first = flows.retrain(rows=ROWS, seed=3)
    assert (first["version"], first["promoted"]) == ("v0001", True)
    wait_for(lambda: score_once(score, score_key).version == "v0001", timeout=SWITCH_LIMIT, what="score to load v0001")

    stream = Stream(score, score_key)
    wait_for(lambda: len(stream.answers) >= RATE, timeout=10, what="the event stream to flow")
    # Another seed, and the widest margin the gate allows: this test is about the swap, not the gate.
    second = flows.retrain(rows=ROWS, seed=4, gate_margin=0.1)
    assert (second["version"], second["promoted"], second["champion"]) == ("v0002", True, "v0002")
    wait_for(
        lambda: any(answer.version == "v0002" for answer in stream.answers), timeout=10, what="an event scored by v0002"
    )
    time.sleep(1)
    answers = stream.stop()

    failed = [answer for answer in answers if answer.status != 200]
    assert not failed, f"{len(failed)} of {len(answers)} events failed during the swap: {failed[:3]}"
    versions = [answer.version for answer in answers]
    switch = versions.index("v0002")
    assert set(versions[:switch]) == {"v0001"} and set(versions[switch:]) == {"v0002"}
    delay = (answers[switch].at - promoted_at(database_url, "v0002")).total_seconds()
    print(f"\nfirst event on v0002 {delay:.2f}s after its promotion; {len(answers)} events, none failed")
    assert delay < SWITCH_LIMIT


def test_the_evaluate_flow_scores_a_labelled_set_with_a_given_version(flows):
    metrics = flows.evaluate("v0001", rows=ROWS)
    assert metrics["version"] == "v0001"
    assert metrics["data"] == f"synthetic:rows={ROWS}:seed=8"
    assert 0 < metrics["auprc"] <= metrics["best_achievable_auprc"] + 0.1
    assert set(metrics["at_thresholds"]) == {"review", "block"}


def switched(answers: list[Answer], changed: Callable[[Answer], bool]) -> int:
    """Where the stream switched: every answer before it unchanged, every one from it changed."""
    failed = [answer for answer in answers if answer.status != 200]
    assert not failed, f"{len(failed)} of {len(answers)} events failed during the change: {failed[:3]}"
    switch = next(index for index, answer in enumerate(answers) if changed(answer))
    assert not any(changed(answer) for answer in answers[:switch])
    assert all(changed(answer) for answer in answers[switch:])
    return switch


def test_a_rule_added_while_events_stream_decides_every_later_event_and_none_fails(score, score_key, database_url):
    stream = Stream(score, score_key)
    wait_for(lambda: len(stream.answers) >= RATE, timeout=10, what="the event stream to flow")
    with psycopg.connect(database_url, autocommit=True) as conn:
        rules.save(conn, Rule("block-everything", "Amount > 0", "block", priority=1), by="tests")
        [added] = rules.history(conn, "block-everything")
    wait_for(
        lambda: any(answer.decision["rule"] for answer in stream.answers if answer.decision),
        timeout=10,
        what="an event decided by the rule",
    )
    time.sleep(1)
    answers = stream.stop()

    switch = switched(answers, lambda answer: answer.decision["rule"] is not None)
    assert {answer.decision["decision"] for answer in answers[switch:]} == {"block"}
    assert answers[switch].decision["rule"] == {"name": "block-everything", "version": 1, "action": "block"}
    delay = (answers[switch].at - added.changed_at).total_seconds()
    print(f"\nfirst event decided by the rule {delay:.2f}s after it was added; {len(answers)} events, none failed")
    assert delay < SWITCH_LIMIT


def test_a_challenger_put_in_shadow_is_recorded_on_every_later_event_and_never_decides(score, score_key, database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        rules.set_enabled(conn, "block-everything", False, by="tests")
    wait_for(
        lambda: score_once(score, score_key).decision["rule"] is None,
        timeout=SWITCH_LIMIT,
        what="score to drop the rule",
    )
    stream = Stream(score, score_key)
    wait_for(lambda: len(stream.answers) >= RATE, timeout=10, what="the event stream to flow")
    with psycopg.connect(database_url, autocommit=True) as conn:
        registry.put_in_shadow(conn, "v0001", by="tests")
    wait_for(
        lambda: any(answer.decision["shadow"] for answer in stream.answers if answer.decision),
        timeout=10,
        what="an event with the challenger's decision",
    )
    time.sleep(1)
    answers = stream.stop()

    switch = switched(answers, lambda answer: answer.decision["shadow"] is not None)
    assert {answer.decision["shadow"]["model_version"] for answer in answers[switch:]} == {"v0001"}
    for answer in answers:
        thresholds = Thresholds(**answer.decision["thresholds"])
        assert (answer.version, answer.decision["decision"]) == (
            "v0002",
            decide(answer.decision["risk_score"], thresholds),
        )
