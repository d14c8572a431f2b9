"""`sentinel send` honours ingest's load shedding: it waits as Retry-After says, then sends again."""

import pytest
from support import RecordingSink, Reply, a_transaction

from sentinel.cli import demo_traffic

ACCEPTED = Reply(202, body=b'{"accepted": ["t"], "duplicates": []}', headers={"Content-Type": "application/json"})


@pytest.fixture
def ingest():
    server = RecordingSink()
    yield server
    server.stop()


def test_a_shed_request_is_sent_again_after_retry_after_and_accepted(ingest):
    ingest.script(Reply(503, headers={"Retry-After": "0.2"}), ACCEPTED)
    report = demo_traffic.send(ingest.url, [a_transaction()], rate=100, concurrency=1)
    first, second = ingest.received
    assert (report.accepted, report.failed, report.deferred) == (1, 0, 1)
    assert second.at - first.at >= 0.2


def test_a_429_with_retry_after_is_waited_out_too(ingest):
    ingest.script(Reply(429, headers={"Retry-After": "0"}), ACCEPTED)
    assert demo_traffic.send(ingest.url, [a_transaction()], rate=100, concurrency=1).accepted == 1


def test_a_503_without_retry_after_is_a_failure_not_retried(ingest):
    ingest.script(Reply(503))
    report = demo_traffic.send(ingest.url, [a_transaction()], rate=100, concurrency=1)
    assert (report.failed, report.deferred, len(ingest.received)) == (1, 0, 1)
