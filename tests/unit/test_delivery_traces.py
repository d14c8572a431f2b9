"""A dispatcher's delivery in the event's trace: one span for the delivery, one per POST, context passed on.

The event keeps its `traceparent` extension (CloudEvents distributed-tracing extension:
it names where the event was made), and each POST carries its own span in the W3C
`traceparent` header, so the function's span is a child of the attempt that reached it.
"""

import threading

import pytest
from opentelemetry import trace
from support import RecordingSink, Reply, a_traceparent

from eventing.delivery import DeliverySpec
from eventing.sender import DeliveryCounters, EventSender, Outcome
from sentinel.codec.event import json_event


@pytest.fixture
def sink():
    recording = RecordingSink()
    yield recording
    recording.stop()


def sender_to(sink: RecordingSink, retry: int = 1) -> EventSender:
    delivery = DeliverySpec(
        retry=retry, backoff_policy="linear", backoff_delay=0.01, timeout=5.0, dead_letter_sink=None
    )
    return EventSender(sink.url, None, delivery, namespace="tests", concurrency=1, counters=DeliveryCounters())


def a_traced_event():
    traceparent, trace_id = a_traceparent()
    event = json_event({"type": "t", "source": "/tests", "id": "e-1", "traceparent": traceparent}, {"a": 1})
    return event, traceparent, trace_id


def span_id(span) -> str:
    return trace.format_span_id(span.context.span_id)


def test_each_post_is_a_span_under_the_delivery_in_the_events_trace(sink, spans):
    sink.script(Reply(503), Reply(200))
    event, traceparent, trace_id = a_traced_event()
    assert sender_to(sink).send(event, threading.Event()) is Outcome.DELIVERED
    [first, second, delivery] = spans.finished()
    assert {trace.format_trace_id(span.context.trace_id) for span in (first, second, delivery)} == {trace_id}
    assert delivery.parent.span_id == int(traceparent.split("-")[2], 16)
    assert first.parent.span_id == second.parent.span_id == delivery.context.span_id
    assert first.status.status_code is trace.StatusCode.ERROR and first.attributes["http.response.status_code"] == 503
    assert second.attributes["http.request.resend_count"] == 1
    assert delivery.attributes["sentinel.delivery.outcome"] == "delivered"


def test_each_post_names_its_own_span_in_the_traceparent_header_and_keeps_the_events_extension(sink, spans):
    sink.script(Reply(503), Reply(200))
    event, traceparent, trace_id = a_traced_event()
    sender_to(sink).send(event, threading.Event())
    [first, second, _] = spans.finished()
    sent = sink.wait_for(2)
    assert [request.headers["traceparent"] for request in sent] == [
        f"00-{trace_id}-{span_id(first)}-01",
        f"00-{trace_id}-{span_id(second)}-01",
    ]
    assert {request.ce["traceparent"] for request in sent} == {traceparent}


def test_a_delivery_that_fails_for_good_is_a_failed_span(sink, spans):
    sink.script(Reply(400))
    event, _, _ = a_traced_event()
    assert sender_to(sink, retry=0).send(event, threading.Event()) is Outcome.DROPPED
    delivery = spans.finished()[-1]
    assert delivery.status.status_code is trace.StatusCode.ERROR
    assert delivery.attributes["sentinel.delivery.outcome"] == "dropped"
