"""One function server with two worker processes: /metrics, whichever worker answers, counts every request once.

The server is functions-framework's --asgi (gunicorn with uvicorn workers), as in the
cluster, with WORKERS=2 and PROMETHEUS_MULTIPROC_DIR set; the function needs no
services. Requests go on fresh connections so that both workers take some.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from support import free_port, wait_for

from sentinel.config import METRICS_DIR_VARIABLE, PROJECT_ROOT

FUNCTIONS_FRAMEWORK = Path(sys.executable).parent / "functions-framework"
FUNCTION_SOURCE = """
from sentinel.serving.function import Function, Reply
from sentinel.serving.http_handler import http_handler


class Echo(Function):
    name = "echo"
    accepts = ("t",)

    def handle(self, events, caller=None):
        return Reply.of_document({"seen": len(events)}, 202)


handle = http_handler(lambda settings: Echo())
"""
EVENT_HEADERS = {"ce-specversion": "1.0", "ce-type": "t", "ce-source": "/tests", "ce-id": "e-1"}
MAX_REQUESTS = 400


class Server:
    def __init__(self, url: str, process: subprocess.Popen[bytes], metrics_dir: Path) -> None:
        self.url = url
        self.process = process
        self.metrics_dir = metrics_dir

    def post(self) -> int:
        headers = {**EVENT_HEADERS, "Content-Type": "application/json", "Connection": "close"}
        return requests.post(self.url, data=b'{"a": 1}', headers=headers, timeout=10).status_code

    def counted(self) -> dict[str, float]:
        """What one scrape (on a fresh connection, so by either worker) reports for the echo function."""
        text = requests.get(f"{self.url}/metrics", headers={"Connection": "close"}, timeout=10).text
        found = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.labels.get("function") == "echo" and "le" not in sample.labels:
                    found[sample.name] = found.get(sample.name, 0.0) + sample.value
        return found

    def worker_pids(self) -> set[int]:
        """The processes that kept metrics, but the master (it serves no request)."""
        pids = {int(m.group(1)) for p in self.metrics_dir.iterdir() if (m := re.search(r"_(\d+)\.db$", p.name))}
        return pids - {self.process.pid}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    source = tmp_path / "main.py"
    source.write_text(FUNCTION_SOURCE)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "WORKERS": "2",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        METRICS_DIR_VARIABLE: str(metrics_dir),
    }
    command = [str(FUNCTIONS_FRAMEWORK), "--target", "handle", "--source", str(source), "--asgi"]
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def live() -> bool:
        try:
            return requests.get(f"{url}/health/liveness", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(live, timeout=60, what="the two-worker server")
        yield Server(url, process, metrics_dir)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def requests_until_both_workers_served(server: Server) -> int:
    sent = 0
    while len(server.worker_pids()) < 2 and sent < MAX_REQUESTS:
        assert server.post() == 202
        sent += 1
    assert len(server.worker_pids()) == 2, f"one worker took all {sent} requests"
    return sent


def test_every_scrape_counts_the_requests_of_both_workers(server):
    sent = requests_until_both_workers_served(server)
    for _ in range(2):  # once more, so each worker has answered at least one scrape
        for _ in range(10):
            counted = server.counted()
            assert counted["sentinel_function_requests_total"] == sent
            assert counted["sentinel_function_request_duration_seconds_count"] == sent
            assert counted["sentinel_function_in_flight_requests"] == 0
        sent += 1
        assert server.post() == 202


def test_a_dead_workers_requests_stay_counted_and_leave_nothing_in_flight(server):
    sent = requests_until_both_workers_served(server)
    victim = min(server.worker_pids())
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{victim}").exists(), timeout=10, what=f"worker {victim} to be gone")
    assert server.post() == 202  # the other worker, or the one gunicorn started in its place
    counted = server.counted()
    assert counted["sentinel_function_requests_total"] == sent + 1
    assert counted["sentinel_function_in_flight_requests"] == 0
    assert not list(server.metrics_dir.glob(f"gauge_live*_{victim}.db"))
