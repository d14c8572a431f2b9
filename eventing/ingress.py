"""A local stand-in for Knative's KafkaSink ingress: HTTP CloudEvents in, Kafka records out.

    python -m eventing.ingress --port 18080

One process serves every KafkaSink in the knative/ manifests at /<namespace>/<sink-name>.
A POSTed CloudEvent (binary or structured content mode) becomes a binary-mode record on
the sink's topic, keyed by its `partitionkey`, and the answer is 202 only once the
broker acknowledged it. 400: not a CloudEvent; 404: no such sink; 503: the broker did
not acknowledge, so the sender should retry. GET /healthz: 200 while the broker answers.

Served by gunicorn's threaded workers; each worker process creates its own producer
after the fork and flushes it when the worker exits (SIGTERM: stop accepting, finish
requests, flush, exit).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from eventing.producer import AckingProducer, BrokerUnavailable
from eventing.topology import KNATIVE_DIR, Topology, load
from sentinel.codec import http
from sentinel.codec.kafka import to_kafka
from sentinel.config import Settings
from sentinel.serving import wsgi_server
from sentinel.serving.body import read_body
from sentinel.serving.failures import answer_for, headers_for

log = logging.getLogger("eventing.ingress")

DEFAULT_DELIVERY_TIMEOUT_S = 5.0


def sink_paths(topology: Topology) -> dict[str, str]:
    """Each KafkaSink's ingress path and the topic it writes to."""
    return {topology.sink_path(sink.name): sink.topic for sink in topology.sinks.values()}


class KafkaSinkIngress:
    """The WSGI application: routes a request to its KafkaSink and answers once the broker acked."""

    def __init__(self, topics_by_path: dict[str, str], producer: AckingProducer, max_body_bytes: int) -> None:
        self._topics_by_path = topics_by_path
        self._producer = producer
        self._max_body_bytes = max_body_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self._max_body_bytes
        try:
            response = self._respond(request)
        except Exception as error:
            status, body = answer_for(error, "the KafkaSink ingress")
            response = _json(status, body)
            response.headers.update(headers_for(error))
            if isinstance(error, BrokerUnavailable):
                log.warning("event not written: %s", error)
        return response(environ, start_response)

    def close(self) -> None:
        unsent = self._producer.close()
        if unsent:
            log.error("%d record(s) were not acknowledged before shutdown", unsent)

    def _respond(self, request: Request) -> Response:
        if request.path == "/healthz":
            healthy = self._producer.reachable()
            return _json(200 if healthy else 503, {"healthy": healthy, "sinks": self._topics_by_path})
        topic = self._topics_by_path.get(request.path.rstrip("/"))
        if topic is None:
            return _json(404, {"error": f"no KafkaSink at {request.path}", "sinks": sorted(self._topics_by_path)})
        if request.method != "POST":
            response = _json(405, {"error": "POST a CloudEvent to a KafkaSink"})
            response.headers["Allow"] = "POST"
            return response
        event = http.read_event(request.headers, read_body(request, self._max_body_bytes))
        self._producer.send(topic, to_kafka(event))
        return Response(status=202)


def _json(status: int, document: dict[str, Any]) -> Response:
    return Response(json.dumps(document), status=status, mimetype="application/json")


def _flush_on_worker_exit(_server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    if isinstance(app, KafkaSinkIngress):
        app.close()


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m eventing.ingress", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--topology", type=Path, default=KNATIVE_DIR, help="the knative/ manifests directory")
    parser.add_argument("--workers", type=int, default=1, help="worker processes, one producer each")
    parser.add_argument("--threads", type=int, default=32, help="request threads per worker")
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

    def make_app() -> KafkaSinkIngress:
        producer = AckingProducer(
            settings.kafka_bootstrap_servers,
            delivery_timeout_s=args.delivery_timeout,
            client_id=f"sentinel-kafka-sink-ingress-{os.getpid()}",
        )
        return KafkaSinkIngress(topics_by_path, producer, settings.max_body_bytes)

    log.info(
        "serving %s on %s:%d (broker %s)",
        ", ".join(sorted(topics_by_path)),
        args.host,
        args.port,
        settings.kafka_bootstrap_servers,
    )
    wsgi_server.serve(
        make_app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        graceful_timeout_s=math.ceil(args.delivery_timeout) + 5,
        log_level=args.log_level,
        worker_exit=_flush_on_worker_exit,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
