"""A local stand-in for Knative's KafkaSink ingress: HTTP CloudEvents in, Kafka records out.

    python -m eventing.ingress --port 18080

One process serves every KafkaSink in the knative/ manifests at /<namespace>/<sink-name>.
A POSTed CloudEvent (binary or structured content mode) becomes a binary-mode record on
the sink's topic, keyed by its `partitionkey`, with its `traceparent` extension as it
came (a span of the ingress joins that trace: sentinel.serving.tracing), and the answer
is 202 only once the broker acknowledged it. 400: not a CloudEvent; 404: no such sink; 503: the broker did
not acknowledge, so the sender should retry. GET /healthz: 200 while the broker answers.

An ASGI application on uvicorn (httptools, uvloop), like the functions: a request waits
for its record's acknowledgement without holding a thread, so one event loop carries
every request in flight. SIGTERM: stop accepting, finish the requests in flight, flush
the producer, exit.

GET /metrics: the records written by topic and outcome, and the broker's acknowledgement
times, for Prometheus (eventing.metrics).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from opentelemetry.trace import SpanKind
from starlette.requests import Request
from starlette.responses import Response

from eventing.metrics import MeasuredProducer, metrics_document
from eventing.producer import AckingProducer, BrokerUnavailable
from eventing.topology import KNATIVE_DIR, Topology, load
from sentinel.codec import http
from sentinel.codec.kafka import to_kafka
from sentinel.config import Settings
from sentinel.serving import tracing
from sentinel.serving.body import read_streamed_body
from sentinel.serving.failures import answer_for, headers_for

log = logging.getLogger("eventing.ingress")

DEFAULT_DELIVERY_TIMEOUT_S = 5.0

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def sink_paths(topology: Topology) -> dict[str, str]:
    """Each KafkaSink's ingress path and the topic it writes to."""
    return {topology.sink_path(sink.name): sink.topic for sink in topology.sinks.values()}


class KafkaSinkIngress:
    """The ASGI application: routes a request to its KafkaSink and answers once the broker acked.

    The producer is made when the server starts (ASGI lifespan) and flushed when it stops."""

    def __init__(
        self, topics_by_path: dict[str, str], new_producer: Callable[[], AckingProducer], max_body_bytes: int
    ) -> None:
        self._topics_by_path = topics_by_path
        self._new_producer = new_producer
        self._max_body_bytes = max_body_bytes
        self._producer: AckingProducer | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self._respond(request)
        except Exception as error:
            status, body = answer_for(error, "the KafkaSink ingress")
            response = _json(status, body, headers_for(error))
            if isinstance(error, BrokerUnavailable):
                log.warning("event not written: %s", error)
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._producer = self._new_producer()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._producer is not None:
                    unsent = await asyncio.to_thread(self._producer.close)
                    if unsent:
                        log.error("%d record(s) were not acknowledged before shutdown", unsent)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _respond(self, request: Request) -> Response:
        assert self._producer is not None, "served without its lifespan"
        path = request.url.path
        if path == "/healthz":
            healthy = await asyncio.to_thread(self._producer.reachable)
            return _json(200 if healthy else 503, {"healthy": healthy, "sinks": self._topics_by_path})
        if path == "/metrics":
            body, content_type = metrics_document()
            return Response(body, media_type=content_type)
        topic = self._topics_by_path.get(path.rstrip("/"))
        if topic is None:
            return _json(404, {"error": f"no KafkaSink at {path}", "sinks": sorted(self._topics_by_path)})
        if request.method != "POST":
            return _json(405, {"error": "POST a CloudEvent to a KafkaSink"}, {"Allow": "POST"})
        body = await read_streamed_body(request.headers, request.stream(), self._max_body_bytes)
        event = http.read_event(request.headers, body)
        parent = tracing.continued(request.headers, [event])
        attributes = {**tracing.event_attributes([event]), "messaging.destination.name": topic}
        with tracing.span(f"publish {topic}", parent, SpanKind.PRODUCER, attributes):
            await self._producer.acknowledged(topic, to_kafka(event))
        return Response(status_code=202)


def _json(status: int, document: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(document), status_code=status, headers=headers, media_type="application/json")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m eventing.ingress", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--topology", type=Path, default=KNATIVE_DIR, help="the knative/ manifests directory")
    parser.add_argument(
        "--delivery-timeout",
        type=float,
        default=DEFAULT_DELIVERY_TIMEOUT_S,
        help="seconds to wait for the broker's ack before answering 503",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    topics_by_path = sink_paths(load(args.topology))
    tracing.start("kafka-sink-ingress")

    def new_producer() -> AckingProducer:
        return MeasuredProducer(
            settings.kafka_bootstrap_servers,
            delivery_timeout_s=args.delivery_timeout,
            client_id=f"sentinel-kafka-sink-ingress-{os.getpid()}",
        )

    log.info(
        "serving %s on %s:%d (broker %s)",
        ", ".join(sorted(topics_by_path)),
        args.host,
        args.port,
        settings.kafka_bootstrap_servers,
    )
    uvicorn.run(
        KafkaSinkIngress(topics_by_path, new_producer, settings.max_body_bytes),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level=args.log_level.lower(),
        timeout_graceful_shutdown=math.ceil(args.delivery_timeout) + 5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
