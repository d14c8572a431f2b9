"""The local stack's wiring comes from the Knative manifests in knative/."""

import textwrap

import pytest

from eventing import topology


@pytest.fixture(scope="module")
def pipeline():
    return topology.load()


def test_there_is_one_service_per_function(pipeline):
    assert set(pipeline.functions) == {"ingest", "score", "persist", "alert"}


def test_each_function_runs_the_functions_framework_entry_point_in_asgi_mode(pipeline):
    for name, spec in pipeline.functions.items():
        command = ("functions-framework", "--target", "handle", "--source", f"functions/{name}/main.py", "--asgi")
        assert spec.command == command


def test_the_topics_have_the_partitions_of_the_design(pipeline):
    partitions = {sink.topic: sink.partitions for sink in pipeline.sinks.values()}
    assert partitions == {"sentinel.transactions": 6, "sentinel.scored": 6, "sentinel.dlq": 1}


def test_each_consuming_function_has_its_source_and_group(pipeline):
    wiring = {(s.sink, s.topics, s.consumer_group) for s in pipeline.sources.values()}
    assert wiring == {
        ("score", ("sentinel.transactions",), "sentinel-score"),
        ("persist", ("sentinel.scored",), "sentinel-persist"),
        ("alert", ("sentinel.scored",), "sentinel-alert"),
    }


def test_failed_deliveries_are_dead_lettered_to_the_dlq_sink(pipeline):
    for source in pipeline.sources.values():
        assert pipeline.sinks[source.delivery.dead_letter_sink].topic == "sentinel.dlq"


def test_ingest_and_score_emit_through_sink_bindings(pipeline):
    assert pipeline.sink_of("ingest").topic == "sentinel.transactions"
    assert pipeline.sink_of("score").topic == "sentinel.scored"
    assert pipeline.sink_of("persist") is None


def write_manifests(directory, documents):
    (directory / "kustomization.yaml").write_text("resources:\n  - all.yaml\n")
    (directory / "all.yaml").write_text(textwrap.dedent(documents))


def test_a_source_pointing_at_a_missing_service_is_reported(tmp_path):
    write_manifests(
        tmp_path,
        """
        apiVersion: eventing.knative.dev/v1alpha1
        kind: KafkaSink
        metadata: {name: t}
        spec: {topic: t, bootstrapServers: [x]}
        ---
        apiVersion: sources.knative.dev/v1
        kind: KafkaSource
        metadata: {name: s}
        spec:
          bootstrapServers: [x]
          topics: [t]
          sink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: ghost}}
        """,
    )
    with pytest.raises(ValueError, match="unknown Service ghost"):
        topology.load(tmp_path)


def test_a_source_without_delivery_gets_knative_defaults(tmp_path):
    write_manifests(
        tmp_path,
        """
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata: {name: f}
        spec: {template: {spec: {containers: [{image: i}]}}}
        ---
        apiVersion: eventing.knative.dev/v1alpha1
        kind: KafkaSink
        metadata: {name: t}
        spec: {topic: t, bootstrapServers: [x]}
        ---
        apiVersion: sources.knative.dev/v1
        kind: KafkaSource
        metadata: {name: s}
        spec:
          bootstrapServers: [x]
          topics: [t]
          sink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: f}}
        """,
    )
    source = topology.load(tmp_path).sources["s"]
    assert (source.delivery.retry, source.delivery.timeout, source.ordering) == (10, 600.0, "ordered")
    assert source.consumer_group == "s"
