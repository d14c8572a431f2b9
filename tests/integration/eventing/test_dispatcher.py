"""The KafkaSource dispatcher against a real broker and scripted HTTP sinks, run as a real process."""

from __future__ import annotations

import base64
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from eventing_support import (
    NAMESPACE,
    RunningDispatcher,
    committed_offsets,
    dead_letter_to,
    produce,
    read_records,
    write_topology,
)
from support import Reply, free_port, wait_for

SOURCE = "test-source"
QUICK_RETRIES = {"retry": 3, "backoffPolicy": "linear", "backoffDelay": "PT0.01S", "timeout": "PT2S"}

StartDispatcher = Callable[..., RunningDispatcher]


class Setup:
    """One test's topic, consumer group and knative/ directory."""

    def __init__(
        self,
        tmp_path: Path,
        make_topic: Callable[..., str],
        unique_name: str,
        *,
        partitions: int = 1,
        ordering: str = "ordered",
        delivery: dict[str, Any] | None = None,
    ) -> None:
        self.topic = make_topic(partitions)
        self.group = f"g-{unique_name}"
        self.partitions = partitions
        self.topology = write_topology(
            tmp_path / "knative",
            source=SOURCE,
            topics=[self.topic],
            consumer_group=self.group,
            ordering=ordering,
            delivery=delivery,
        )

    def committed(self, broker: str) -> list[int]:
        return committed_offsets(broker, self.group, self.topic, self.partitions)


@pytest.fixture
def setup(tmp_path: Path, make_topic: Callable[..., str], unique_name: str) -> Callable[..., Setup]:
    return lambda **options: Setup(tmp_path, make_topic, unique_name, **options)


def with_dead_letter(delivery: dict[str, Any]) -> dict[str, Any]:
    return {**delivery, "deadLetterSink": dead_letter_to()}


def plain_records(count: int) -> list[dict[str, Any]]:
    return [{"key": f"k-{i}".encode(), "value": f"record {i}".encode()} for i in range(count)]


def record_ids(broker: str, topic: str, partitions: int, count: int) -> set[str]:
    """The ids the dispatcher gives the topic's plain records: partition:<p>/offset:<o>."""
    records = read_records(broker, topic, count, partitions=partitions)
    assert len(records) == count
    return {f"partition:{record.partition()}/offset:{record.offset()}" for record in records}


def status_once_up(dispatcher: RunningDispatcher) -> dict[str, Any]:
    """The dispatcher's /healthz document; {} while its status server is not up yet."""
    try:
        return dispatcher.status()
    except requests.ConnectionError:
        return {}


def counters(dispatcher: RunningDispatcher, **expected: int) -> dict[str, int]:
    """Wait for the dispatcher's counters to reach `expected`, and return them."""
    return wait_for(
        lambda: (
            (found := dispatcher.status()["counters"]) and all(found[k] == v for k, v in expected.items()) and found
        ),
        timeout=10,
        what=f"counters {expected}",
    )


def test_cloudevent_record_is_passed_through_unchanged(broker, setup, start_dispatcher, sink, dead_letter_sink):
    test = setup(delivery=with_dead_letter(QUICK_RETRIES))
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"txn-1"),
        ("ce_source", b"/sentinel/ingest"),
        ("ce_type", b"dev.sentinel.transaction.received"),
        ("ce_subject", b"txn-1"),
        ("ce_time", b"2026-01-01T10:00:00.5Z"),
        ("ce_partitionkey", b"user-7"),
        ("ce_traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("content-type", b"application/json"),
        ("x-not-an-attribute", b"dropped"),
    ]
    produce(broker, test.topic, [{"key": b"user-7", "value": b'{"amount": 12.5 }', "headers": headers}])

    start_dispatcher(test.topology, SOURCE, sink.url, dead_letter_url=dead_letter_sink.url)

    [request] = sink.wait_for(1)
    assert request.ce == {
        "specversion": "1.0",
        "id": "txn-1",
        "source": "/sentinel/ingest",
        "type": "dev.sentinel.transaction.received",
        "subject": "txn-1",
        "time": "2026-01-01T10:00:00.5Z",
        "partitionkey": "user-7",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    }
    assert request.headers["content-type"] == "application/json"
    assert request.body == b'{"amount": 12.5 }'


def test_plain_record_is_wrapped_with_knative_attributes(broker, setup, start_dispatcher, sink):
    test = setup(delivery=QUICK_RETRIES)
    produce(
        broker,
        test.topic,
        [
            {
                "key": b"k-1",
                "value": b"plain bytes",
                "headers": [("Trace-Id", b"abc"), ("content-type", b"Text/Plain")],
                "timestamp": 1767225600123,
            },
        ],
    )

    start_dispatcher(test.topology, SOURCE, sink.url)

    [request] = sink.wait_for(1)
    assert request.ce == {
        "specversion": "1.0",
        "id": "partition:0/offset:0",
        "source": f"/apis/v1/namespaces/{NAMESPACE}/kafkasources/{SOURCE}#{test.topic}",
        "type": "dev.knative.kafka.event",
        "subject": "partition:0#0",
        "time": "2026-01-01T00:00:00.123Z",
        "key": "k-1",
        "partitionkey": "k-1",
        "kafkaheadertraceid": "abc",
    }
    assert request.headers["content-type"] == "text/plain"
    assert request.body == b"plain bytes"


def test_each_retryable_status_is_retried_until_success(broker, setup, start_dispatcher, sink, dead_letter_sink):
    test = setup(delivery=with_dead_letter({**QUICK_RETRIES, "retry": 6}))
    sink.script(Reply(500), Reply(404), Reply(408), Reply(409), Reply(429), Reply(503), Reply(200))
    produce(broker, test.topic, plain_records(1))

    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url, dead_letter_url=dead_letter_sink.url)

    attempts = sink.wait_for(7)
    assert {request.ce["id"] for request in attempts} == {"partition:0/offset:0"}
    assert counters(dispatcher, delivered=1) == {"delivered": 1, "retried": 6, "dead_lettered": 0, "failed": 0}
    assert dead_letter_sink.received == []
    wait_for(lambda: test.committed(broker) == [1], timeout=5, what="offset committed")


def test_non_retryable_status_goes_straight_to_dead_letter_sink_with_error_extensions(
    broker, setup, start_dispatcher, sink, dead_letter_sink
):
    test = setup(delivery=with_dead_letter(QUICK_RETRIES))
    reply_body = bytes(range(256)) * 6  # 1536 bytes, not all of them text
    sink.script(Reply(400, body=reply_body, headers={"Kne-Reason": "amount out of range"}))
    produce(broker, test.topic, plain_records(1))

    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url, dead_letter_url=dead_letter_sink.url)

    [dead_lettered] = dead_letter_sink.wait_for(1)
    assert len(sink.received) == 1
    assert dead_lettered.ce["id"] == "partition:0/offset:0"
    assert dead_lettered.ce["knativeerrordest"] == sink.url
    assert dead_lettered.ce["knativeerrorcode"] == "400"
    assert base64.b64decode(dead_lettered.ce["knativeerrordata"]) == reply_body[:1024]
    assert dead_lettered.ce["reason"] == "amount out of range"
    assert dead_lettered.body == b"record 0"
    assert counters(dispatcher, dead_lettered=1)["retried"] == 0
    wait_for(lambda: test.committed(broker) == [1], timeout=5, what="offset committed")


def test_exhausted_retries_go_to_dead_letter_sink(broker, setup, start_dispatcher, sink, dead_letter_sink):
    test = setup(delivery=with_dead_letter({**QUICK_RETRIES, "retry": 2}))
    sink.respond_with(lambda _request: Reply(503, body=b"overloaded"))
    produce(broker, test.topic, plain_records(1))

    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url, dead_letter_url=dead_letter_sink.url)

    [dead_lettered] = dead_letter_sink.wait_for(1)
    assert len(sink.received) == 3
    assert dead_lettered.ce["knativeerrorcode"] == "503"
    assert base64.b64decode(dead_lettered.ce["knativeerrordata"]) == b"overloaded"
    assert counters(dispatcher, dead_lettered=1)["retried"] == 2


def test_unreachable_sink_is_retried_then_dead_lettered_without_a_status(
    broker, setup, start_dispatcher, dead_letter_sink
):
    test = setup(delivery=with_dead_letter({**QUICK_RETRIES, "retry": 2}))
    nowhere = f"http://127.0.0.1:{free_port()}/"
    produce(broker, test.topic, plain_records(1))

    dispatcher = start_dispatcher(test.topology, SOURCE, nowhere, dead_letter_url=dead_letter_sink.url)

    [dead_lettered] = dead_letter_sink.wait_for(1)
    assert dead_lettered.ce["knativeerrordest"] == nowhere
    assert "knativeerrorcode" not in dead_lettered.ce
    assert "knativeerrordata" not in dead_lettered.ce
    assert counters(dispatcher, dead_lettered=1)["retried"] == 2


def test_timeout_counts_as_a_failed_attempt(broker, setup, start_dispatcher, sink, dead_letter_sink):
    test = setup(delivery=with_dead_letter({**QUICK_RETRIES, "retry": 1, "timeout": "PT0.5S"}))
    sink.script(Reply(200, delay=2.0))
    produce(broker, test.topic, plain_records(1))

    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url, dead_letter_url=dead_letter_sink.url)

    sink.wait_for(2)
    assert counters(dispatcher, delivered=1)["retried"] == 1
    assert dead_letter_sink.received == []


def test_a_partition_retrying_one_event_reports_the_dispatcher_stalled_naming_it(
    broker, setup, start_dispatcher, sink, dead_letter_sink
):
    test = setup(delivery=with_dead_letter({**QUICK_RETRIES, "retry": 100, "backoffDelay": "PT0.2S"}))
    failing = True
    sink.respond_with(lambda _request: Reply(503) if failing else Reply(200))
    produce(broker, test.topic, plain_records(2))

    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url, dead_letter_url=dead_letter_sink.url)

    stalled = wait_for(lambda: status_once_up(dispatcher).get("stalled"), timeout=10, what="a stalled partition")
    [partition] = stalled
    assert partition["event_id"] == "partition:0/offset:0" and partition["attempts"] >= 1
    assert partition["last_error"] == "HTTP 503" and partition["for_s"] >= 1.0
    answer = requests.get(f"{dispatcher.url}/healthz", timeout=5)
    assert answer.status_code == 503 and "partition:0/offset:0" in answer.json()["reason"]
    failing = False
    wait_for(lambda: dispatcher.status()["healthy"], timeout=10, what="healthy again once it delivers")
    assert counters(dispatcher, delivered=2)["dead_lettered"] == 0


def test_a_slow_but_steady_partition_is_not_stalled(broker, setup, start_dispatcher, sink):
    test = setup(delivery=QUICK_RETRIES)
    sink.respond_with(lambda _request: Reply(200, delay=0.2))
    produce(broker, test.topic, plain_records(15))

    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url)

    wait_for(lambda: status_once_up(dispatcher), timeout=10, what="the status server")
    seen = []
    while len(sink.received) < 15:
        seen.append(dispatcher.status())
        time.sleep(0.2)
    assert seen and all(status["healthy"] and not status["stalled"] for status in seen)


def test_without_dead_letter_sink_a_failed_event_is_dropped_and_committed(broker, setup, start_dispatcher, sink):
    test = setup(delivery={**QUICK_RETRIES, "retry": 0})
    sink.script(Reply(422))
    produce(broker, test.topic, plain_records(2))

    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url)

    sink.wait_for(2)
    assert counters(dispatcher, delivered=1, failed=1)["dead_lettered"] == 0
    wait_for(lambda: test.committed(broker) == [2], timeout=5, what="both offsets committed")
    assert "dropped event id=partition:0/offset:0" in dispatcher.log()


def test_failed_dead_letter_post_is_retried_before_commit(broker, setup, start_dispatcher, sink, dead_letter_sink):
    test = setup(delivery=with_dead_letter({**QUICK_RETRIES, "retry": 0}))
    sink.script(Reply(400))
    dead_letter_sink.script(Reply(500), Reply(503))
    produce(broker, test.topic, plain_records(1))

    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url, dead_letter_url=dead_letter_sink.url)

    dead_letter_sink.wait_for(3)
    assert counters(dispatcher, dead_lettered=1)["failed"] == 2
    wait_for(lambda: test.committed(broker) == [1], timeout=5, what="offset committed")


def test_ordered_delivers_one_at_a_time_in_offset_order(broker, setup, start_dispatcher, sink):
    test = setup(ordering="ordered", delivery=QUICK_RETRIES)
    sink.respond_with(lambda _request: Reply(200, delay=0.02))
    produce(broker, test.topic, plain_records(20))

    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url)

    received = sink.wait_for(20)
    assert [request.ce["subject"] for request in received] == [f"partition:0#{offset}" for offset in range(20)]
    assert sink.max_in_progress == 1
    [partition] = wait_for(
        lambda: [p for p in dispatcher.status()["partitions"] if p["committed"] == p["end"] == 20],
        timeout=5,
        what="status shows everything committed",
    )
    assert partition["lag"] == 0


def test_unordered_delivers_many_at_once(broker, setup, start_dispatcher, sink):
    test = setup(ordering="unordered", delivery=QUICK_RETRIES)
    sink.respond_with(lambda _request: Reply(200, delay=0.5))
    produce(broker, test.topic, plain_records(60))

    start_dispatcher(test.topology, SOURCE, sink.url)

    received = sink.wait_for(60)
    assert len({request.ce["id"] for request in received}) == 60
    assert 10 <= sink.max_in_progress <= 50
    wait_for(lambda: test.committed(broker) == [60], timeout=10, what="all offsets committed")


def test_unordered_commits_only_the_contiguous_prefix(broker, setup, start_dispatcher, sink):
    test = setup(ordering="unordered", delivery={**QUICK_RETRIES, "timeout": "PT10S"})
    sink.respond_with(lambda request: Reply(200, delay=3 if request.ce["subject"] == "partition:0#0" else 0))
    produce(broker, test.topic, plain_records(5))

    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url)

    sink.wait_for(5)
    counters(dispatcher, delivered=4)
    time.sleep(0.5)  # several commit intervals
    assert test.committed(broker) == [-1001], "offsets 1-4 are done, but offset 0 is still in flight"
    wait_for(lambda: test.committed(broker) == [5], timeout=10, what="all five committed once offset 0 is done")
    assert counters(dispatcher, delivered=5)["retried"] == 0


def test_kill_9_loses_nothing_and_restart_resumes_from_committed_offsets(broker, setup, start_dispatcher, sink):
    test = setup(partitions=3, delivery=QUICK_RETRIES)
    sink.respond_with(lambda _request: Reply(200, delay=0.01))
    produce(broker, test.topic, [{"key": f"user-{i % 17}".encode(), "value": f"{i}".encode()} for i in range(300)])
    everything = record_ids(broker, test.topic, 3, 300)

    first = start_dispatcher(test.topology, SOURCE, sink.url)
    sink.wait_for(100, timeout=30)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    delivered_before_kill = len(sink.received)

    start_dispatcher(test.topology, SOURCE, sink.url)
    wait_for(lambda: {r.ce["id"] for r in sink.received} >= everything, timeout=45, what="every record delivered")

    after_restart = sink.received[delivered_before_kill:]
    assert len(after_restart) < len(everything), "the restarted dispatcher resumed from committed offsets"
    wait_for(lambda: sum(test.committed(broker)) == 300, timeout=10, what="all offsets committed")


def test_sigterm_lets_in_flight_deliveries_finish_and_commits_them(broker, setup, start_dispatcher, sink):
    test = setup(delivery=QUICK_RETRIES)
    sink.respond_with(lambda _request: Reply(200, delay=1.5))
    produce(broker, test.topic, plain_records(3))
    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url)
    sink.wait_for(1)

    dispatcher.signal(signal.SIGTERM)

    assert dispatcher.process.wait(timeout=10) == 0
    assert len(sink.received) == 1
    assert test.committed(broker) == [1]


def test_sigterm_gives_up_on_deliveries_past_the_grace_period_without_committing(broker, setup, start_dispatcher, sink):
    test = setup(delivery=QUICK_RETRIES)
    sink.respond_with(lambda _request: Reply(200, delay=5))
    produce(broker, test.topic, plain_records(1))
    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url, grace_period=0.5)
    sink.wait_for(1)

    started = time.monotonic()
    dispatcher.signal(signal.SIGTERM)

    assert dispatcher.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 4
    assert test.committed(broker) == [-1001]


def test_rebalance_to_a_second_member_loses_nothing(broker, setup, start_dispatcher, sink):
    test = setup(partitions=2, delivery=QUICK_RETRIES)
    sink.respond_with(lambda _request: Reply(200, delay=0.02))
    produce(broker, test.topic, [{"key": f"user-{i}".encode(), "value": f"{i}".encode()} for i in range(200)])
    everything = record_ids(broker, test.topic, 2, 200)
    first = start_dispatcher(test.topology, SOURCE, sink.url)
    sink.wait_for(20)

    second = start_dispatcher(test.topology, SOURCE, sink.url)

    wait_for(lambda: {r.ce["id"] for r in sink.received} >= everything, timeout=30, what="every record delivered")
    wait_for(lambda: sum(test.committed(broker)) == 200, timeout=10, what="all offsets committed")
    assert "revoked" in first.log()
    assert second.status()["assigned_partitions"], "the second member took over a partition"


def test_an_idle_source_stops_fetching_and_delivers_what_arrives_at_a_later_probe(
    broker, setup, start_dispatcher, sink
):
    test = setup(partitions=3, delivery=QUICK_RETRIES)
    produce(broker, test.topic, plain_records(5))
    idle_soon = {"SENTINEL_SOURCE_IDLE_AFTER_S": "1", "SENTINEL_SOURCE_IDLE_PROBE_EVERY_S": "0.5"}
    dispatcher = start_dispatcher(test.topology, SOURCE, sink.url, env=idle_soon)
    sink.wait_for(5)
    assert not dispatcher.status()["idle"], "a source that just delivered keeps fetching"
    wait_for(lambda: dispatcher.status()["idle"], timeout=10, what="the source idle")

    produce(broker, test.topic, [{"key": f"user-{i}".encode(), "value": f"{i}".encode()} for i in range(30)])

    everything = record_ids(broker, test.topic, 3, 35)
    wait_for(lambda: len(sink.received) >= 35, timeout=15, what="the records produced while idle delivered")
    assert sorted(request.ce["id"] for request in sink.received) == sorted(everything), "each record once"
    wait_for(lambda: sum(test.committed(broker)) == 35, timeout=10, what="all offsets committed")
