"""The model registry and the first-model bootstrap against a real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from sentinel.core import behaviour
from sentinel.core.model import OnnxModel, sha256_hex
from sentinel.core.promotion import GateResult
from sentinel.core.transaction import FEATURE_NAMES
from sentinel.stores import registry
from sentinel.stores.database import create_pool
from sentinel.stores.registry import GateRejected, NothingToRollBack, UnknownModel
from training.bootstrap import PROMOTED_BY, PROMOTION_REASON, ensure_champion

BOOTSTRAP_ROWS = 30_000
THRESHOLDS = {"review": 0.3, "block": 0.8}


pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def postgres_url(stack) -> str:
    """A migrated database of its own on the test stack's PostgreSQL."""
    return stack.fresh_database("registry_tests")


@pytest.fixture
def conn(postgres_url: str) -> Iterator[psycopg.Connection]:
    """A connection to an empty registry."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("TRUNCATE models, promotions")
        yield connection


def register(conn: psycopg.Connection, onnx: bytes = b"onnx bytes") -> registry.ModelRecord:
    return registry.register(conn, onnx, thresholds=THRESHOLDS, metrics={"auprc": 0.7}, data_fingerprint="fingerprint")


def test_an_empty_registry_has_no_champion(conn):
    assert registry.champion(conn) is None
    assert registry.champion_version(conn) is None


def test_a_registered_model_is_a_candidate_with_its_bytes_hash_and_metadata(conn):
    record = register(conn, b"model one")
    assert record.status == "candidate"
    assert record.sha256 == sha256_hex(b"model one")
    stored = registry.get(conn, record.version)
    assert stored == record
    assert stored.onnx == b"model one"
    assert stored.feature_names == FEATURE_NAMES
    assert stored.thresholds == THRESHOLDS
    assert stored.metrics == {"auprc": 0.7}
    assert stored.created_at is not None and stored.promoted_at is None


def test_a_record_read_without_its_bytes_has_empty_onnx(conn):
    record = register(conn, b"model one")
    assert registry.get(conn, record.version, with_onnx=False).onnx == b""


def test_versions_are_numbered_in_registration_order(conn):
    versions = [register(conn).version for _ in range(3)]
    assert versions == ["v0001", "v0002", "v0003"]


def test_registering_thresholds_out_of_order_is_refused(conn):
    with pytest.raises(ValueError, match="review <= block"):
        registry.register(
            conn, b"model", thresholds={"review": 0.9, "block": 0.5}, metrics={}, data_fingerprint="fingerprint"
        )
    assert registry.get(conn, "v0001") is None


def test_promotion_makes_a_model_the_champion_and_records_who_and_why(conn):
    version = register(conn).version
    promoted = registry.promote(conn, version, by="analyst", reason="better AUPRC")
    champion = registry.champion(conn)
    assert champion == promoted
    assert (champion.version, champion.status) == (version, "champion")
    assert (champion.promoted_by, champion.reason) == ("analyst", "better AUPRC")
    assert champion.promoted_at is not None
    assert registry.champion_version(conn) == version


def test_promotion_retires_the_previous_champion(conn):
    first, second = register(conn).version, register(conn).version
    registry.promote(conn, first, by="test", reason="first")
    registry.promote(conn, second, by="test", reason="second")
    assert registry.champion_version(conn) == second
    assert registry.get(conn, first).status == "retired"


def test_promoting_the_champion_again_changes_nothing(conn):
    version = register(conn).version
    first = registry.promote(conn, version, by="test", reason="first")
    again = registry.promote(conn, version, by="someone else", reason="again")
    assert again == first


def test_promoting_an_unknown_version_fails_and_keeps_the_champion(conn):
    version = register(conn).version
    registry.promote(conn, version, by="test", reason="first")
    with pytest.raises(UnknownModel):
        registry.promote(conn, "v9999", by="test", reason="typo")
    assert registry.champion_version(conn) == version


def test_concurrent_promotions_leave_exactly_one_champion(conn, postgres_url):
    versions = [register(conn).version for _ in range(6)]
    with create_pool(postgres_url, max_size=6) as pool:
        promoters = [
            threading.Thread(target=registry.promote, args=(pool, version), kwargs={"by": "test", "reason": "race"})
            for version in versions
        ]
        for promoter in promoters:
            promoter.start()
        for promoter in promoters:
            promoter.join()
    statuses = [registry.get(conn, version, with_onnx=False).status for version in versions]
    assert statuses.count("champion") == 1
    assert statuses.count("retired") == 5


def test_concurrent_registrations_get_distinct_versions(conn, postgres_url):
    with create_pool(postgres_url, max_size=4) as pool:
        registered: list[str] = []
        workers = [threading.Thread(target=lambda: registered.append(register(pool).version)) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert sorted(registered) == [f"v{number:04d}" for number in range(1, 9)]


def verdict(candidate: str, champion: str | None, candidate_auprc: float, champion_auprc: float | None) -> GateResult:
    return GateResult(
        candidate_version=candidate,
        candidate_auprc=candidate_auprc,
        champion_version=champion,
        champion_auprc=champion_auprc,
        margin=0.01,
        evaluated_on="the same rows",
    )


def champion_then_candidate(conn: psycopg.Connection) -> tuple[str, str]:
    champion, candidate = register(conn).version, register(conn).version
    registry.promote(conn, champion, by="test", reason="first")
    return champion, candidate


def test_models_are_listed_newest_first_without_their_bytes(conn):
    versions = [register(conn, f"model {number}".encode()).version for number in range(3)]
    listed = registry.models(conn)
    assert [record.version for record in listed] == versions[::-1]
    assert all(record.onnx == b"" for record in listed)


def test_the_gate_passes_a_candidate_within_the_margin():
    assert verdict("v2", "v1", 0.695, 0.70).passed
    assert verdict("v2", None, 0.1, None).passed
    assert not verdict("v2", "v1", 0.68, 0.70).passed


def test_a_failed_gate_refuses_the_promotion_and_keeps_the_champion(conn):
    champion, candidate = champion_then_candidate(conn)
    with pytest.raises(GateRejected, match=r"AUPRC 0.6000, champion v0001 0.7000 .* fails the gate"):
        registry.promote(conn, candidate, by="test", reason="worse", gate=verdict(candidate, champion, 0.6, 0.7))
    assert registry.champion_version(conn) == champion
    assert registry.get(conn, candidate).status == "candidate"


def test_a_passed_gate_promotes_and_the_history_keeps_its_numbers(conn):
    champion, candidate = champion_then_candidate(conn)
    registry.promote(conn, candidate, by="flow", reason="better", gate=verdict(candidate, champion, 0.75, 0.7))
    latest = registry.promotions(conn)[0]
    assert (latest.version, latest.previous_version, latest.action, latest.forced) == (
        candidate,
        champion,
        "promote",
        False,
    )
    assert latest.gate["passed"] and latest.gate["candidate_auprc"] == 0.75


def test_force_overrides_the_gate_and_records_who_and_why(conn):
    champion, candidate = champion_then_candidate(conn)
    gate = verdict(candidate, champion, 0.5, 0.7)
    registry.promote(conn, candidate, by="alice", reason="hotfix for a new attack", gate=gate, force=True)
    assert registry.champion_version(conn) == candidate
    latest = registry.promotions(conn)[0]
    assert (latest.forced, latest.promoted_by, latest.reason) == (True, "alice", "hotfix for a new attack")
    assert latest.gate["passed"] is False


def test_a_gate_measured_against_an_earlier_champion_is_refused(conn):
    first, second, candidate = (register(conn).version for _ in range(3))
    registry.promote(conn, first, by="test", reason="first")
    stale = verdict(candidate, first, 0.9, 0.7)
    registry.promote(conn, second, by="test", reason="meanwhile")
    with pytest.raises(GateRejected, match="evaluate it again"):
        registry.promote(conn, candidate, by="test", reason="stale", gate=stale)
    assert registry.champion_version(conn) == second


def test_the_gate_verdict_is_kept_in_the_candidates_metrics(conn):
    champion, candidate = champion_then_candidate(conn)
    registry.record_gate(conn, verdict(candidate, champion, 0.6, 0.7))
    stored = registry.get(conn, candidate, with_onnx=False).metrics
    assert stored["auprc"] == 0.7
    assert stored["gate"]["champion_version"] == champion and stored["gate"]["passed"] is False


def test_rollback_walks_back_through_earlier_champions(conn):
    versions = [register(conn).version for _ in range(3)]
    for version in versions:
        registry.promote(conn, version, by="test", reason="next")
    assert registry.rollback(conn, by="bob", reason="alerts doubled").version == versions[1]
    assert registry.rollback(conn, by="bob", reason="still bad").version == versions[0]
    assert registry.get(conn, versions[2]).status == "retired"
    latest = registry.promotions(conn)[0]
    assert (latest.action, latest.version, latest.previous_version, latest.promoted_by) == (
        "rollback",
        versions[0],
        versions[1],
        "bob",
    )


def test_rollback_after_promoting_an_old_model_returns_to_the_one_it_replaced(conn):
    first, second = register(conn).version, register(conn).version
    registry.promote(conn, first, by="test", reason="first")
    registry.promote(conn, second, by="test", reason="second")
    registry.promote(conn, first, by="test", reason="back to the first by hand")
    assert registry.rollback(conn, by="test", reason="undo").version == second


def test_the_first_champion_has_nothing_to_roll_back_to(conn):
    version = register(conn).version
    registry.promote(conn, version, by="test", reason="first")
    with pytest.raises(NothingToRollBack, match="first champion"):
        registry.rollback(conn, by="test", reason="oops")
    assert registry.champion_version(conn) == version


def test_an_empty_registry_has_nothing_to_roll_back(conn):
    with pytest.raises(NothingToRollBack, match="no champion"):
        registry.rollback(conn, by="test", reason="oops")


def test_ensure_champion_trains_and_promotes_a_first_model_that_loads(conn, postgres_url):
    progress: list[str] = []
    version = ensure_champion(postgres_url, rows=BOOTSTRAP_ROWS, seed=3, progress=progress.append)
    champion = registry.champion(conn)
    assert champion.version == version
    assert (champion.promoted_by, champion.reason) == (PROMOTED_BY, PROMOTION_REASON)
    assert champion.metrics["parity_max_delta"] <= 1e-5
    assert 0 < champion.thresholds["review"] <= champion.thresholds["block"] < 1
    assert any("parity" in message for message in progress)
    model = OnnxModel(champion)
    row = model.features_of(dict.fromkeys(FEATURE_NAMES, 0.0), [0.0] * len(behaviour.FEATURES))
    assert model.uses_behaviour and model.predict(np.array(row)).shape == (1,)


def test_ensure_champion_keeps_an_existing_champion(conn, postgres_url):
    existing = register(conn).version
    registry.promote(conn, existing, by="test", reason="already there")
    progress: list[str] = []
    assert ensure_champion(postgres_url, rows=BOOTSTRAP_ROWS, progress=progress.append) == existing
    assert progress == []
    assert registry.get(conn, "v0002") is None


def test_two_processes_bootstrapping_at_once_train_one_champion(conn, postgres_url):
    results: list[str] = []
    starters = [
        threading.Thread(target=lambda: results.append(ensure_champion(postgres_url, rows=BOOTSTRAP_ROWS, seed=3)))
        for _ in range(2)
    ]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join()
    assert len(results) == 2 and results[0] == results[1]
    assert conn.execute("SELECT count(*) FROM models").fetchone()[0] == 1
