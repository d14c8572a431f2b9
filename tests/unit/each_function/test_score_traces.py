"""score behind its HTTP adapter, in memory: a decision is made in the trace its event came in.

The scored event carries score's span in its `traceparent` extension (CloudEvents
distributed-tracing extension), and the decision records the trace id, for persist
and alert to store.
"""

import pytest
from fakes import NOW, RECEIVED_KEYS, SCORED_KEYS, MemoryHistories, received
from opentelemetry import trace
from support import KnownKeys, a_traceparent, a_transaction, asgi_client

from functions.score.main import Score
from sentinel.codec import http
from sentinel.config import Settings
from sentinel.serving.callers import Callers
from sentinel.serving.http_handler import http_handler


@pytest.fixture
def served(models, sink):
    scorer = Score(
        models, sink, MemoryHistories(), received_keys=RECEIVED_KEYS, scored_keys=SCORED_KEYS, clock=lambda: NOW
    )
    callers = Callers(KnownKeys({}))
    client = asgi_client(http_handler(lambda _: scorer, settings=Settings.from_env, new_callers=lambda *_: callers))
    yield client
    scorer.stop()


def post(client, event, **headers):
    event_headers, body = http.binary(event)
    return client.post("/", content=body, headers={**event_headers, **headers})


def test_a_decision_records_the_trace_its_event_came_in(served, sink):
    traceparent, trace_id = a_traceparent()
    assert post(served, received(a_transaction()), traceparent=traceparent).status_code == 200
    [scored] = sink.events
    assert scored.json()["trace_id"] == trace_id


def test_the_scored_event_carries_scores_span_as_its_parent(served, sink, spans):
    traceparent, trace_id = a_traceparent()
    post(served, received(a_transaction()), traceparent=traceparent)
    [span] = [span for span in spans.finished() if span.name == "score"]
    assert span.parent.span_id == int(traceparent.split("-")[2], 16)
    assert sink.events[0].attributes["traceparent"] == f"00-{trace_id}-{trace.format_span_id(span.context.span_id)}-01"


def test_an_event_sent_without_trace_context_starts_a_trace_of_its_own(served, sink):
    post(served, received(a_transaction()))
    [scored] = sink.events
    assert scored.json()["trace_id"] == scored.attributes["traceparent"].split("-")[1]
