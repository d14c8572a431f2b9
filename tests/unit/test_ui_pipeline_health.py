"""The Pipeline page's headline: healthy means making progress, not merely answering."""

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
