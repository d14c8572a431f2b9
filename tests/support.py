"""Helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx2
import requests
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from sentinel.codec import http
from sentinel.codec.event import Event, json_event
from sentinel.config import SCORED_SIGNING_KEY, Settings
from sentinel.core import events, score
from sentinel.core.api_keys import Caller, key_hash
from sentinel.core.integrity import SigningKeys
from sentinel.serving.callers import Callers
from sentinel.serving.event_integrity import signed_json_event
from sentinel.serving.function import Function
from sentinel.serving.http_handler import http_handler, stored_callers
from sentinel.stores import registry
from sentinel.stores.database import connect

T = TypeVar("T")

SENTINEL = str(Path(sys.executable).parent / "sentinel")  # the command, as the user runs it


def wait_for(probe: Callable[[], T], *, timeout: float = 30.0, every: float = 0.05, what: str = "condition") -> T:
    """Poll until `probe` returns something truthy, and return it."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout:.0f}s (last: {result!r})")
        time.sleep(every)


# A dispatcher's /healthz entry for a partition retrying one event (eventing.dispatcher).
A_STALLED_PARTITION = {
    "topic": "sentinel.scored",
    "partition": 3,
    "for_s": 12.5,
    "event_id": "txn-poison",
    "offset": 41,
    "attempts": 7,
    "last_error": "HTTP 500",
}


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to the end on an event loop of its own, in a thread of its own: the browser
    tests' session-wide Playwright keeps a loop running in the main thread, where asyncio.run refuses."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def a_transaction(**changes: Any) -> dict[str, Any]:
    """A valid transaction with a fresh id."""
    item: dict[str, Any] = {
        "transaction_id": f"t-{uuid.uuid4().hex[:16]}",
        "user_id": "u-test",
        "Time": 3600.0,
        "Amount": 42.5,
    }
    item.update({f"V{i}": round(0.05 * ((i % 7) - 3), 3) for i in range(1, 29)})
    item.update(changes)
    return item


def a_score(
    transaction: dict[str, Any],
    decision: str = "approve",
    *,
    model_version: str = "v-test",
    thresholds: dict[str, float] | None = None,
    client_id: str = "tests",
) -> dict[str, Any]:
    """The Score payload of `client_id`'s `transaction` decided `decision` by `model_version`
    under its `thresholds`, with a risk score the decision follows from, as score would emit it."""
    limits = thresholds or {"review": 0.5, "block": 0.9}
    assert decision != "review" or limits["review"] < limits["block"], f"nothing is a review under {limits}"
    risk = {"approve": limits["review"] / 2, "review": limits["review"], "block": limits["block"]}[decision]
    return score.build(
        {**transaction, "client_id": client_id},
        risk_score=risk,
        decision=decision,
        model_version=model_version,
        thresholds=limits,
        received_at="2026-12-01T12:00:00Z",
        scored_at="2026-12-01T12:00:01Z",
    )


def a_copy_of_the_champion(settings: Settings) -> str:
    """The champion's own model registered again under a new version: a challenger that decides exactly as it."""
    with connect(settings.database_url) as conn:
        champion = registry.champion(conn)
        assert champion is not None, "the registry holds no champion"
        return registry.register(
            conn,
            champion.onnx,
            thresholds=champion.thresholds,
            metrics={},
            data_fingerprint=champion.data_fingerprint,
            feature_names=champion.feature_names,
        ).version


def a_champion_score(settings: Settings, transaction: dict[str, Any], decision: str = "approve") -> dict[str, Any]:
    """`a_score` by the champion of the registry at `settings.database_url`, under its own thresholds."""
    with connect(settings.database_url) as conn:
        champion = registry.get(conn, registry.champion_version(conn) or "", with_onnx=False)
    assert champion is not None, "the registry holds no champion"
    return a_score(transaction, decision, model_version=champion.version, thresholds=champion.thresholds)


def blocked_features(settings: Settings) -> dict[str, Any]:
    """A transaction (without its id) the champion model blocks as the first of a new user, found by
    asking the model itself; each call's user is new, so score sees what the model was asked about."""
    import numpy as np

    from sentinel.core import behaviour
    from sentinel.core.model import OnnxModel
    from training.synthetic import demo_transactions

    with connect(settings.database_url) as conn:
        record = registry.champion(conn)
    assert record is not None, "the registry holds no champion"
    model = OnnxModel(record)
    candidates = [
        {**item, "user_id": f"u-blocked-{uuid.uuid4().hex[:12]}"}
        for item in demo_transactions(400, seed=11, fraud_share=1.0)
    ]

    def as_first_of_its_user(item: dict[str, Any]) -> list[float]:
        seen = behaviour.observation_of(item, received_at=events.utc_now())
        return model.features_of(item, behaviour.features_of(behaviour.new_history(), seen))

    risks = model.predict(np.array([as_first_of_its_user(item) for item in candidates], dtype=np.float32))
    best = int(np.argmax(risks))
    assert risks[best] >= record.thresholds["block"], "no fraud-like demo transaction reaches the block threshold"
    return {key: value for key, value in candidates[best].items() if key != "transaction_id"}


def signed_scored(decision: dict[str, Any], scored_key: str | None, **attributes: str) -> Event:
    """The scored event of `decision` as score emits it, signed with `scored_key` (the stack's
    is `settings.scored_signing_key`; None: unsigned); `attributes` replace its own after
    signing, as a forger would."""
    attrs = events.transaction_attributes(events.TRANSACTION_SCORED, events.SCORE_SOURCE, decision)
    if scored_key is None:
        return json_event(attrs, decision).with_extensions(attributes)
    event = signed_json_event(attrs, decision, SigningKeys(SCORED_SIGNING_KEY, scored_key))
    return event.with_extensions(attributes)


def created_event(transaction: dict[str, Any], **attributes: Any) -> CloudEvent:
    return CloudEvent(
        {
            "type": events.TRANSACTION_CREATED,
            "source": "/tests",
            "id": uuid.uuid4().hex,
            "datacontenttype": "application/json",
            **attributes,
        },
        transaction,
    )


def bearer(api_key: str | None) -> dict[str, str]:
    """The Authorization header for `api_key`; none without one."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def post_binary(
    url: str, event: CloudEvent, timeout: float = 15, *, key: str | None = None, traceparent: str | None = None
) -> requests.Response:
    headers, body = to_binary(event)
    if traceparent:
        headers["traceparent"] = traceparent
    return requests.post(url, data=body, headers={**headers, **bearer(key)}, timeout=timeout)


def post_structured(url: str, event: CloudEvent, timeout: float = 15, *, key: str | None = None) -> requests.Response:
    headers, body = to_structured(event)
    return requests.post(url, data=body, headers={**headers, **bearer(key)}, timeout=timeout)


def post_batch(url: str, batch: list[CloudEvent], timeout: float = 15, *, key: str | None = None) -> requests.Response:
    body = json.dumps([json.loads(to_structured(event)[1]) for event in batch])
    headers = {"Content-Type": "application/cloudevents-batch+json", **bearer(key)}
    return requests.post(url, data=body, headers=headers, timeout=timeout)


class KnownKeys:
    """Stored API keys in memory: each key given maps to a caller with the scopes given."""

    def __init__(self, keys: dict[str, tuple[str, ...]]) -> None:
        self._callers = {
            key_hash(key): Caller(f"caller-{index}", frozenset(scopes))
            for index, (key, scopes) in enumerate(keys.items())
        }

    def caller(self, hashed: str) -> Caller | None:
        return self._callers.get(hashed)

    def close(self) -> None:
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def records_about(bootstrap_servers: str, topic: str, subject: str, *, settle: float = 1.5) -> list[dict[str, str]]:
    """The ce_* headers of every record in `topic` whose CloudEvent subject is `subject`."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap_servers, "group.id": f"tests-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, partition, 0) for partition in partitions])
        found = []
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < settle:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            quiet_since = time.monotonic()
            headers = {key: value.decode() for key, value in (message.headers() or [])}
            if headers.get("ce_subject") == subject:
                found.append({**headers, "key": (message.key() or b"").decode()})
        return found
    finally:
        consumer.close()


class InProcess:
    """A function behind its HTTP adapter, called the way functions-framework calls it,
    built by its module's `new` with settings chosen by the test (pointing at real services).

    Every post carries `api_key` when one is given; `callers` replaces the stored keys
    (see KnownKeys)."""

    def __init__(
        self,
        new: Callable[[Settings], Function],
        settings: Settings,
        *,
        api_key: str | None = None,
        callers: Callers | None = None,
    ) -> None:
        self.function: Function | None = None
        self._api_key = api_key

        def build(chosen: Settings) -> Function:
            self.function = new(chosen)
            return self.function

        new_callers = stored_callers if callers is None else lambda _settings, _name: callers
        self._client = asgi_client(http_handler(build, settings=lambda: settings, new_callers=new_callers))

    def post(self, event: CloudEvent | Event, path: str = "/"):
        headers, body = http.binary(event) if isinstance(event, Event) else to_binary(event)
        return self.request(path, content=body, headers=headers)

    def request(self, path: str = "/", method: str = "POST", **kwargs) -> httpx2.Response:
        headers = {**bearer(self._api_key), **kwargs.pop("headers", {})}
        return self._client.request(
            method, path, headers={name: _raw(value) for name, value in headers.items()}, **kwargs
        )

    def stop(self) -> None:
        self._client.close()
        if self.function is not None:
            self.function.stop()


def _raw(header_value: str) -> bytes:
    """A header value as a client puts it on the wire: Latin-1 where it can be (as HTTP/1.1 reads it), else UTF-8."""
    try:
        return header_value.encode("latin-1")
    except UnicodeEncodeError:
        return header_value.encode()


def asgi_client(handler: Callable[[Any], Any]) -> TestClient:
    """`handler` served in memory as functions-framework's --asgi mode serves it: every path, every method."""
    methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"]
    return TestClient(Starlette(routes=[Route("/{path:path}", handler, methods=methods)]))


# -- a scriptable HTTP sink ---------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float

    @property
    def ce(self) -> dict[str, str]:
        """The CloudEvent attributes sent as ce- headers, percent-decoded (HTTP binding §3.1.3.2)."""
        return {name[3:]: unquote(value) for name, value in self.headers.items() if name.startswith("ce-")}


class RecordingSink:
    """An HTTP server that records every request and answers as the test scripted.

    Replies come from `script(...)` in arrival order, else from `respond_with(fn)`,
    else 200. It also tracks the most requests it ever had in progress at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._script: deque[Reply] = deque()
        self._responder: Callable[[ReceivedRequest], Reply] | None = None
        self._received: list[ReceivedRequest] = []
        self._in_progress = 0
        self.max_in_progress = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received = ReceivedRequest(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()
                )
                reply = sink._arrived(received)
                try:
                    time.sleep(reply.delay)
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up (a timeout test)
                finally:
                    sink._finished()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def respond_with(self, responder: Callable[[ReceivedRequest], Reply]) -> None:
        self._responder = responder

    @property
    def received(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 15) -> list[ReceivedRequest]:
        return wait_for(
            lambda: len(self.received) >= count and self.received,
            timeout=timeout,
            what=f"{count} request(s) at {self.url}",
        )

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _arrived(self, received: ReceivedRequest) -> Reply:
        with self._lock:
            self._received.append(received)
            self._in_progress += 1
            self.max_in_progress = max(self.max_in_progress, self._in_progress)
            if self._script:
                return self._script.popleft()
        return self._responder(received) if self._responder else Reply()

    def _finished(self) -> None:
        with self._lock:
            self._in_progress -= 1


# -- spans: recorded in this process, and collected from the stack by OTLP ------


class RecentSpans(SpanExporter):
    """The spans this test process finished lately (tracing starts once per process: tests/conftest.py)."""

    def __init__(self, keep: int = 10_000) -> None:
        self._spans: deque[ReadableSpan] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self._spans.extend(spans)
        return SpanExportResult.SUCCESS

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()

    def finished(self) -> list[ReadableSpan]:
        with self._lock:
            return list(self._spans)


@dataclass(frozen=True)
class CollectedSpan:
    service: str
    name: str
    kind: int  # opentelemetry.proto.trace.v1.Span.SpanKind
    trace_id: str
    span_id: str
    parent_span_id: str
    failed: bool
    attributes: dict[str, Any]


TRACES_PATH = "/v1/traces"  # OTLP/HTTP's path for traces; /v1/logs and /v1/metrics are others


class TraceCollector:
    """An OTLP/HTTP trace receiver (POST /v1/traces, protobuf) on 127.0.0.1, keeping the spans of the traces
    a test watches: a stack exports every span it makes here, and most belong to no test."""

    def __init__(self) -> None:
        self._watched: dict[str, list[CollectedSpan]] = {}
        self._lock = threading.Lock()
        self.rejected = 0  # exports that did not parse, answered 400 as a Collector answers them
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != TRACES_PATH:  # logs or metrics, which other OpenTelemetry users may send
                    self.send_response(404)
                else:
                    self.send_response(200 if collector._received(body) else 400)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def watch(self, trace_id: str) -> None:
        with self._lock:
            self._watched.setdefault(trace_id, [])

    def spans_of(self, trace_id: str) -> list[CollectedSpan]:
        with self._lock:
            return list(self._watched.get(trace_id, []))

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _received(self, body: bytes) -> bool:
        """Keep the watched spans of one export; False when it is not an OTLP trace export."""
        try:
            request = ExportTraceServiceRequest.FromString(body)
        except DecodeError:
            self.rejected += 1
            return False
        for resource_spans in request.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), ""
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self._keep(service, span)
        return True

    def _keep(self, service: str, span: Any) -> None:
        trace_id = span.trace_id.hex()
        with self._lock:
            if trace_id not in self._watched:
                return
            self._watched[trace_id].append(
                CollectedSpan(
                    service=service,
                    name=span.name,
                    kind=span.kind,
                    trace_id=trace_id,
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(),
                    failed=span.status.code == 2,  # STATUS_CODE_ERROR
                    attributes={a.key: _attribute_value(a.value) for a in span.attributes},
                )
            )


def _attribute_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def a_traceparent() -> tuple[str, str]:
    """A new W3C traceparent header value (sampled), and its trace id."""
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    return f"00-{trace_id}-{span_id}-01", trace_id


def a_gate(candidate: str, champion: str | None, candidate_auprc: float) -> dict[str, Any]:
    """A gate verdict as `sentinel models promote` records it in the candidate's metrics, against a champion
    whose AUPRC was 0.8."""
    return {
        "candidate_version": candidate,
        "candidate_auprc": candidate_auprc,
        "champion_version": champion,
        "champion_auprc": 0.8,
        "margin": 0.0,
        "evaluated_on": "tests",
    }
