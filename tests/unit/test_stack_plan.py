"""What `sentinel up` runs, derived from the environment and the knative/ manifests."""

import os
from pathlib import Path

import pytest

from eventing import topology
from sentinel.config import Settings
from sentinel.stack.components import plan


@pytest.fixture
def components(monkeypatch, tmp_path):
    def build(**env):
        for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "REDIS_URL", "ALERT_WEBHOOK_URL"):
            monkeypatch.delenv(name, raising=False)
        for name in [name for name in os.environ if name.startswith("SENTINEL_PORT_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("SENTINEL_STATE_DIR", str(tmp_path))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return {component.name: component for component in plan(Settings.from_env(), topology.load())}

    return build


def test_the_stack_starts_infrastructure_then_eventing_functions_dispatchers_ui_then_prefect(components):
    assert list(components()) == [
        "broker",
        "postgres",
        "redis",
        "kafka-sink-ingress",
        "ingest",
        "score",
        "persist",
        "alert",
        "alert-source",
        "persist-source",
        "score-source",
        "ui",
        "prefect",
        "prefect-serve",
    ]


def test_functions_run_their_manifests_functions_framework_command(components):
    score = components()["score"]
    assert score.command[0].endswith("/functions-framework")
    assert score.command[1:] == ["--target", "handle", "--source", "functions/score/main.py", "--asgi"]


def test_k_sink_comes_from_the_sink_binding(components):
    stack = components()
    assert stack["ingest"].env["K_SINK"] == "http://127.0.0.1:18080/sentinel/sentinel-transactions"
    assert stack["score"].env["K_SINK"] == "http://127.0.0.1:18080/sentinel/sentinel-scored"
    assert "K_SINK" not in stack["persist"].env


def test_functions_get_exactly_the_variables_their_manifest_names(components):
    stack = components()
    server = {"PORT", "HOST", "WORKERS", "SENTINEL_FUNCTION_THREADS", "PROMETHEUS_MULTIPROC_DIR"}
    assert set(stack["persist"].env) == {"DATABASE_URL", "REDIS_URL", "SENTINEL_SCORED_SIGNING_KEY"} | server
    assert set(stack["ingest"].env) == {"DATABASE_URL", "REDIS_URL", "K_SINK", "SENTINEL_RECEIVED_SIGNING_KEY"} | server


def test_each_function_keeps_its_metrics_in_a_directory_of_its_own_emptied_before_it_starts(components, tmp_path):
    stack = components()
    functions = ("ingest", "score", "persist", "alert")
    directories = {name: Path(stack[name].env["PROMETHEUS_MULTIPROC_DIR"]) for name in functions}
    assert directories == {name: tmp_path / "metrics" / name for name in functions}
    (directories["score"]).mkdir(parents=True)
    (directories["score"] / "counter_1.db").touch()
    stack["score"].prepare()
    assert directories["score"].is_dir() and not any(directories["score"].iterdir())


def test_an_optional_variable_is_passed_only_when_set(components):
    assert "ALERT_WEBHOOK_URL" not in components()["alert"].env
    assert (
        components(ALERT_WEBHOOK_URL="http://hooks.example/x")["alert"].env["ALERT_WEBHOOK_URL"]
        == "http://hooks.example/x"
    )


def test_each_dispatcher_delivers_to_its_function_and_dead_letters_to_the_dlq_sink(components):
    command = components()["score-source"].command
    assert command[command.index("--sink-url") + 1] == "http://127.0.0.1:18082"
    assert command[command.index("--dead-letter-url") + 1] == "http://127.0.0.1:18080/sentinel/sentinel-dlq"
    assert components()["score-source"].consumer_group == "sentinel-score"


def test_a_broker_given_by_the_environment_is_external(components):
    broker = components(KAFKA_BOOTSTRAP_SERVERS="redpanda:9092")["broker"]
    assert broker.external and broker.address == "redpanda:9092"


def test_ports_move_with_the_base_and_one_by_one(components):
    stack = components(SENTINEL_PORT_BASE="20000", SENTINEL_PORT_SCORE="21111")
    assert stack["ingest"].port == 20081
    assert stack["score"].port == 21111


def test_prefect_is_started_only_when_asked_for(components):
    optional = {name for name, component in components().items() if component.optional}
    assert optional == {"prefect", "prefect-serve"}


def test_prefect_keeps_its_usual_port_unless_moved(components):
    assert components()["prefect"].port == 4200
    assert components(SENTINEL_PORT_PREFECT="24200")["prefect"].port == 24200


def test_autoscaled_functions_run_behind_a_front_on_their_port_that_starts_the_same_command(monkeypatch, tmp_path):
    monkeypatch.setenv("SENTINEL_STATE_DIR", str(tmp_path))
    settings = Settings.from_env()
    plain = {component.name: component for component in plan(settings, topology.load())}
    scaled = {component.name: component for component in plan(settings, topology.load(), autoscale=True)}
    front, replica = scaled["score"].command, plain["score"].command
    assert front[1:8] == [
        "-m",
        "sentinel.stack.autoscaler",
        "--function",
        "score",
        "--port",
        str(plain["score"].port),
        "--",
    ]
    assert front[8:] == replica
    assert scaled["score"].env == plain["score"].env and scaled["score"].port == plain["score"].port
    assert scaled["score-source"].command == plain["score-source"].command
