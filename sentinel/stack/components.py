"""What the local stack runs, in start order, derived from Settings and knative/.

Infrastructure comes from the binary finders; functions, dispatchers and the
ingress from the topology, so the local wiring is the cluster's wiring.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from eventing.topology import FunctionSpec, Topology
from sentinel.config import (
    DISPATCHER_PORT_OFFSET,
    METRICS_DIR_VARIABLE,
    Settings,
    component_port,
    local_metrics_dir,
    port_env_name,
)
from sentinel.core.redact import without_password
from sentinel.stack import binaries, health, postgres, redis_server, signing_secrets
from sentinel.stack.secrets import secret
from training import prefect_service

INFRASTRUCTURE = "infrastructure"
EVENTING = "eventing"
FUNCTION = "function"
UI = "ui"
WORKFLOWS = "workflows"

BIN_DIR = Path(sys.executable).parent
AUTOSCALER_MODULE = "sentinel.stack.autoscaler"


@dataclass
class Component:
    """One thing `sentinel up` starts (or, when external, only checks)."""

    name: str
    kind: str
    address: str  # what status shows: a URL, host:port, or a connection URL
    check: Callable[[], str | None]
    port: int | None = None
    command: list[str] | None = None  # None: external, not ours to start
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    stop_signal: str = "TERM"
    prepare: Callable[[], None] | None = None  # before the first start
    consumer_group: str | None = None
    topics: tuple[str, ...] = ()
    optional: bool = False  # started only when asked for (`up --with-prefect`)

    @property
    def external(self) -> bool:
        return self.command is None


def plan(settings: Settings, topology: Topology, *, autoscale: bool = False) -> list[Component]:
    """`autoscale`: each function as 0..N replicas behind an autoscaler front (sentinel.stack.autoscaler)."""
    state = settings.state_dir
    components = [
        _broker(settings),
        _postgres(settings, state),
        _redis(settings, state),
    ]
    ingress_port = component_port("kafka-sink-ingress", settings.port_base)
    ingress_url = f"http://127.0.0.1:{ingress_port}"
    components.append(
        Component(
            name="kafka-sink-ingress",
            kind=EVENTING,
            address=ingress_url,
            port=ingress_port,
            check=lambda: health.http(f"{ingress_url}/healthz"),
            command=[str(BIN_DIR / "python"), "-m", "eventing.ingress", "--port", str(ingress_port)],
            env={"KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers},
        )
    )
    function_urls: dict[str, str] = {}
    for name, spec in topology.functions.items():
        port = component_port(name, settings.port_base)
        function_urls[name] = f"http://127.0.0.1:{port}"
        components.append(_function(spec, port, settings, topology, ingress_url, autoscale))
    for index, source in enumerate(sorted(topology.sources.values(), key=lambda s: s.name)):
        port = component_port(source.name, settings.port_base, DISPATCHER_PORT_OFFSET + index)
        url = f"http://127.0.0.1:{port}"
        command = [
            str(BIN_DIR / "python"),
            "-m",
            "eventing.dispatcher",
            "--source",
            source.name,
            "--sink-url",
            function_urls[source.sink],
            "--port",
            str(port),
        ]
        if source.delivery.dead_letter_sink:
            command += ["--dead-letter-url", ingress_url + topology.sink_path(source.delivery.dead_letter_sink)]
        components.append(
            Component(
                name=source.name,
                kind=EVENTING,
                address=url,
                port=port,
                check=lambda url=url: health.http(f"{url}/healthz"),
                command=command,
                env={"KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers},
                consumer_group=source.consumer_group,
                topics=source.topics,
            )
        )
    components.append(_ui(settings))
    components.extend(_prefect(settings))
    return components


def _prefect(settings: Settings) -> list[Component]:
    """Prefect's server (API and UI) and a process serving the retrain and evaluate flows."""
    port = component_port("prefect", settings.port_base)
    runner_port = component_port("prefect-serve", settings.port_base)
    state = {"SENTINEL_STATE_DIR": str(settings.state_dir), "SENTINEL_PORT_BASE": str(settings.port_base)}
    password = secret(settings.state_dir, prefect_service.PASSWORD_SECRET)
    return [
        Component(
            name="prefect",
            kind=WORKFLOWS,
            address=f"http://127.0.0.1:{port}",
            port=port,
            check=lambda: health.http(prefect_service.server_health_url(port)),
            command=prefect_service.server_command(port),
            env={**prefect_service.server_env(settings.state_dir, port, password), **state},
            optional=True,
        ),
        Component(
            name="prefect-serve",
            kind=WORKFLOWS,
            address=f"serving retrain and evaluate to {prefect_service.api_url(port)}",
            port=runner_port,
            check=lambda: health.http(prefect_service.serve_health_url(runner_port)),
            command=prefect_service.serve_command(),
            env={**prefect_service.serve_env(settings.state_dir, port, runner_port, password), **state},
            optional=True,
        ),
    ]


def _ui(settings: Settings) -> Component:
    """The analysts' web UI; its Pipeline page reads the stack's status itself."""
    port = component_port("ui", settings.port_base)
    url = f"http://127.0.0.1:{port}"
    return Component(
        name="ui",
        kind=UI,
        address=url,
        port=port,
        check=lambda: health.http(f"{url}/healthz"),
        command=[str(BIN_DIR / "python"), "-m", "sentinel.stack.ui", "--port", str(port)],
        # Only what places the stack: the connection variables come through from
        # `up`'s own environment unchanged, so the UI tells local from external
        # exactly as `sentinel status` does.
        env={"SENTINEL_STATE_DIR": str(settings.state_dir), "SENTINEL_PORT_BASE": str(settings.port_base)},
    )


def _broker(settings: Settings) -> Component:
    servers = settings.kafka_bootstrap_servers
    if "broker" in settings.external:
        return Component("broker", INFRASTRUCTURE, servers, check=lambda: health.kafka(servers))
    port = component_port("broker", settings.port_base)
    return Component(
        name="broker",
        kind=INFRASTRUCTURE,
        address=servers,
        port=port,
        check=lambda: health.kafka(servers),
        command=broker_command(port),
    )


def broker_command(port: int) -> list[str]:
    """tansu with its memory store on 127.0.0.1:`port` (the soak benchmark starts the same broker)."""
    listener = f"tcp://127.0.0.1:{port}"
    return [str(binaries.tansu()), "broker", "--listener-url", listener, "--advertised-listener-url", listener]


def _postgres(settings: Settings, state: Path) -> Component:
    url = settings.database_url
    if "postgres" in settings.external:
        return Component("postgres", INFRASTRUCTURE, without_password(url), check=lambda: health.postgres(url))
    port = component_port("postgres", settings.port_base)
    bin_dir = binaries.postgres_bin_dir()
    data_dir = state / "postgres"
    user = postgres.server_user()
    return Component(
        name="postgres",
        kind=INFRASTRUCTURE,
        address=url,
        port=port,
        check=lambda: health.postgres(postgres.admin_url(state, port)),
        command=postgres.server_command(bin_dir, data_dir, port),
        user=user,
        stop_signal="INT",  # PostgreSQL's fast shutdown
        prepare=lambda: postgres.initialise(bin_dir, data_dir, user, state) and None,
    )


def _redis(settings: Settings, state: Path) -> Component:
    url = settings.redis_url
    if "redis" in settings.external:
        return Component("redis", INFRASTRUCTURE, without_password(url), check=lambda: health.redis_server(url))
    port = component_port("redis", settings.port_base)
    data_dir = state / "redis"
    return Component(
        name="redis",
        kind=INFRASTRUCTURE,
        address=url,
        port=port,
        check=lambda: health.redis_server(url),
        command=redis_server.command(binaries.redis_server(), redis_server.config_path(state)),
        prepare=lambda: redis_server.write_config(state, data_dir, port, settings.redis_maxmemory) and None,
    )


def _function(
    spec: FunctionSpec, port: int, settings: Settings, topology: Topology, ingress_url: str, autoscale: bool
) -> Component:
    """A function process started exactly as its container is, with the env its manifest names;
    with `autoscale`, a front on its port that starts such processes as replicas as the KPA asks."""
    local_values = {
        # score logs in as its own role, which can read the model registry but not write it.
        "DATABASE_URL": settings.score_database_url if spec.name == "score" else settings.database_url,
        "REDIS_URL": settings.redis_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ALERT_WEBHOOK_URL": settings.alert_webhook_url,
        "SENTINEL_WEBHOOK_ALLOW_HTTP": "1" if settings.webhook_allow_http else None,
        **signing_secrets.function_env(settings),
    }
    env: dict[str, str] = {}
    for variable in spec.env:
        value = variable.value if variable.value is not None else local_values.get(variable.name)
        if value is None and not variable.optional:
            raise ValueError(f"{spec.name} needs {variable.name}, which the local stack cannot provide")
        if value is not None:
            env[variable.name] = value
    sink = topology.sink_of(spec.name)
    if sink:
        env["K_SINK"] = ingress_url + topology.sink_path(sink.name)
    # Its processes (workers, replicas) keep their metrics in a directory of its own, for /metrics to sum.
    metrics_dir = local_metrics_dir(settings.state_dir, spec.name)
    env.update(PORT=str(port), HOST="127.0.0.1")
    env[METRICS_DIR_VARIABLE] = str(metrics_dir)
    url = f"http://127.0.0.1:{port}"
    executable, *arguments = spec.command
    command = [str(BIN_DIR / executable), *arguments]
    if autoscale:
        front = ["-m", AUTOSCALER_MODULE, "--function", spec.name, "--port", str(port), "--"]
        command = [str(BIN_DIR / "python"), *front, *command]
    return Component(
        name=spec.name,
        kind=FUNCTION,
        address=url,
        port=port,
        check=lambda: health.http(url + spec.readiness_path),
        command=command,
        env=env,
        prepare=lambda: _emptied(metrics_dir),
    )


def _emptied(directory: Path) -> None:
    """`directory`, empty: a process started anew counts from zero, as Prometheus expects after a restart."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


def port_hint(component: Component) -> str:
    return f"set {port_env_name(component.name)} (or SENTINEL_PORT_BASE to move every port)"


def inherited_environment() -> dict[str, str]:
    """The environment a child starts from: ours, minus what each component sets itself."""
    return {key: value for key, value in os.environ.items() if key not in ("PORT", "HOST", "K_SINK")}
