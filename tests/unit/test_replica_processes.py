"""Replica processes: started with a port of their own, ready once their probe answers, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from support import run_async

from sentinel.stack.replica_processes import ReplicaFailed, ReplicaProcesses

SERVER = """
import http.server, os
class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ready" else 404)
        self.send_header("content-length", "0")
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Ready).serve_forever()
"""


def test_a_replica_is_ready_on_its_own_port_and_gone_after_stop():
    async def main() -> None:
        replicas = ReplicaProcesses([sys.executable, "-c", SERVER], dict(os.environ), "/ready", start_timeout_s=20)
        first, second = await asyncio.gather(replicas.start(), replicas.start())
        assert first.port != second.port
        assert not replicas.exited(first)
        await replicas.stop(first)
        await replicas.stop(second)
        assert replicas.exited(first) and replicas.exited(second)

    run_async(main())


def test_a_replica_that_exits_before_it_is_ready_is_a_failed_start():
    async def main() -> None:
        replicas = ReplicaProcesses([sys.executable, "-c", "raise SystemExit(3)"], {}, "/ready", start_timeout_s=20)
        with pytest.raises(ReplicaFailed, match="exited with 3"):
            await replicas.start()

    run_async(main())
