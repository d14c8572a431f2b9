"""The Pipeline page's headline (healthy means making progress, not merely answering), and each function's
request rate and latency percentiles as read from its /metrics."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from support import A_STALLED_PARTITION as STALL
from ui_login import FakeAccounts, fake_login

from sentinel.config import Settings
from ui import create_app
from ui.pipeline import Snapshot

NOWHERE = "postgresql://nobody@127.0.0.1:9/nothing"


def component(name: str, *, healthy: bool = True, stalled: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "eventing",
        "healthy": healthy,
        "stalled": stalled or [],
        "reason": None if healthy else "answered 503",
        "address": "http://127.0.0.1:1",
        "restarts": 0,
    }


@dataclass
class FixedStatus:
    components: list[dict[str, Any]]

    def snapshot(self) -> Snapshot:
        return Snapshot(datetime.now(UTC), components=self.components)


def client_for(*components: dict[str, Any], tmp_path) -> Any:
    settings = replace(Settings.from_env(), database_url=NOWHERE, state_dir=tmp_path)
    accounts = FakeAccounts()
    return fake_login(create_app(settings, status=FixedStatus(list(components)), accounts=accounts), accounts)


@pytest.fixture
def stalled_pipeline(tmp_path):
    return client_for(
        component("score-source"), component("persist-source", healthy=False, stalled=[STALL]), tmp_path=tmp_path
    )


def test_a_stalled_dispatcher_makes_the_headline_degraded_not_all_healthy(stalled_pipeline):
    page = stalled_pipeline.get("/partials/pipeline").get_data(as_text=True)
    assert "degraded" in page and "all healthy" not in page


def test_a_stalled_dispatcher_names_the_event_its_attempts_and_the_last_error(stalled_pipeline):
    page = stalled_pipeline.get("/partials/pipeline").get_data(as_text=True)
    assert "stalled" in page and "txn-poison" in page and "failed 7 times" in page and "HTTP 500" in page


def test_the_pipeline_api_reports_the_state_degraded(stalled_pipeline):
    document = stalled_pipeline.get("/api/pipeline").json
    assert (document["state"], document["healthy"]) == ("degraded", False)


def test_a_component_that_does_not_answer_is_down_before_degraded(tmp_path):
    client = client_for(
        component("broker", healthy=False),
        component("persist-source", healthy=False, stalled=[STALL]),
        tmp_path=tmp_path,
    )
    assert "1 down" in client.get("/partials/pipeline").get_data(as_text=True)
    assert client.get("/api/pipeline").json["state"] == "down"


def test_a_pipeline_making_progress_is_all_healthy(tmp_path):
    client = client_for(component("score-source"), component("persist-source"), tmp_path=tmp_path)
    assert "all healthy" in client.get("/partials/pipeline").get_data(as_text=True)
    assert client.get("/api/pipeline").json["state"] == "healthy"


def a_function(name: str, requests: dict | None) -> dict:
    return {**component(name), "kind": "function", "requests": requests}


def row_of(page: str, name: str) -> str:
    start = page.index(f'data-component="{name}"')
    return page[start : page.index("</tr>", start)]


def test_a_functions_row_shows_its_rate_and_percentiles(tmp_path):
    requests = {"window_s": 5.0, "rate_per_s": 41.2, "errors_per_s": 0.0, "p50_ms": 3.42, "p99_ms": 18.0}
    page = client_for(a_function("score", requests), tmp_path=tmp_path).get("/partials/pipeline").get_data(True)
    row = row_of(page, "score")
    assert "41.2/s" in row and "p50 3.4 ms" in row and "p99 18.0 ms" in row
    assert "errors/s" not in row


def test_errors_a_second_are_shown_when_there_are_any(tmp_path):
    requests = {"window_s": 5.0, "rate_per_s": 10.0, "errors_per_s": 2.5, "p50_ms": 1.0, "p99_ms": 2.0}
    page = client_for(a_function("persist", requests), tmp_path=tmp_path).get("/partials/pipeline").get_data(True)
    assert "2.5 errors/s" in row_of(page, "persist")


def test_before_a_second_reading_a_function_says_it_is_measuring(tmp_path):
    page = client_for(a_function("alert", None), tmp_path=tmp_path).get("/partials/pipeline").get_data(True)
    assert "measuring" in row_of(page, "alert")


def test_the_pipeline_api_carries_the_requests(tmp_path):
    requests = {"window_s": 5.0, "rate_per_s": 1.0, "errors_per_s": 0.0, "p50_ms": None, "p99_ms": None}
    document = client_for(a_function("ingest", requests), tmp_path=tmp_path).get("/api/pipeline").json
    assert document["components"][0]["requests"] == requests
