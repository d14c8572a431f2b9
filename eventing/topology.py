"""The pipeline's wiring, read from the Knative manifests in `knative/`.

The local stack keeps no copy of its own: which function exists and how it is
started, which topic feeds which function as which consumer group, how failed
deliveries are retried, which sink each function writes to, and which topics
exist with how many partitions all come from the same files the cluster applies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from eventing.delivery import DeliverySpec
from sentinel.config import PROJECT_ROOT

KNATIVE_DIR = PROJECT_ROOT / "knative"


@dataclass(frozen=True)
class EnvVar:
    """One container env entry: a literal value, or a reference resolved per environment."""

    name: str
    value: str | None
    optional: bool = False


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    command: tuple[str, ...]
    env: tuple[EnvVar, ...]
    container_port: int
    readiness_path: str
    liveness_path: str
    annotations: tuple[tuple[str, str], ...] = ()  # the revision template's, e.g. autoscaling.knative.dev/target


@dataclass(frozen=True)
class SinkSpec:
    name: str
    topic: str
    partitions: int
    replication_factor: int


@dataclass(frozen=True)
class SourceSpec:
    name: str
    topics: tuple[str, ...]
    consumer_group: str
    initial_offset: str
    ordering: str
    delivery: DeliverySpec
    sink: str  # the name of the function it delivers to


@dataclass(frozen=True)
class Topology:
    namespace: str
    functions: dict[str, FunctionSpec]
    sinks: dict[str, SinkSpec]
    sources: dict[str, SourceSpec]
    bindings: dict[str, str]  # function name -> KafkaSink name it emits to

    def sink_of(self, function: str) -> SinkSpec | None:
        name = self.bindings.get(function)
        return self.sinks[name] if name else None

    def sink_path(self, sink: str) -> str:
        """Where a KafkaSink ingress serves the sink named `sink`: /<namespace>/<name>, as Knative's does."""
        return f"/{self.namespace}/{sink}"


def load(directory: Path = KNATIVE_DIR) -> Topology:
    """Read every resource the kustomization lists and build the topology from them."""
    kustomization = _read_yaml_documents(directory / "kustomization.yaml")[0]
    namespace = kustomization.get("namespace", "default")
    functions: dict[str, FunctionSpec] = {}
    sinks: dict[str, SinkSpec] = {}
    sources: dict[str, SourceSpec] = {}
    bindings: dict[str, str] = {}
    for document in _resources(directory):
        kind = document.get("kind")
        if kind == "Service" and document.get("apiVersion", "").startswith("serving.knative.dev/"):
            spec = _function(document)
            functions[spec.name] = spec
        elif kind == "KafkaSink":
            spec = _sink(document)
            sinks[spec.name] = spec
        elif kind == "KafkaSource":
            spec = _source(document)
            sources[spec.name] = spec
        elif kind == "SinkBinding":
            subject = document["spec"]["subject"]
            bindings[subject["name"]] = document["spec"]["sink"]["ref"]["name"]
    topology = Topology(namespace, functions, sinks, sources, bindings)
    _check(topology)
    return topology


def _resources(directory: Path) -> Iterator[dict[str, Any]]:
    kustomization = _read_yaml_documents(directory / "kustomization.yaml")[0]
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            yield from _resources(path)
        else:
            yield from _read_yaml_documents(path)


def _read_yaml_documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as handle:
        return [document for document in yaml.safe_load_all(handle) if document]


def _function(document: dict[str, Any]) -> FunctionSpec:
    container = document["spec"]["template"]["spec"]["containers"][0]
    env = tuple(
        EnvVar(
            name=entry["name"],
            value=entry.get("value"),
            optional=any(ref.get("optional", False) for ref in (entry.get("valueFrom") or {}).values()),
        )
        for entry in container.get("env", [])
    )
    ports = container.get("ports") or [{"containerPort": 8080}]
    return FunctionSpec(
        name=document["metadata"]["name"],
        command=(*container.get("command", []), *container.get("args", [])),
        env=env,
        container_port=int(ports[0]["containerPort"]),
        readiness_path=container.get("readinessProbe", {}).get("httpGet", {}).get("path", "/"),
        liveness_path=container.get("livenessProbe", {}).get("httpGet", {}).get("path", "/"),
        annotations=tuple(sorted((str(key), str(value)) for key, value in _template_annotations(document).items())),
    )


def _template_annotations(document: dict[str, Any]) -> dict[str, Any]:
    return (document["spec"]["template"].get("metadata") or {}).get("annotations") or {}


def _sink(document: dict[str, Any]) -> SinkSpec:
    spec = document["spec"]
    return SinkSpec(
        name=document["metadata"]["name"],
        topic=spec["topic"],
        partitions=int(spec.get("numPartitions", 1)),
        replication_factor=int(spec.get("replicationFactor", 1)),
    )


def _source(document: dict[str, Any]) -> SourceSpec:
    spec = document["spec"]
    return SourceSpec(
        name=document["metadata"]["name"],
        topics=tuple(spec["topics"]),
        consumer_group=spec.get("consumerGroup") or document["metadata"]["name"],
        initial_offset=spec.get("initialOffset", "latest"),
        ordering=spec.get("ordering", "ordered"),
        delivery=DeliverySpec.from_manifest(spec.get("delivery")),
        sink=spec["sink"]["ref"]["name"],
    )


def _check(topology: Topology) -> None:
    """Fail early, with the names, when a manifest points at something that does not exist."""
    problems: list[str] = []
    topics = {sink.topic for sink in topology.sinks.values()}
    for source in topology.sources.values():
        if source.sink not in topology.functions:
            problems.append(f"KafkaSource {source.name} delivers to unknown Service {source.sink}")
        for topic in source.topics:
            if topic not in topics:
                problems.append(f"KafkaSource {source.name} reads topic {topic}, which no KafkaSink writes")
        dead_letter = source.delivery.dead_letter_sink
        if dead_letter and dead_letter not in topology.sinks:
            problems.append(f"KafkaSource {source.name} dead-letters to unknown KafkaSink {dead_letter}")
        if source.ordering not in ("ordered", "unordered"):
            problems.append(f"KafkaSource {source.name} has ordering {source.ordering!r}")
    for function, sink in topology.bindings.items():
        if function not in topology.functions:
            problems.append(f"SinkBinding for unknown Service {function}")
        if sink not in topology.sinks:
            problems.append(f"SinkBinding for {function} points at unknown KafkaSink {sink}")
    if problems:
        raise ValueError("knative/ manifests are inconsistent:\n  " + "\n  ".join(problems))
