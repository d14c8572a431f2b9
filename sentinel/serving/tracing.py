"""W3C trace context through every hop, recorded as OpenTelemetry spans.

A request continues the trace its sender started: the HTTP `traceparent` header
(W3C Trace Context §3.2), else the `traceparent` extension of the event it carries
(CloudEvents distributed-tracing extension), else a new trace. Each hop records a span
for its work; every request it sends carries that span's context in a `traceparent`
header, and every event a function makes carries it as the event's `traceparent`
extension, so the trace goes through Kafka in the record's `ce_traceparent` header.
Events passed on (the ingress, the dispatchers) keep the extension they came with.

Spans are exported by OTLP over HTTP when the standard OTEL_EXPORTER_OTLP_ENDPOINT or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, sampled as the standard OTEL_TRACES_SAMPLER
says (every trace unless it says otherwise). Without an endpoint no span is recorded,
since none would go anywhere, but each still has its ids: the trace id travels, and
score records it with each decision.
Before `start` (a function tested in memory) nothing is recorded, and a trace that
came in is passed on unchanged.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from sentinel.codec.event import Event
from sentinel.core.errors import ClientError

TRACEPARENT, TRACESTATE = "traceparent", "tracestate"
EXPORT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
SERVICE_PREFIX = "sentinel-"
STATUS_CODE = "http.response.status_code"

_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("sentinel")
_started = threading.Lock()
_provider: TracerProvider | None = None


def start(service: str, *, exporter: SpanExporter | None = None) -> None:
    """Record this process's spans as the service `sentinel-<service>`, once per process.

    They go to `exporter` when one is given (synchronously: for tests), else by OTLP when
    it is configured; else spans get their ids but are not recorded, which spares each hop
    the cost of keeping what would go nowhere. Call it in the process that serves, after any fork."""
    global _provider
    with _started:
        if _provider is not None:
            return
        resource = Resource.create({SERVICE_NAME: SERVICE_PREFIX + service})
        if exporter is not None:
            _provider = TracerProvider(resource=resource)
            _provider.add_span_processor(SimpleSpanProcessor(exporter))
        elif _exporting():
            _provider = TracerProvider(resource=resource)  # the sampler OTEL_TRACES_SAMPLER names
            _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            _provider = TracerProvider(resource=resource, sampler=ALWAYS_OFF)
        trace.set_tracer_provider(_provider)  # flushed and shut down at exit by the provider itself


def _exporting() -> bool:
    """Whether spans are sent anywhere: an OTLP endpoint is configured."""
    return any(os.environ.get(name, "").strip() for name in EXPORT_VARIABLES)


def continued(headers: Mapping[str, str], events: Sequence[Event]) -> context.Context:
    """The trace a request continues: its `traceparent` header, else its first event's extension;
    an empty context (a new trace) when neither holds a valid one."""
    found = _propagator.extract(_carrier(headers))
    if trace.get_current_span(found).get_span_context().is_valid or not events:
        return found
    return of_event(events[0])


def of_event(event: Event) -> context.Context:
    """The trace context an event's distributed-tracing extension carries (empty when it has none)."""
    return _propagator.extract(_carrier(event.attributes))


@contextmanager
def span(
    name: str, parent: context.Context | None, kind: SpanKind, attributes: Mapping[str, str | int] | None = None
) -> Iterator[trace.Span]:
    """A span for a piece of work, current while it runs, child of `parent` (None: of the current span).
    An exception goes on; it marks the span failed unless it is the client's (a 4xx, recorded as such)."""
    with _tracer.start_as_current_span(
        name, context=parent, kind=kind, attributes=attributes, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except ClientError as error:
            current.set_attribute(STATUS_CODE, error.status)
            raise
        except BaseException as error:
            failed(current, f"{type(error).__name__}: {error}")
            raise


def failed(current: trace.Span, description: str) -> None:
    current.set_status(Status(StatusCode.ERROR, description))


def headers() -> dict[str, str]:
    """The current span's context as W3C Trace Context headers, for a request it sends."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


def stamped(event: Event) -> Event:
    """`event` carrying the current span's context in its distributed-tracing extension."""
    extensions = headers()
    return event.with_extensions(extensions) if extensions else event


def current_trace_id() -> str | None:
    """The current trace's id, 32 lower-case hex digits, or None outside any trace."""
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None


def event_attributes(events: Sequence[Event]) -> dict[str, str | int]:
    """What a span records about the events of a request (OpenTelemetry's CloudEvents conventions)."""
    if not events:
        return {}
    first = events[0]
    attributes: dict[str, str | int] = {"cloudevents.event_type": first.type, "cloudevents.event_source": first.source}
    if len(events) == 1:
        attributes["cloudevents.event_id"] = first.id
    else:
        attributes["messaging.batch.message_count"] = len(events)
    return attributes


def _carrier(fields: Mapping[str, str]) -> dict[str, str]:
    """The trace context fields of request headers (which match names whatever their case) or event attributes."""
    return {name: fields[name] for name in (TRACEPARENT, TRACESTATE) if fields.get(name)}
