"""Trace context through a hop: which trace a request continues, and what it passes on.

W3C Trace Context (https://www.w3.org/TR/trace-context/) defines the `traceparent`
header; the CloudEvents distributed-tracing extension carries the same value in the
event's `traceparent` attribute.
"""

import json
import os
import re
import subprocess
import sys

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from support import a_traceparent

from sentinel.codec.event import json_event
from sentinel.core.errors import ClientError
from sentinel.serving import tracing

SPAN_ID = "00f067aa0ba902b7"


def an_event(**extensions):
    return json_event({"type": "t", "source": "/tests", "id": "e-1", **extensions}, {"a": 1})


def trace_id_of(context) -> str:
    return trace.format_trace_id(trace.get_current_span(context).get_span_context().trace_id)


def test_a_request_continues_the_trace_of_its_traceparent_header():
    header, trace_id = a_traceparent()
    assert trace_id_of(tracing.continued({"traceparent": header}, [an_event()])) == trace_id


def test_without_the_header_a_request_continues_the_trace_its_event_carries():
    extension, trace_id = a_traceparent()
    assert trace_id_of(tracing.continued({}, [an_event(traceparent=extension)])) == trace_id


def test_the_header_wins_over_the_events_extension():
    header, trace_id = a_traceparent()
    extension, _ = a_traceparent()
    assert trace_id_of(tracing.continued({"traceparent": header}, [an_event(traceparent=extension)])) == trace_id


def test_an_all_zero_trace_id_is_ignored_and_the_request_starts_a_new_trace():
    """W3C Trace Context §3.2.2.3: all bytes of trace-id 0 is an invalid value."""
    invalid = f"00-{'0' * 32}-{SPAN_ID}-01"
    context = tracing.continued({"traceparent": invalid}, [an_event()])
    assert not trace.get_current_span(context).get_span_context().is_valid


def test_a_malformed_header_falls_back_to_the_events_extension():
    """W3C Trace Context §3.2.2: a traceparent that does not parse is ignored."""
    extension, trace_id = a_traceparent()
    context = tracing.continued({"traceparent": "00-not-hex-01"}, [an_event(traceparent=extension)])
    assert trace_id_of(context) == trace_id


def test_an_event_made_in_a_span_carries_that_span_as_its_parent(spans):
    header, trace_id = a_traceparent()
    with tracing.span("work", tracing.continued({"traceparent": header}, []), SpanKind.SERVER) as current:
        stamped = tracing.stamped(an_event())
    version, carried_trace, carried_span, flags = stamped.attributes["traceparent"].split("-")
    assert (version, carried_trace, flags) == ("00", trace_id, "01")
    assert carried_span == trace.format_span_id(current.get_span_context().span_id)


def test_outside_any_span_an_event_is_left_as_it_is():
    event = an_event()
    assert tracing.stamped(event) == event and tracing.current_trace_id() is None


def test_a_span_records_a_client_error_as_its_status_code_not_as_a_failure(spans):
    try:
        with tracing.span("work", None, SpanKind.SERVER):
            raise ClientError("bad", status=422)
    except ClientError:
        pass
    [recorded] = spans.finished()
    assert recorded.attributes[tracing.STATUS_CODE] == 422
    assert recorded.status.status_code is trace.StatusCode.UNSET


def test_a_span_records_any_other_exception_as_a_failure(spans):
    try:
        with tracing.span("work", None, SpanKind.SERVER):
            raise TimeoutError("no answer")
    except TimeoutError:
        pass
    [recorded] = spans.finished()
    assert recorded.status.status_code is trace.StatusCode.ERROR
    assert "TimeoutError: no answer" in recorded.status.description


SPAN_IN_A_NEW_PROCESS = """
import json
from opentelemetry.trace import SpanKind
from sentinel.serving import tracing
tracing.start("probe")
with tracing.span("work", None, SpanKind.SERVER) as current:
    print(json.dumps({"recording": current.is_recording(), "trace_id": tracing.current_trace_id(),
                      "traceparent": tracing.headers()["traceparent"]}))
"""


def a_span_in_a_new_process(**environment: str) -> dict:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", SPAN_IN_A_NEW_PROCESS], env={**env, **environment}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def sampled(traceparent: str) -> bool:
    """W3C Trace Context §3.2.2.5: the lowest bit of trace-flags says the caller may have recorded the trace."""
    return bool(int(traceparent.rsplit("-", 1)[1], 16) & 0x01)


def test_without_an_endpoint_spans_are_not_recorded_but_the_trace_id_is_made_and_passed_on():
    made = a_span_in_a_new_process()
    assert made["recording"] is False
    assert re.fullmatch(r"[0-9a-f]{32}", made["trace_id"]) and set(made["trace_id"]) != {"0"}
    assert made["traceparent"].startswith(f"00-{made['trace_id']}-")
    assert not sampled(made["traceparent"])


def test_with_an_endpoint_every_span_is_recorded_and_passed_on_as_sampled():
    made = a_span_in_a_new_process(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_BSP_SCHEDULE_DELAY="60000")
    assert made["recording"] is True
    assert sampled(made["traceparent"])


def test_with_an_endpoint_the_standard_sampler_variable_chooses_what_is_recorded():
    made = a_span_in_a_new_process(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_TRACES_SAMPLER="parentbased_always_off"
    )
    assert made["recording"] is False
    assert not sampled(made["traceparent"])
