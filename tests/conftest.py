"""The real local stack, started once per test session with the user's own command.

Integration and end-to-end tests marked `stack` share it. It runs under its own
state directory and port range, so it never touches a stack the user started.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import SENTINEL, RecentSpans, TraceCollector

from eventing import topology
from sentinel.config import (
    DISPATCHER_PORT_OFFSET,
    PORT_OFFSETS,
    Settings,
    component_port,
)
from sentinel.serving import tracing
from sentinel.stack import client_key
from sentinel.stack.signing_secrets import with_signing_secrets

PREFECT_OFFSET = 200  # the test stack's Prefect server never takes the user's 4200
STACK_VARIABLES = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "REDIS_URL", "K_SINK", "ALERT_WEBHOOK_URL")


@dataclass(frozen=True)
class Stack:
    settings: Settings
    env: dict[str, str]

    @property
    def api_key(self) -> str:
        """The key `sentinel up` made for the local client: every scope."""
        key = client_key.read(self.settings.state_dir)
        assert key, "sentinel up made no API key"
        return key

    def url(self, component: str) -> str:
        return f"http://127.0.0.1:{component_port(component, self.settings.port_base)}"

    def fresh_database(self, name: str, *, migrated: bool = True) -> str:
        """A new, empty database on the stack's PostgreSQL, migrated unless asked not to be; its URL."""
        from psycopg import connect, sql

        from sentinel.config import LOCAL_DATABASE_ROLE, local_database_url
        from sentinel.stack.postgres import admin_url
        from sentinel.stores import database

        port = component_port("postgres", self.settings.port_base)
        state = self.settings.state_dir
        with connect(admin_url(state, port), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(LOCAL_DATABASE_ROLE))
            )
        url = local_database_url(state, port, dbname=name)
        if migrated:
            database.migrate(url)
        return url

    def sentinel(self, *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SENTINEL, *arguments], env=self.env, capture_output=True, text=True, timeout=timeout)


def _free_port_base() -> int:
    """A port base where every fixed stack port is free."""
    dispatchers = range(DISPATCHER_PORT_OFFSET, DISPATCHER_PORT_OFFSET + len(topology.load().sources))
    # Below the kernel's ephemeral range (32768 and up), where an outgoing
    # connection could take one of the stack's ports; shuffled, so two test
    # runs starting at once rarely pick the same range.
    bases = list(range(19000, 32000, 1000))
    random.shuffle(bases)
    for base in bases:
        if all(_port_free(base + offset) for offset in [*PORT_OFFSETS.values(), *dispatchers, PREFECT_OFFSET]):
            return base
    raise RuntimeError("no free port range for the test stack")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="session", autouse=True)
def recent_spans() -> RecentSpans:
    """Every span this process makes, from the first test on (tracing starts once per process)."""
    recorder = RecentSpans()
    tracing.start("tests", exporter=recorder)
    return recorder


@pytest.fixture
def spans(recent_spans: RecentSpans) -> RecentSpans:
    """The spans made during this test."""
    recent_spans.clear()
    return recent_spans


@pytest.fixture(scope="session")
def trace_collector():
    """Where the test stack exports its spans (OTLP over HTTP)."""
    collector = TraceCollector()
    yield collector
    collector.stop()


@pytest.fixture(scope="session")
def stack(trace_collector):
    # Not under pytest's own temporary root: every new pytest session resets that
    # root to mode 0700, which would lock PostgreSQL's own user out of its data.
    state = Path(tempfile.mkdtemp(prefix="sentinel-test-stack-"))
    base = _free_port_base()
    overrides = {
        "SENTINEL_STATE_DIR": str(state),
        "SENTINEL_PORT_BASE": str(base),
        "SENTINEL_PORT_PREFECT": str(base + PREFECT_OFFSET),
        "SENTINEL_BOOTSTRAP_ROWS": "20000",
        "OTEL_EXPORTER_OTLP_ENDPOINT": trace_collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "500",
    }
    saved = {name: os.environ.get(name) for name in (*overrides, *STACK_VARIABLES)}
    for name in STACK_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(overrides)
    env = dict(os.environ)
    started = subprocess.run([SENTINEL, "up"], env=env, capture_output=True, text=True, timeout=600)
    try:
        if started.returncode != 0:
            pytest.fail(f"sentinel up failed:\n{started.stdout}\n{started.stderr}")
        yield Stack(with_signing_secrets(Settings.from_env()), env)  # in-process functions hold the keys
    finally:
        try:
            _down_stops_everything(env, state)
        finally:
            shutil.rmtree(state, ignore_errors=True)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _down_stops_everything(env: dict[str, str], state: Path) -> None:
    """`sentinel down`, then check that no process `up` started is left running.

    Whatever is left is killed, so a failing run never leaks a stack."""
    stopped = subprocess.run([SENTINEL, "down"], env=env, capture_output=True, text=True, timeout=180)
    left = _processes_mentioning(str(state))
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            group = os.getpgid(pid)  # a keeper leads its own group, holding its component's processes
            if group != os.getpgrp():
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not left, f"sentinel down left these processes running: {left}"


def _processes_mentioning(text: str) -> list[int]:
    """Processes whose command line names `text` (every keeper names its state file)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
