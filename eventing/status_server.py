"""A tiny HTTP server for a process's GET /healthz: 200 with the status when healthy, else 503;
and its GET /metrics for Prometheus, when it has metrics."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

Status = Callable[[], dict[str, Any]]  # a JSON document with at least {"healthy": bool}
Metrics = Callable[[], tuple[bytes, str]]  # the metrics in the Prometheus text format, and its content type


def serve_status(status: Status, host: str, port: int, metrics: Metrics | None = None) -> ThreadingHTTPServer:
    """Serve GET /healthz (and GET /metrics) from a background thread; stop it with .shutdown()."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if metrics is not None and self.path.split("?")[0] == "/metrics":
                self._send(200, *metrics())
                return
            if self.path.split("?")[0] != "/healthz":
                self._reply(404, {"error": f"no such path {self.path}; try /healthz"})
                return
            document = status()
            self._reply(200 if document["healthy"] else 503, document)

        def _reply(self, code: int, document: dict[str, Any]) -> None:
            self._send(code, json.dumps(document).encode(), "application/json")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("status: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="status-server", daemon=True).start()
    return server
