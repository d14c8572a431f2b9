"""Dead letters: reading them from the dead-letter topic, and replaying each to the topic it came from.

The broker is a boundary fake (MemoryLog: partitions of records in memory, committed
offsets, produced records); the real one is exercised by tests/e2e/test_dead_letters.py.
"""

from __future__ import annotations

import base64
import json
import textwrap
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from eventing import topology
from eventing.dead_letters import (
    CannotReplay,
    DeadLetterError,
    DeadLetterReader,
    NoSuchDeadLetter,
    Replayer,
    Routes,
    dead_letter_sink,
    error_message,
    parse_id,
)
from sentinel.codec.event import json_event
from sentinel.codec.kafka import KafkaRecord, to_kafka

PERSIST_URL = "http://127.0.0.1:18083"
ALERT_URL = "http://127.0.0.1:18084"
LOCAL = {"score": "http://127.0.0.1:18082", "persist": PERSIST_URL, "alert": ALERT_URL}
REFUSAL = {"error": "invalid score", "problems": [{"field": "risk_score", "message": "missing"}]}
START_MS = 1767225600000  # 2026-01-01T00:00:00Z


@dataclass
class StoredRecord:
    """A record as the consumer hands it over."""

    topic_: str
    partition_: int
    offset_: int
    record: KafkaRecord
    timestamp_ms: int

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def key(self) -> bytes | None:
        return self.record.key

    def value(self) -> bytes | None:
        return self.record.value

    def headers(self) -> list[tuple[str, bytes | None]]:
        return list(self.record.headers)

    def timestamp(self) -> tuple[int, int]:
        return (1, self.timestamp_ms)


@dataclass
class MemoryLog:
    """The broker, in memory: topics of partitions of records, committed offsets, what was produced."""

    partitions_: dict[str, list[list[StoredRecord]]] = field(default_factory=dict)
    first_offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # records before it were deleted
    offsets: dict[tuple[str, str, int], int] = field(default_factory=dict)
    produced: list[tuple[str, KafkaRecord]] = field(default_factory=list)
    reads: list[tuple[int, int]] = field(default_factory=list)  # each (start, stop) asked for
    fail_producing_after: int | None = None

    def add(self, topic: str, record: KafkaRecord, partition: int = 0, at_ms: int | None = None) -> int:
        held = self.partitions_.setdefault(topic, [[]])
        while len(held) <= partition:
            held.append([])
        offset = self.first_offsets.get((topic, partition), 0) + len(held[partition])
        stamp = at_ms if at_ms is not None else START_MS + offset * 1000
        held[partition].append(StoredRecord(topic, partition, offset, record, stamp))
        return offset

    def opened(self) -> nullcontext[MemoryLog]:
        return nullcontext(self)

    def partitions(self, topic: str) -> list[int]:
        if topic not in self.partitions_:
            raise DeadLetterError(f"no topic {topic}")
        return list(range(len(self.partitions_[topic])))

    def bounds(self, topic: str, partition: int) -> tuple[int, int]:
        first = self.first_offsets.get((topic, partition), 0)
        return first, first + len(self.partitions_[topic][partition])

    def records(self, topic: str, partition: int, start: int, stop: int) -> list[StoredRecord]:
        self.reads.append((start, stop))
        return [record for record in self.partitions_[topic][partition] if start <= record.offset() < stop]

    def committed(self, group: str, topic: str, partition: int) -> int | None:
        return self.offsets.get((group, topic, partition))

    def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        self.offsets[(group, topic, partition)] = offset

    def produce(self, topic: str, record: KafkaRecord) -> None:
        if self.fail_producing_after is not None and len(self.produced) >= self.fail_producing_after:
            raise DeadLetterError("the broker went away")
        self.produced.append((topic, record))


def a_dead_letter(
    event_id: str = "t-1",
    *,
    destination: str | None = PERSIST_URL,
    code: int | None = 400,
    answer: bytes | None = json.dumps(REFUSAL).encode(),
    **attributes: str,
) -> KafkaRecord:
    """The record a dispatcher's dead-letter POST leaves in the topic."""
    event = json_event(
        {
            "id": event_id,
            "source": "/sentinel/score",
            "type": "dev.sentinel.transaction.scored",
            "subject": event_id,
            "partitionkey": "u-7",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            **attributes,
        },
        {"transaction_id": event_id},
    )
    errors = {"knativeerrordest": destination, "knativeerrorcode": None if code is None else str(code)}
    if answer is not None:
        errors["knativeerrordata"] = base64.b64encode(answer).decode()
    return to_kafka(event.with_extensions({name: value for name, value in errors.items() if value is not None}))


@pytest.fixture(scope="module")
def pipeline():
    return topology.load()


@pytest.fixture
def log():
    return MemoryLog()


@pytest.fixture
def reader(log, pipeline):
    return DeadLetterReader(log.opened, dead_letter_sink(pipeline), pipeline.namespace)


@pytest.fixture
def replayer(reader, pipeline):
    return Replayer(reader, Routes(pipeline, LOCAL))


def headers_of(record: KafkaRecord) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


# -- what a dead letter says ---------------------------------------------------


def test_the_error_is_the_message_of_the_function_s_json_answer_with_its_problems():
    assert error_message(json.dumps(REFUSAL).encode()) == "invalid score (risk_score: missing)"


def test_an_answer_that_is_not_json_is_its_text_on_one_line():
    assert error_message(b"<html>\n  <body>Bad   Gateway</body>\n</html>") == "<html> <body>Bad Gateway</body> </html>"


def test_an_answer_cut_at_1024_bytes_is_shown_as_the_text_that_was_kept():
    cut = json.dumps({"error": "x" * 2000}).encode()[:1024]
    assert error_message(cut).startswith('{"error": "xxx') and error_message(cut).endswith("…")


def test_a_dead_letter_reads_as_when_which_event_and_why(log, reader):
    log.add("sentinel.dlq", a_dead_letter("t-1"))
    letter = reader.get("0")
    assert letter.dead_lettered_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert (letter.event_id, letter.event_type, letter.subject) == ("t-1", "dev.sentinel.transaction.scored", "t-1")
    assert (letter.error_code, letter.destination) == (400, PERSIST_URL)
    assert letter.error == "invalid score (risk_score: missing)"


def test_a_dead_letter_without_a_status_says_its_destination_did_not_answer(log, reader):
    log.add("sentinel.dlq", a_dead_letter(code=None, answer=None))
    assert reader.get("0").error.startswith("no HTTP answer")


def test_show_decodes_the_error_data_and_the_event_data(log, reader):
    log.add("sentinel.dlq", a_dead_letter("t-1"))
    document = reader.get("0").to_json(detail=True)
    assert document["error_data"] == REFUSAL
    assert document["data"] == {"transaction_id": "t-1"}
    assert document["attributes"]["knativeerrordest"] == PERSIST_URL


def test_the_original_event_drops_the_knativeerror_extensions_and_keeps_every_other_attribute(log, reader):
    log.add("sentinel.dlq", a_dead_letter("t-1"))
    original = reader.get("0").original()
    assert not [name for name in original.attributes if name.startswith("knativeerror")]
    assert original.attributes["traceparent"].startswith("00-0af7")
    assert original.attributes["partitionkey"] == "u-7"


def test_an_id_is_the_offset_or_partition_and_offset():
    assert parse_id("12") == (0, 12)
    assert parse_id("3:12") == (3, 12)


@pytest.mark.parametrize("text", ["", "abc", "-1", "1:2:3", "12 13"])
def test_anything_else_is_not_an_id(text):
    with pytest.raises(NoSuchDeadLetter, match="is not a dead-letter id"):
        parse_id(text)


# -- reading -----------------------------------------------------------------------


def test_the_dead_letter_topic_is_the_one_the_kafkasources_name(pipeline):
    assert dead_letter_sink(pipeline).topic == "sentinel.dlq"


def test_a_topic_no_kafkasource_dead_letters_to_is_refused_naming_those_that_do(pipeline):
    with pytest.raises(DeadLetterError, match="no KafkaSource dead-letters to sentinel.scored.*sentinel.dlq"):
        dead_letter_sink(pipeline, "sentinel.scored")


def test_newest_gives_the_newest_first_with_the_count_and_the_oldest_time(log, reader):
    for number in range(5):
        log.add("sentinel.dlq", a_dead_letter(f"t-{number}"))
    found = reader.newest(2)
    assert [letter.id for letter in found.letters] == ["4", "3"]
    assert found.count == 5
    assert found.oldest_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert found.newest_at == datetime(2026, 1, 1, 0, 0, 4, tzinfo=UTC)


def test_newest_reads_no_more_than_it_shows(log, reader):
    for number in range(1000):
        log.add("sentinel.dlq", a_dead_letter(f"t-{number}"))
    reader.newest(10)
    assert sum(stop - start for start, stop in log.reads) == 11  # the newest ten and the oldest


def test_an_empty_topic_has_no_dead_letters(log, reader):
    log.partitions_["sentinel.dlq"] = [[]]
    found = reader.newest(50)
    assert (found.count, found.letters, found.newest_at, found.oldest_at) == (0, (), None, None)


def test_an_id_the_topic_does_not_hold_is_refused_naming_the_ids_it_holds(log, reader):
    log.first_offsets[("sentinel.dlq", 0)] = 10
    for number in range(3):
        log.add("sentinel.dlq", a_dead_letter(f"t-{number}"))
    with pytest.raises(NoSuchDeadLetter, match="there is no dead letter 3: sentinel.dlq holds ids 10 to 12"):
        reader.get("3")


def test_a_partition_the_topic_lacks_is_refused(log, reader):
    log.add("sentinel.dlq", a_dead_letter())
    with pytest.raises(NoSuchDeadLetter, match="has no partition 4"):
        reader.get("4:0")


# -- where a replay goes --------------------------------------------------------------


def letter_for(reader, log, record: KafkaRecord):
    return reader.get(str(log.add("sentinel.dlq", record)))


def test_a_dead_letter_that_failed_to_reach_persist_goes_back_to_the_topic_feeding_persist(log, reader, pipeline):
    letter = letter_for(reader, log, a_dead_letter(destination=PERSIST_URL + "/"))
    assert Routes(pipeline, LOCAL).topic_for(letter) == "sentinel.scored"


def test_a_dead_letter_that_failed_to_reach_score_goes_back_to_the_transactions(log, reader, pipeline):
    letter = letter_for(reader, log, a_dead_letter(destination=LOCAL["score"]))
    assert Routes(pipeline, LOCAL).topic_for(letter) == "sentinel.transactions"


def test_a_knative_service_address_in_a_cluster_names_its_function(log, reader, pipeline):
    letter = letter_for(reader, log, a_dead_letter(destination="http://persist.sentinel.svc.cluster.local"))
    assert Routes(pipeline, {}).topic_for(letter) == "sentinel.scored"


def test_a_destination_that_is_no_function_is_refused_rather_than_guessed(log, reader, pipeline):
    letter = letter_for(reader, log, a_dead_letter(destination="http://127.0.0.1:9999"))
    with pytest.raises(CannotReplay, match="http://127.0.0.1:9999 is the address of no function"):
        Routes(pipeline, LOCAL).topic_for(letter)


def test_a_dead_letter_without_a_destination_is_refused(log, reader, pipeline):
    letter = letter_for(reader, log, a_dead_letter(destination=None))
    with pytest.raises(CannotReplay, match="no knativeerrordest"):
        Routes(pipeline, LOCAL).topic_for(letter)


def test_a_record_that_was_not_a_cloudevent_is_refused(log, reader, pipeline):
    wrapped = json_event(
        {
            "id": "partition:0/offset:9",
            "source": "/x",
            "type": "dev.knative.kafka.event",
            "knativeerrordest": PERSIST_URL,
        },
        {"not": "a cloudevent"},
    )
    letter = letter_for(reader, log, to_kafka(wrapped))
    with pytest.raises(CannotReplay, match="not a CloudEvent"):
        Routes(pipeline, LOCAL).topic_for(letter)


def write_manifests(directory, documents: str):
    (directory / "kustomization.yaml").write_text("namespace: shop\nresources:\n  - all.yaml\n")
    (directory / "all.yaml").write_text(textwrap.dedent(documents))
    return topology.load(directory)


SERVICE = """
    apiVersion: serving.knative.dev/v1
    kind: Service
    metadata: {{name: {name}}}
    spec: {{template: {{spec: {{containers: [{{image: i}}]}}}}}}
    ---
"""
SINK = """
    apiVersion: eventing.knative.dev/v1alpha1
    kind: KafkaSink
    metadata: {{name: {name}}}
    spec: {{topic: {topic}, bootstrapServers: [x]}}
    ---
"""
SOURCE = """
    apiVersion: sources.knative.dev/v1
    kind: KafkaSource
    metadata: {{name: {name}}}
    spec:
      bootstrapServers: [x]
      topics: [{topics}]
      delivery: {{deadLetterSink: {{ref: {{apiVersion: eventing.knative.dev/v1alpha1, kind: KafkaSink, name: dead}}}}}}
      sink: {{ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: {sink}}}}}
    ---
"""


def test_the_topic_comes_from_the_manifests_whatever_it_is_called(tmp_path, log):
    shop = write_manifests(
        tmp_path,
        SERVICE.format(name="ship")
        + SINK.format(name="orders", topic="shop.orders")
        + SINK.format(name="dead", topic="shop.dead")
        + SOURCE.format(name="ship-source", topics="shop.orders", sink="ship"),
    )
    reader = DeadLetterReader(log.opened, dead_letter_sink(shop), shop.namespace)
    letter = reader.get(str(log.add("shop.dead", a_dead_letter(destination="http://ship.shop.svc.cluster.local"))))
    assert Routes(shop, {}).topic_for(letter) == "shop.orders"


def test_a_function_fed_by_two_topics_is_refused_naming_them(tmp_path, log):
    shop = write_manifests(
        tmp_path,
        SERVICE.format(name="ship")
        + SINK.format(name="orders", topic="shop.orders")
        + SINK.format(name="returns", topic="shop.returns")
        + SINK.format(name="dead", topic="shop.dead")
        + SOURCE.format(name="ship-source", topics="shop.orders, shop.returns", sink="ship"),
    )
    reader = DeadLetterReader(log.opened, dead_letter_sink(shop), shop.namespace)
    letter = reader.get(str(log.add("shop.dead", a_dead_letter(destination="http://ship.shop.svc"))))
    with pytest.raises(CannotReplay, match=r"several topics feed ship \(shop.orders, shop.returns\)"):
        Routes(shop, {}).topic_for(letter)


# -- replaying ----------------------------------------------------------------------


def test_a_replayed_event_is_the_original_keyed_by_its_partitionkey(log, replayer):
    log.add("sentinel.dlq", a_dead_letter("t-1"))
    replayer.replay("0")
    [(topic, record)] = log.produced
    assert topic == "sentinel.scored"
    assert record.key == b"u-7"
    assert "ce_knativeerrordest" not in headers_of(record)
    assert headers_of(record)["ce_id"] == "t-1"
    assert record.value == b'{"transaction_id":"t-1"}'


def test_replaying_one_by_id_leaves_the_progress_of_replay_all_alone(log, replayer):
    log.add("sentinel.dlq", a_dead_letter("t-1"))
    replayer.replay("0")
    assert log.offsets == {}


def test_replay_all_replays_each_dead_letter_and_the_next_run_none_again(log, replayer):
    for number in range(3):
        log.add("sentinel.dlq", a_dead_letter(f"t-{number}"))
    first = replayer.replay_pending()
    second = replayer.replay_pending()
    assert [letter.id for letter, _topic in first.replayed] == ["0", "1", "2"]
    assert first.topics == {"sentinel.scored": 3}
    assert second.replayed == []


def test_replay_all_continues_with_dead_letters_that_came_after_the_last_run(log, replayer):
    log.add("sentinel.dlq", a_dead_letter("t-0"))
    replayer.replay_pending()
    log.add("sentinel.dlq", a_dead_letter("t-1"))
    assert [letter.id for letter, _topic in replayer.replay_pending().replayed] == ["1"]


def test_an_event_two_functions_dead_lettered_is_replayed_once(log, replayer):
    log.add("sentinel.dlq", a_dead_letter("t-1", destination=PERSIST_URL))
    log.add("sentinel.dlq", a_dead_letter("t-1", destination=ALERT_URL))
    report = replayer.replay_pending()
    assert len(log.produced) == 1
    assert [letter.id for letter in report.repeats] == ["1"]


def test_replay_all_skips_and_reports_what_it_cannot_route_and_replays_the_rest(log, replayer):
    log.add("sentinel.dlq", a_dead_letter("t-0", destination="http://elsewhere:8080"))
    log.add("sentinel.dlq", a_dead_letter("t-1"))
    report = replayer.replay_pending()
    [(skipped, reason)] = report.skipped
    assert skipped.id == "0" and "elsewhere" in reason
    assert [letter.id for letter, _topic in report.replayed] == ["1"]


def test_a_replay_all_that_fails_half_way_is_continued_by_the_next_not_repeated(log, replayer):
    for number in range(4):
        log.add("sentinel.dlq", a_dead_letter(f"t-{number}"))
    log.fail_producing_after = 2
    with pytest.raises(DeadLetterError, match="went away"):
        replayer.replay_pending()
    log.fail_producing_after = None
    assert [letter.id for letter, _topic in replayer.replay_pending().replayed] == ["2", "3"]


def test_replay_all_starts_at_the_oldest_record_still_held(log, replayer):
    log.first_offsets[("sentinel.dlq", 0)] = 40
    log.add("sentinel.dlq", a_dead_letter("t-1"))
    log.offsets[("sentinel-dlq-replay", "sentinel.dlq", 0)] = 7  # what it committed was deleted since
    assert [letter.id for letter, _topic in replayer.replay_pending().replayed] == ["40"]
