"""`sentinel up`, `down` and `status`: the whole pipeline as background processes.

Each component runs under its own keeper (sentinel.stack.keeper), which
restarts it if it dies. What `up` started is recorded under
`<state dir>/run/`, logs go to `<state dir>/logs/`, and `down` stops exactly
what those records name.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
from psycopg.conninfo import conninfo_to_dict

from eventing import topology as topology_module
from eventing.offsets import consumer_group_lag
from eventing.topics import ensure_topics
from eventing.topology import Topology
from sentinel.config import PROJECT_ROOT, Settings
from sentinel.stack import client_key, first_admin, postgres
from sentinel.stack.autoscaling_status import autoscaler_status
from sentinel.stack.components import (
    AUTOSCALER_MODULE,
    FUNCTION,
    INFRASTRUCTURE,
    Component,
    inherited_environment,
    plan,
    port_hint,
)
from sentinel.stack.request_rates import RequestWatch
from sentinel.stores import database
from training.bootstrap import ensure_champion

Say = Callable[[str], None]

START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
STATUS_TIMEOUT_S = 2.0
MIN_RATE_WINDOW_S = 1.0  # a request rate over less time than this says little


class StackError(RuntimeError):
    pass


@dataclass
class ComponentStatus:
    name: str
    kind: str
    address: str
    healthy: bool
    pid: int | None = None
    external: bool = False
    restarts: int = 0
    reason: str | None = None
    log: str | None = None
    consumer_group: str | None = None
    lag: int | None = None
    lag_by_partition: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] | None = None  # a dispatcher's deliveries since it started
    stalled: list[dict[str, Any]] = field(default_factory=list)  # a dispatcher's partitions that stopped advancing
    autoscaling: dict[str, Any] | None = None  # an autoscaled function's replicas and KPA view (its front's status)
    requests: dict[str, Any] | None = None  # a function's request rate and latency percentiles, from its /metrics

    @property
    def state(self) -> str:
        """healthy, stalled (running but not making progress) or down."""
        if self.healthy:
            return "healthy"
        return "stalled" if self.stalled else "down"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "state": self.state}


class LocalStack:
    def __init__(self, settings: Settings, topology: Topology | None = None, *, autoscale: bool = False):
        self.settings = settings
        self.topology = topology or topology_module.load()
        self.components = plan(settings, self.topology, autoscale=autoscale)
        self.run_dir = settings.state_dir / "run"
        self.log_dir = settings.state_dir / "logs"

    def component(self, name: str) -> Component:
        return next(component for component in self.components if component.name == name)

    # -- up ---------------------------------------------------------------

    def up(self, say: Say = print, *, with_optional: bool = False) -> None:
        """Start every component in order; the optional ones (Prefect) only when asked."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        infrastructure = [c for c in self.components if c.kind == INFRASTRUCTURE]
        for component in infrastructure:
            self._ensure_running(component, say)
        self._prepare_data(say)
        for component in self.components:
            if component.kind != INFRASTRUCTURE and (with_optional or not component.optional):
                self._ensure_running(component, say)

    def _prepare_data(self, say: Say) -> None:
        created = ensure_topics(self.settings.kafka_bootstrap_servers, self.topology.sinks.values())
        say(f"topics: {', '.join(created) if created else 'all present'}")
        if "postgres" not in self.settings.external:
            target = conninfo_to_dict(self.settings.database_url)
            try:
                postgres.ensure_database(self.settings.state_dir, self.component("postgres").port, target["dbname"])
            except postgres.CredentialsError as error:
                raise StackError(str(error)) from None
        applied = database.migrate(self.settings.database_url)
        say(f"database schema: {'applied ' + ', '.join(applied) if applied else 'up to date'}")
        made = client_key.ensure(self.settings.state_dir, self.settings.database_url)
        where = client_key.key_file(self.settings.state_dir)
        say(f"API key for the local client: {'made, in' if made else 'in'} {where}")
        if first_admin.ensure(self.settings):
            password = first_admin.password_file(self.settings.state_dir)
            say(f"added the UI user {first_admin.NAME!r} (admin); its password is in {password}")
        version = ensure_champion(self.settings.database_url, rows=self.settings.bootstrap_training_rows, progress=say)
        say(f"champion model: {version}")

    def _ensure_running(self, component: Component, say: Say) -> None:
        started = time.monotonic()
        if component.external:
            self._wait_healthy(component, started)
            say(f"{component.name}: external at {component.address}")
            return
        if self._keeper_pid(component) is not None:
            self._wait_healthy(component, started)
            say(f"{component.name}: already running at {component.address}")
            return
        self._check_port_free(component)
        if component.prepare:
            component.prepare()
        self._spawn(component)
        self._wait_healthy(component, started)
        say(f"{component.name}: up at {component.address} ({time.monotonic() - started:.1f}s)")

    def _spawn(self, component: Component) -> None:
        assert component.command is not None
        keeper = [sys.executable, "-m", "sentinel.stack.keeper", "--state", str(self._state_file(component))]
        if component.user:
            keeper += ["--user", component.user]
        keeper += ["--stop-signal", component.stop_signal, "--", *component.command]
        log_path = self.log_dir / f"{component.name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                keeper,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=PROJECT_ROOT,
                env={**inherited_environment(), **component.env},
            )
        record = {
            "name": component.name,
            "keeper_pid": process.pid,
            "keeper_start_time": _start_time(process.pid),
            "address": component.address,
            "command": component.command,
            "log": str(log_path),
            "started_at": time.time(),
        }
        self._record_file(component).write_text(json.dumps(record, indent=2))

    def _wait_healthy(self, component: Component, started: float) -> None:
        deadline = started + START_TIMEOUT
        while True:
            reason = component.check()
            if reason is None:
                return
            if not component.external and self._keeper_pid(component) is None:
                keeper = self._read_json(self._state_file(component))
                raise StackError(
                    f"{component.name} could not be started (its keeper is gone; last state {keeper}): "
                    f"{reason}{self._log_tail(component)}"
                )
            if time.monotonic() > deadline:
                raise StackError(
                    f"{component.name} is not healthy after {START_TIMEOUT:.0f}s: {reason}{self._log_tail(component)}"
                )
            time.sleep(0.3)

    def _check_port_free(self, component: Component) -> None:
        if component.port is None:
            return
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", component.port))
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise
                raise StackError(
                    f"port {component.port} for {component.name} is in use by another program; {port_hint(component)}"
                ) from None

    # -- down -------------------------------------------------------------

    def down(self, say: Say = print, names: tuple[str, ...] = ()) -> None:
        """Stop what `up` started: everything, or only the named components
        (`up` starts them again; handy to see the pipeline ride out an outage)."""
        unknown = sorted(set(names) - {component.name for component in self.components})
        if unknown:
            raise StackError(f"no component named {', '.join(unknown)}; see `sentinel status`")
        for component in reversed(self.components):
            if component.external or (names and component.name not in names):
                continue
            pid = self._keeper_pid(component)
            if pid is not None:
                self._stop_keeper(pid)
                say(f"{component.name}: stopped")
            self._record_file(component).unlink(missing_ok=True)
            self._state_file(component).unlink(missing_ok=True)

    def _stop_keeper(self, pid: int) -> None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)

    # -- status -----------------------------------------------------------

    def status(self, watch: RequestWatch | None = None) -> list[ComponentStatus]:
        """Every component, and the optional ones only while they run; with `watch`, each function's
        requests since the watch's previous scrape (at least MIN_RATE_WINDOW_S before)."""
        statuses = [
            self._status_of(component)
            for component in self.components
            if not component.optional or self._keeper_pid(component) is not None
        ]
        if watch is not None:
            measured = watch.measure(min_window_s=MIN_RATE_WINDOW_S)
            for status in statuses:
                stats = measured.get(status.name)
                status.requests = stats.to_json() if stats else None
        return statuses

    def function_urls(self) -> dict[str, str]:
        """Where each function answers (its /metrics too)."""
        return {component.name: component.address for component in self.components if component.kind == FUNCTION}

    def _status_of(self, component: Component) -> ComponentStatus:
        status = ComponentStatus(
            name=component.name,
            kind=component.kind,
            address=component.address,
            healthy=False,
            external=component.external,
            consumer_group=component.consumer_group,
        )
        if not component.external:
            keeper = self._keeper_pid(component)
            state = self._read_json(self._state_file(component))
            status.log = str(self.log_dir / f"{component.name}.log")
            status.pid = state.get("child_pid") if keeper else None
            status.restarts = int(state.get("restarts", 0))
            if keeper is None:
                status.reason = "not running"
        if status.reason is None and component.consumer_group:
            self._read_dispatcher(status)
        elif status.reason is None:
            status.reason = component.check()
            status.healthy = status.reason is None
            if status.healthy and self.autoscaled(component):
                status.autoscaling = autoscaler_status(component.address)
        if component.consumer_group:
            self._add_lag(status, component)
        return status

    @staticmethod
    def _read_dispatcher(status: ComponentStatus) -> None:
        """Health, counters and stalled partitions from one read of the dispatcher's /healthz document."""
        document = _status_document(status.address)
        status.healthy = document.get("healthy") is True
        if not status.healthy:
            status.reason = document.get("reason") or f"{status.address}/healthz does not answer"
        status.counters = document.get("counters")
        status.stalled = document.get("stalled") or []

    def _add_lag(self, status: ComponentStatus, component: Component) -> None:
        try:
            lag = consumer_group_lag(self.settings.kafka_bootstrap_servers, component.consumer_group, component.topics)
        except Exception as error:  # the broker may be down; status still reports the rest
            status.reason = status.reason or f"lag unknown: {error}"
            return
        status.lag = lag["total_lag"]
        status.lag_by_partition = {
            f"{partition['topic']}/{partition['partition']}": partition["lag"] for partition in lag["partitions"]
        }

    # -- records ----------------------------------------------------------

    def autoscaled(self, component: Component) -> bool:
        """Whether the running function was started behind an autoscaler front (`up --autoscale`)."""
        command = self._read_json(self._record_file(component)).get("command") or []
        return component.kind == FUNCTION and AUTOSCALER_MODULE in command

    def _record_file(self, component: Component) -> Path:
        return self.run_dir / f"{component.name}.json"

    def _state_file(self, component: Component) -> Path:
        return self.run_dir / f"{component.name}.keeper.json"

    def _keeper_pid(self, component: Component) -> int | None:
        """The pid of this component's keeper while it runs: the recorded pid, still
        alive, with the recorded start time (so a recycled pid is not mistaken for it)."""
        record = self._read_json(self._record_file(component))
        pid = record.get("keeper_pid")
        if not pid or not _alive(pid) or _start_time(pid) != record.get("keeper_start_time"):
            return None
        return pid

    def _log_tail(self, component: Component, lines: int = 15) -> str:
        path = self.log_dir / f"{component.name}.log"
        if not path.exists():
            return ""
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        return f"\n--- last lines of {path} ---\n" + "\n".join(tail)

    @staticmethod
    def _read_json(path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}


def _status_document(address: str) -> dict[str, Any]:
    """A component's /healthz JSON whatever its status code; {} when it does not answer one."""
    try:
        document = requests.get(f"{address}/healthz", timeout=STATUS_TIMEOUT_S).json()
    except (requests.RequestException, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _process_stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state first); [] if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return []


def _start_time(pid: int) -> str | None:
    fields = _process_stat(pid)
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting to be reaped."""
    fields = _process_stat(pid)
    return bool(fields) and fields[0] != "Z"
