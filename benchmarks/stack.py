"""The local stack the benchmarks run against: its own state directory and ports, so a
developer's stack (and the tests') are never touched, brought up and down in-process.

The benchmark process adopts the stack's SENTINEL_STATE_DIR and SENTINEL_PORT_BASE in
its own environment, so Settings, `sentinel status` and every child see the same stack.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from eventing import topology
from sentinel.config import Settings, component_port
from sentinel.stack import client_key
from sentinel.stack.components import FUNCTION, Component, inherited_environment
from sentinel.stack.local import LocalStack
from sentinel.stores import redis_client

DEFAULT_STATE_DIR = Path("/tmp/sentinel-bench")
DEFAULT_PORT_BASE = 23000
DISPATCHERS = ("score-source", "persist-source", "alert-source")


BENCHMARK_KEY_RATE_PER_S = 1_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="the benchmark stack's state")
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE, help="the benchmark stack's ports")
    parser.add_argument("--keep-stack", action="store_true", help="leave the stack running afterwards")


class BenchStack:
    def __init__(self, state_dir: Path, port_base: int) -> None:
        os.environ["SENTINEL_STATE_DIR"] = str(state_dir)
        os.environ["SENTINEL_PORT_BASE"] = str(port_base)
        # The benchmarks measure what a request costs, not the per-key rate limit: on a quiet
        # machine ingest alone passes the default 2,000 requests a second and was answered 429.
        os.environ["SENTINEL_KEY_RATE_PER_S"] = str(BENCHMARK_KEY_RATE_PER_S)
        self.settings = Settings.from_env()
        self.topology = topology.load()
        self.local = LocalStack(self.settings, self.topology)
        self._function_commands = {c.name: list(c.command or []) for c in self.local.components if c.kind == FUNCTION}

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> BenchStack:
        return cls(args.state_dir, args.port_base)

    def up(self) -> None:
        print(f"starting the benchmark stack in {self.settings.state_dir} (ports from {self.settings.port_base})")
        self.local.up(say=lambda line: print(f"  {line}", flush=True))

    def restart(self, *, functions_from: Path | None = None) -> None:
        """Down and up again: a fresh broker (its topics and consumer groups live in memory), fresh
        processes and an empty Redis. `functions_from`: a module with a target named after each
        function (benchmarks.passthrough), served in place of functions/ until the next restart.

        A dispatcher stopped and started again can wait minutes for its group's
        assignment on tansu; a fresh broker assigns a new group in about 3 s. Redis keeps
        what earlier runs left (inline decisions for a day, de-duplication claims, users'
        histories), which fills its memory limit over a few runs; then every write is refused."""
        self.down()
        self._serve_functions_from(functions_from)
        self.up()
        client = redis_client.connect(self.settings.redis_url)
        try:
            client.flushall()
        finally:
            client.close()

    def _serve_functions_from(self, source: Path | None) -> None:
        for name, command in self._function_commands.items():
            arguments = list(command)
            if source is not None:
                arguments[arguments.index("--target") + 1] = name
                arguments[arguments.index("--source") + 1] = str(source)
            self.local.component(name).command = arguments

    def down(self, *names: str) -> None:
        self.local.down(say=lambda line: None, names=names)

    def port(self, component: str) -> int:
        found = self.local.component(component)
        return found.port if found.port is not None else component_port(component, self.settings.port_base)

    def pids(self, *components: str) -> dict[str, int | None]:
        """The pid of each component's process (under its keeper), None for one not running; with no names,
        every running component's. One look at the stack: it checks every component's health, which takes
        seconds, and a pause that long before a measured run lets the sources go idle."""
        found = {status.name: status.pid for status in self.local.status() if status.pid}
        return {name: found.get(name) for name in components} if components else dict(found)

    def function_env(self, name: str) -> dict[str, str]:
        """The environment the stack gives function `name`, for a second copy started by a benchmark."""
        component: Component = self.local.component(name)
        return {**inherited_environment(), **component.env}

    @property
    def api_key(self) -> str:
        """The key `up` made for the local client (every scope)."""
        key = client_key.read(self.settings.state_dir)
        if key is None:
            raise RuntimeError("the benchmark stack has no API key: start it with `up` first")
        return key

    def ingress_url(self, sink: str) -> str:
        return f"http://127.0.0.1:{self.port('kafka-sink-ingress')}/{self.topology.namespace}/{sink}"
