"""Helpers for the eventing tests: records in and out, a scriptable HTTP sink, test manifests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
import yaml
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from support import free_port, wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[3]
NAMESPACE = "sentinel-test"
T = TypeVar("T")


# -- records --------------------------------------------------------------------


def produce(broker: str, topic: str, records: list[dict[str, Any]], *, flush_every: int = 0) -> None:
    """Write records ({value, key?, headers?, partition?, timestamp?}); flushing every n makes separate batches."""
    producer = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 5})
    for index, record in enumerate(records, start=1):
        producer.produce(topic, **record)
        if flush_every and index % flush_every == 0:
            producer.flush(10)
    assert producer.flush(10) == 0, "records not acknowledged"


def read_records(
    broker: str,
    topic: str,
    count: int,
    *,
    partitions: int = 1,
    timeout: float = 10,
    where: Callable[[Any], bool] = lambda _record: True,
) -> list[Any]:
    """The first `count` records of a topic that match `where`, read without joining a group."""
    consumer = Consumer(
        {"bootstrap.servers": broker, "group.id": f"reader-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < count and time.monotonic() < deadline:
            found.extend(m for m in consumer.consume(100, 0.1) if m.error() is None and where(m))
    finally:
        consumer.close()
    return found


def committed_offsets(broker: str, group: str, topic: str, partitions: int = 1) -> list[int]:
    """The group's committed offset per partition (-1001 where it committed nothing)."""
    consumer = Consumer({"bootstrap.servers": broker, "group.id": group, "enable.auto.commit": False})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return [tp.offset for tp in found]


# -- knative/ manifests for one test ------------------------------------------


def write_topology(
    directory: Path,
    *,
    source: str,
    topics: list[str],
    consumer_group: str,
    ordering: str = "ordered",
    delivery: dict[str, Any] | None = None,
) -> Path:
    """A minimal knative/ directory: one Service, a KafkaSink per topic plus a DLQ sink, one KafkaSource."""
    directory.mkdir(parents=True, exist_ok=True)
    service = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "test-sink"},
        "spec": {"template": {"spec": {"containers": [{"image": "dev.local/test-sink"}]}}},
    }
    sinks = [
        {
            "apiVersion": "eventing.knative.dev/v1alpha1",
            "kind": "KafkaSink",
            "metadata": {"name": name},
            "spec": {"topic": topic, "numPartitions": 1},
        }
        for name, topic in [*((f"sink-{i}", t) for i, t in enumerate(topics)), ("test-dlq", f"{topics[0]}.dlq")]
    ]
    source_spec: dict[str, Any] = {
        "topics": topics,
        "consumerGroup": consumer_group,
        "initialOffset": "earliest",
        "ordering": ordering,
        "sink": {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "test-sink"}},
    }
    if delivery is not None:
        source_spec["delivery"] = delivery
    kafka_source = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "KafkaSource",
        "metadata": {"name": source},
        "spec": source_spec,
    }
    (directory / "resources.yaml").write_text(yaml.safe_dump_all([service, *sinks, kafka_source]))
    (directory / "kustomization.yaml").write_text(
        yaml.safe_dump({"namespace": NAMESPACE, "resources": ["resources.yaml"]})
    )
    return directory


def dead_letter_to() -> dict[str, Any]:
    """A deadLetterSink reference to the DLQ KafkaSink that write_topology adds."""
    return {"ref": {"apiVersion": "eventing.knative.dev/v1alpha1", "kind": "KafkaSink", "name": "test-dlq"}}


# -- the eventing processes ---------------------------------------------------


@dataclass
class RunningProcess:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def terminate(self, timeout: float = 15) -> None:
        """SIGTERM, and SIGKILL if it has not exited after `timeout` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class RunningDispatcher(RunningProcess):
    def status(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/healthz", timeout=5).json()


def spawn_module(
    module: str, arguments: list[str], bootstrap_servers: str, log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`python -m module arguments...` from the project root, output to `log_path`, `env` added to ours."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", module, *arguments],
            cwd=PROJECT_ROOT,
            env={**os.environ, **(env or {}), "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def launch_ingress(topology: Path, bootstrap_servers: str, log_path: Path, *extra: str) -> RunningProcess:
    """Start the ingress and wait until it answers HTTP."""
    port = free_port()
    process = spawn_module(
        "eventing.ingress", ["--port", str(port), "--topology", str(topology), *extra], bootstrap_servers, log_path
    )
    running = RunningProcess(process, f"http://127.0.0.1:{port}", log_path)
    wait_for(lambda: _answers_http(running), timeout=15, what="ingress listening", every=0.1)
    return running


def _answers_http(running: RunningProcess) -> bool:
    if running.process.poll() is not None:
        raise AssertionError(f"{running.url} exited with {running.process.returncode}:\n{running.log()}")
    try:
        requests.get(f"{running.url}/healthz", timeout=2)
    except requests.RequestException:
        return False
    return True
