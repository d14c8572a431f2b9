"""The `sentinel` command as a user runs it."""

from __future__ import annotations

import json
import re
import socket
import subprocess

import psycopg
import pytest
import requests
from support import SENTINEL, wait_for

from sentinel.stack.secrets import secret
from training import prefect_service


@pytest.mark.stack
def test_send_streams_transactions_and_reports_what_happened(stack):
    result = stack.sentinel("send", "--count", "40", "--rate", "80", "--seed", "5", "--duplicate-share", "0.1")
    assert result.returncode == 0, result.stderr
    counts = re.search(r"sent (\d+) .*: (\d+) accepted, (\d+) duplicate, (\d+) failed", result.stdout)
    assert counts, result.stdout
    sent, accepted, duplicates, failed = map(int, counts.groups())
    assert (sent, failed) == (40, 0)
    assert duplicates >= 4 and accepted + duplicates == 40

    def stored() -> int:
        with psycopg.connect(stack.settings.database_url) as conn:
            return conn.execute("SELECT count(*) FROM transactions WHERE transaction_id LIKE 'demo-5-%'").fetchone()[0]

    assert wait_for(lambda: stored() == accepted, what="every accepted demo transaction stored")


@pytest.mark.stack
def test_decisions_lists_the_latest_stored_decisions(stack):
    stack.sentinel("send", "--count", "5", "--rate", "50", "--seed", "6")
    result = stack.sentinel("decisions", "--limit", "3")
    assert result.returncode == 0
    assert len(re.findall(r"demo-|t-", result.stdout)) >= 3


def test_up_names_a_port_that_is_already_taken(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {"SENTINEL_STATE_DIR": str(tmp_path), "SENTINEL_PORT_BROKER": str(port), "PATH": "/usr/bin:/bin"}
        result = subprocess.run([SENTINEL, "up"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"port {port} for broker is in use" in result.stdout
    assert "SENTINEL_PORT_BROKER" in result.stdout


@pytest.mark.stack
def test_up_with_prefect_adds_a_prefect_server_serving_the_flows_and_down_stops_it(stack):
    started = stack.sentinel("up", "--with-prefect", timeout=400)
    assert started.returncode == 0, started.stdout + started.stderr
    statuses = {item["name"]: item for item in json.loads(stack.sentinel("status", "--json").stdout)}
    assert statuses["prefect"]["healthy"] and statuses["prefect-serve"]["healthy"]
    password = secret(stack.settings.state_dir, prefect_service.PASSWORD_SECRET)
    user, _, password = prefect_service.auth_string(password).partition(":")
    deployments = requests.post(
        statuses["prefect"]["address"] + "/api/deployments/filter", json={}, auth=(user, password), timeout=30
    )
    assert {item["name"] for item in deployments.json()} >= {"scheduled", "on-demand"}
    assert stack.sentinel("down", "prefect", "prefect-serve", timeout=120).returncode == 0
    names = {item["name"] for item in json.loads(stack.sentinel("status", "--json").stdout)}
    assert "prefect" not in names and "prefect-serve" not in names
