"""Who holds which signing key, locally (sentinel up) and in the cluster (knative/ manifests)."""

import os

import pytest
import yaml

from eventing import topology
from sentinel.config import PROJECT_ROOT, Settings
from sentinel.stack.components import plan

RECEIVED, SCORED, WEBHOOK = "SENTINEL_RECEIVED_SIGNING_KEY", "SENTINEL_SCORED_SIGNING_KEY", "SENTINEL_WEBHOOK_SECRET"
HOLDERS = {"ingest": {RECEIVED}, "score": {RECEIVED, SCORED}, "persist": {SCORED}, "alert": {SCORED, WEBHOOK}}
SECRETS = {RECEIVED: "sentinel-received-signing", SCORED: "sentinel-scored-signing", WEBHOOK: "sentinel-webhook"}


@pytest.fixture
def components(monkeypatch, tmp_path):
    def build(**env):
        for name in [name for name in os.environ if name.startswith("SENTINEL_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("SENTINEL_STATE_DIR", str(tmp_path))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return {component.name: component for component in plan(Settings.from_env(), topology.load())}

    return build


def held(env: dict[str, str]) -> set[str]:
    return {name for name in env if name in (RECEIVED, SCORED, WEBHOOK)}


def test_each_local_function_gets_only_the_keys_it_holds(components):
    stack = components()
    assert {name: held(stack[name].env) for name in HOLDERS} == HOLDERS


def test_local_keys_are_generated_once_readable_by_the_owner_alone(components, tmp_path):
    first = components()["score"].env
    again = components()["score"].env
    assert first[SCORED] == again[SCORED] and first[RECEIVED] != first[SCORED]
    for name in ("received-signing-key", "scored-signing-key", "webhook-secret"):
        assert (tmp_path / "secrets" / name).stat().st_mode & 0o777 == 0o600


def test_a_key_set_in_the_environment_is_used_instead(components):
    assert components(SENTINEL_SCORED_SIGNING_KEY="chosen")["persist"].env[SCORED] == "chosen"


def env_of(function: str) -> list[dict]:
    manifest = yaml.safe_load((PROJECT_ROOT / "knative" / "functions" / f"{function}.yaml").read_text())
    return manifest["spec"]["template"]["spec"]["containers"][0]["env"]


@pytest.mark.parametrize("function", sorted(HOLDERS))
def test_in_the_cluster_each_key_comes_from_its_own_secret(function):
    refs = {entry["name"]: entry["valueFrom"]["secretKeyRef"] for entry in env_of(function) if entry["name"] in SECRETS}
    assert {name: ref["name"] for name, ref in refs.items()} == {name: SECRETS[name] for name in HOLDERS[function]}


@pytest.mark.parametrize("function", ["ingest", "score", "persist", "alert"])
def test_in_the_cluster_a_previous_key_is_optional_and_from_the_same_secret(function):
    entries = {entry["name"]: entry for entry in env_of(function)}
    for name in HOLDERS[function] - {WEBHOOK}:
        previous = entries[f"{name}_PREVIOUS"]["valueFrom"]["secretKeyRef"]
        assert previous == {"name": SECRETS[name], "key": "previous", "optional": True}
