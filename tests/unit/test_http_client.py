"""The keep-alive client functions and dispatchers POST with: reuse, stale connections, failures."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sentinel.serving.http_client import KeepAliveClient, PostFailed


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *, close_after_each: bool = False, delay: float = 0.0):
        self.connections = 0
        self.bodies: list[bytes] = []
        self.close_after_each = close_after_each
        self.delay = delay
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def get_request(self):
        self.connections += 1
        return super().get_request()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/ns/sink"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.server.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(self.server.delay)
        status = 202 if self.path == "/ns/sink" else 404
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.send_header("kne-reason", "testing")
        if self.server.close_after_each:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    running = _Server()
    yield running
    running.shutdown()


def test_posts_reuse_one_connection(server):
    client = KeepAliveClient(server.url, timeout=5)
    replies = [client.post(f"event {i}".encode(), {"ce-id": str(i)}) for i in range(5)]
    assert [reply.status for reply in replies] == [202] * 5
    assert server.bodies == [f"event {i}".encode() for i in range(5)]
    assert server.connections == 1


def test_a_failed_status_carries_its_body_and_headers(server):
    reply = KeepAliveClient(server.url.replace("/ns/sink", "/elsewhere"), timeout=5).post(b"x", {})
    assert (reply.status, reply.body, reply.headers["kne-reason"]) == (404, b"ok", "testing")


def test_a_connection_the_server_closed_is_replaced():
    server = _Server(close_after_each=True)
    client = KeepAliveClient(server.url, timeout=5)
    assert [client.post(b"x", {}).status for _ in range(3)] == [202] * 3
    assert server.connections == 3
    server.shutdown()


def test_an_idle_connection_closed_by_the_server_is_not_reused(server):
    client = KeepAliveClient(server.url, timeout=5)
    client.post(b"first", {})
    for connection in client._idle:  # what a server's keep-alive timeout does
        connection.sock.shutdown(socket.SHUT_RDWR)
    assert client.post(b"second", {}).status == 202
    assert server.bodies == [b"first", b"second"]


def test_nothing_listening_is_a_failure_without_timeout():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PostFailed) as failure:
        KeepAliveClient(f"http://127.0.0.1:{port}/", timeout=2).post(b"x", {})
    assert not failure.value.timed_out


def test_a_slow_server_is_a_timeout():
    server = _Server(delay=1.0)
    with pytest.raises(PostFailed) as failure:
        KeepAliveClient(server.url, timeout=0.2).post(b"x", {})
    assert failure.value.timed_out
    server.shutdown()
