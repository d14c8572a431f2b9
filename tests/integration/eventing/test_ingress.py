"""The KafkaSink ingress as a real gunicorn process, writing to a real broker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from confluent_kafka.admin import AdminClient, NewTopic
from eventing_support import (
    NAMESPACE,
    RunningProcess,
    launch_ingress,
    read_records,
    write_topology,
)
from support import free_port

PARTITIONS = 3
SINK_PATH = f"/{NAMESPACE}/sink-0"


class Ingress:
    def __init__(self, process: RunningProcess, broker: str, topic: str) -> None:
        self.process = process
        self.broker = broker
        self.topic = topic
        self.sink_url = process.url + SINK_PATH

    def records_with_ids(self, *ids: str) -> list[Any]:
        wanted = {event_id.encode() for event_id in ids}
        return read_records(
            self.broker,
            self.topic,
            len(ids),
            partitions=PARTITIONS,
            timeout=5,
            where=lambda record: dict(record.headers() or []).get("ce_id") in wanted,
        )


@pytest.fixture(scope="module")
def ingress(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingress]:
    """One ingress for the module; tests keep apart by their events' unique ids."""
    topic = f"t-ingress-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": broker})
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result(timeout=10)
    directory = tmp_path_factory.mktemp("ingress")
    topology = write_topology(directory / "knative", source="unused", topics=[topic], consumer_group="unused")
    process = launch_ingress(topology, broker, directory / "ingress.log")
    yield Ingress(process, broker, topic)
    process.terminate()


def binary_headers(event_id: str, **extra: str) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/tests/ingress",
        "ce-type": "dev.sentinel.transaction.received",
        "Content-Type": "application/json",
        **extra,
    }


def a_unique_id() -> str:
    return f"evt-{uuid.uuid4().hex}"


def test_binary_event_is_answered_202_once_the_broker_has_it(ingress: Ingress):
    event_id = a_unique_id()
    response = requests.post(
        ingress.sink_url,
        data=b'{"amount": 1.5}',
        headers=binary_headers(event_id, **{"ce-subject": "txn-9"}),
        timeout=10,
    )

    assert response.status_code == 202
    [record] = ingress.records_with_ids(event_id)
    assert dict(record.headers()) == {
        "ce_specversion": b"1.0",
        "ce_id": event_id.encode(),
        "ce_source": b"/tests/ingress",
        "ce_type": b"dev.sentinel.transaction.received",
        "ce_subject": b"txn-9",
        "content-type": b"application/json",
    }
    assert record.value() == b'{"amount": 1.5}'


def test_partitionkey_becomes_the_record_key(ingress: Ingress):
    ids = [a_unique_id() for _ in range(4)]
    for event_id in ids:
        headers = binary_headers(event_id, **{"ce-partitionkey": "user-42"})
        assert requests.post(ingress.sink_url, data=b"{}", headers=headers, timeout=10).status_code == 202

    records = ingress.records_with_ids(*ids)
    assert {record.key() for record in records} == {b"user-42"}
    assert len({record.partition() for record in records}) == 1
    assert all(dict(record.headers())["ce_partitionkey"] == b"user-42" for record in records)


def test_structured_event_is_written_in_binary_mode(ingress: Ingress):
    event_id = a_unique_id()
    envelope = {"specversion": "1.0", "id": event_id, "source": "/tests", "type": "t", "data": {"amount": 3}}
    response = requests.post(
        ingress.sink_url,
        data=json.dumps(envelope),
        headers={"Content-Type": "application/cloudevents+json"},
        timeout=10,
    )

    assert response.status_code == 202
    [record] = ingress.records_with_ids(event_id)
    assert dict(record.headers())["content-type"] == b"application/json"
    assert json.loads(record.value()) == {"amount": 3}


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"Content-Type": "application/json"}, "ce-specversion"),
        ({**binary_headers("x"), "ce-id": ""}, "id"),
        ({**binary_headers("x"), "ce-specversion": "0.3"}, "specversion"),
        ({"Content-Type": "application/cloudevents+json"}, "not valid JSON"),
        ({"Content-Type": "application/cloudevents-batch+json"}, "batched"),
    ],
    ids=["plain-json", "empty-id", "old-specversion", "bad-structured", "batch"],
)
def test_body_that_is_not_a_cloudevent_is_rejected_with_400_naming_the_problem(
    ingress: Ingress, headers: dict[str, str], problem: str
):
    response = requests.post(ingress.sink_url, data=b'{"not": "an event"', headers=headers, timeout=10)

    assert response.status_code == 400
    assert problem in response.json()["error"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_the_size_limit_is_refused_with_413(ingress: Ingress, chunked: bool):
    body = b"x" * (2 * 1024 * 1024)
    data = iter([body[:1024], body[1024:]]) if chunked else body

    response = requests.post(ingress.sink_url, data=data, headers=binary_headers(a_unique_id()), timeout=10)

    assert response.status_code == 413


def test_unknown_sink_path_is_404(ingress: Ingress):
    response = requests.post(
        f"{ingress.process.url}/{NAMESPACE}/no-such-sink", data=b"{}", headers=binary_headers("x"), timeout=10
    )

    assert response.status_code == 404
    assert "no-such-sink" in response.json()["error"]


def test_healthz_is_200_while_the_broker_answers(ingress: Ingress):
    response = requests.get(f"{ingress.process.url}/healthz", timeout=10)

    assert response.status_code == 200
    assert response.json()["healthy"] is True


def test_without_a_broker_events_are_answered_503_and_healthz_fails(
    tmp_path: Path, start_ingress: Callable[..., RunningProcess]
):
    topology = write_topology(tmp_path / "knative", source="unused", topics=["nowhere"], consumer_group="unused")
    ingress = start_ingress(topology, f"127.0.0.1:{free_port()}", "--delivery-timeout", "1")

    response = requests.post(ingress.url + SINK_PATH, data=b"{}", headers=binary_headers("x"), timeout=10)

    assert response.status_code == 503
    assert "did not acknowledge" in response.json()["error"]
    assert requests.get(f"{ingress.url}/healthz", timeout=10).status_code == 503
