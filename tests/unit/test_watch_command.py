"""`sentinel watch`: a row per function from its front's status, and a line per scaling event, each once."""

from __future__ import annotations

import importlib

from rich.console import Console

from sentinel.config import Settings
from sentinel.stack.local import LocalStack

watch_module = importlib.import_module("sentinel.cli.watch")  # the package exports the command under the same name

SCORE = {
    "ready": 2,
    "desired": 3,
    "starting": 1,
    "in_flight": 7,
    "buffered": 0,
    "stable_concurrency": 4.0,
    "panic_concurrency": 9.5,
    "panic": True,
    "events": [{"at": 1_800_000_000.0, "previous": 1, "desired": 3, "reason": "panic: 6 s average 9.5 in flight"}],
    "cold_starts": [{"at": 1_800_000_000.0, "seconds": 0.61}],
}


def _text(view: watch_module.Watch) -> str:
    console = Console(record=True, width=160)
    console.print(view.render())
    return console.export_text()


def test_each_function_shows_replicas_concurrency_panic_and_its_scaling_events_once(monkeypatch, tmp_path):
    monkeypatch.setenv("SENTINEL_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(watch_module, "autoscaler_status", lambda address: SCORE if address.endswith("82") else None)
    view = watch_module.Watch(LocalStack(Settings.from_env()))
    view.refresh()
    view.refresh()
    text = _text(view)
    score_row = next(line for line in text.splitlines() if line.strip().startswith("score"))
    assert score_row.split()[1:] == ["2/3", "1", "7", "0", "4.0", "9.5", "PANIC", "0.61", "s"]
    assert text.count("1 → 3  panic: 6 s average 9.5 in flight") == 1
    assert "not autoscaled" in text
