"""The Pipeline page shows each autoscaled function's replicas and KPA view, as `sentinel watch` does."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ui_login import FakeAccounts, fake_login

from sentinel.config import Settings
from ui import create_app
from ui.pipeline import Snapshot

NOWHERE = "postgresql://nobody@127.0.0.1:9/nothing"

SCORE_SCALING = {
    "function": "score",
    "ready": 2,
    "starting": 1,
    "desired": 3,
    "in_flight": 7,
    "buffered": 0,
    "stable_concurrency": 4.25,
    "panic_concurrency": 9.5,
    "panic": True,
    "events": [{"at": 1.0, "previous": 1, "desired": 3, "reason": "panic: 6 s average 9.5 in flight"}],
    "cold_starts": [{"at": 1.0, "seconds": 1.234}],
}


class FixedStatus:
    def __init__(self, components: list[dict[str, Any]]):
        self.components = components

    def snapshot(self) -> Snapshot:
        return Snapshot(datetime.now(UTC), components=self.components)


def _page(tmp_path, autoscaling: dict[str, Any] | None) -> str:
    row = {
        "name": "score",
        "kind": "function",
        "healthy": True,
        "stalled": [],
        "reason": None,
        "address": "http://127.0.0.1:1",
        "restarts": 0,
        "autoscaling": autoscaling,
    }
    settings = replace(Settings.from_env(), database_url=NOWHERE, state_dir=tmp_path)
    accounts = FakeAccounts()
    client = fake_login(create_app(settings, status=FixedStatus([row]), accounts=accounts), accounts)
    return client.get("/partials/pipeline").get_data(as_text=True)


def test_an_autoscaled_function_shows_replicas_concurrency_panic_and_its_last_scaling(tmp_path):
    page = _page(tmp_path, SCORE_SCALING)
    assert 'id="autoscaling"' in page
    for shown in ("2 / 3", "1 starting", "4.2", "9.5", "panic", "1.23 s", "1 → 3: panic: 6 s average 9.5 in flight"):
        assert shown in page


def test_without_autoscaling_the_page_has_no_autoscaling_table(tmp_path):
    assert 'id="autoscaling"' not in _page(tmp_path, None)
