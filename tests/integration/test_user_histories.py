"""Behavioural features online (users' histories in the test stack's real Redis) against offline (training)."""

from __future__ import annotations

import threading
import uuid

import numpy as np
import pytest

from sentinel.core import behaviour
from sentinel.core.errors import Unavailable
from sentinel.stores import redis_client
from sentinel.stores.behaviour import KEY_PREFIX, UserHistories
from training.behaviour import behavioural_features
from training.dataset import check
from training.synthetic import generate

pytestmark = pytest.mark.stack

PARITY_ROWS = 3_000


@pytest.fixture
def client(stack):
    connection = redis_client.connect(stack.settings.redis_url)
    yield connection
    for key in connection.scan_iter(f"{KEY_PREFIX}*"):
        connection.delete(key)
    connection.close()


@pytest.fixture
def histories(client):
    return UserHistories(client)


def a_client_id() -> str:
    return f"c-{uuid.uuid4().hex[:8]}"


def test_every_feature_online_equals_the_offline_computation_within_1e_6(histories):
    """The parity test: a synthetic history streamed through the online path, in time order,
    one request at a time and in batches, gives the values training computes offline."""
    dataset = check(generate(PARITY_ROWS, seed=11), origin="synthetic rows")
    offline = behavioural_features(dataset)
    client_id = a_client_id()
    microseconds = (dataset.event_times.astype("datetime64[us]") - np.datetime64(0, "us")) // np.timedelta64(1, "us")
    order = np.argsort(microseconds, kind="stable")
    online = np.empty_like(offline)
    batch: list[int] = []
    for position, row in enumerate(order.tolist()):
        batch.append(row)
        if position % 7 == 0 or position == len(order) - 1:  # batches of one to seven, as a dispatcher may send
            observed = [
                (
                    (client_id, str(dataset.user_ids[index])),
                    behaviour.Observation(
                        dataset.transaction_ids[index] if dataset.transaction_ids is not None else f"row-{index}",
                        int(microseconds[index]) / 1e6,
                        float(dataset.amounts[index]),
                        _merchant(dataset, index),
                    ),
                )
                for index in batch
            ]
            online[batch] = histories.observe(observed)
            batch = []
    assert np.abs(online - offline).max() <= 1e-6


def _merchant(dataset, index: int) -> str | None:
    if dataset.merchant_ids is None:
        return None
    return str(dataset.merchant_ids[index]) or None


def test_a_redelivered_transaction_is_not_counted_twice(histories):
    user = (a_client_id(), "u1")
    first = behaviour.Observation("t-1", 1_000.0, 20.0, "m1")
    second = behaviour.Observation("t-2", 1_060.0, 30.0, "m2")
    histories.observe([(user, first)])
    features = histories.observe([(user, second)])
    assert histories.observe([(user, second)]) == features
    third = histories.observe([(user, behaviour.Observation("t-3", 1_100.0, 1.0, "m1"))])[0]
    assert dict(zip(behaviour.FEATURES, third, strict=True))["user_previous_count"] == 2


def test_the_same_user_id_of_two_clients_has_two_histories(histories):
    seen = behaviour.Observation("t-1", 1_000.0, 20.0, "m1")
    histories.observe([((a_client_id(), "u1"), seen)])
    other = histories.observe([((a_client_id(), "u1"), behaviour.Observation("t-2", 1_010.0, 5.0, "m1"))])[0]
    assert dict(zip(behaviour.FEATURES, other, strict=True))["user_previous_count"] == 0


def test_concurrent_writers_of_one_history_lose_no_transaction(histories):
    user = (a_client_id(), "u1")
    writers = 4
    per_writer = 25

    def write(writer: int) -> None:
        for number in range(per_writer):
            seen = behaviour.Observation(f"t-{writer}-{number}", 1_000.0 + number, 1.0, None)
            while True:
                try:
                    histories.observe([(user, seen)])
                    break
                except Unavailable:  # answered 503, so a dispatcher would deliver it again
                    continue

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    last = histories.observe([(user, behaviour.Observation("t-last", 2_000.0, 1.0, None))])[0]
    assert dict(zip(behaviour.FEATURES, last, strict=True))["user_previous_count"] == writers * per_writer


def test_a_history_expires_after_its_time_to_live(client):
    histories = UserHistories(client, ttl_seconds=60)
    user = (a_client_id(), "u1")
    histories.observe([(user, behaviour.Observation("t-1", 1_000.0, 20.0, "m1"))])
    assert 0 < client.ttl(f"{KEY_PREFIX}{user[0]}:{user[1]}") <= 60
