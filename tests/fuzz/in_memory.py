"""The four functions as the fuzz tests call them: built with the in-memory stand-ins of
tests/unit/each_function/fakes.py, behind their HTTP adapter (support.InProcess)."""

import orjson
from fakes import (
    NOW,
    RECEIVED_KEYS,
    SCORED_KEYS,
    MemoryAlerts,
    MemoryClaims,
    MemoryDecisions,
    MemoryHistories,
    MemoryModels,
    MemorySink,
    MemoryStream,
    scored_events,
)
from support import InProcess, KnownKeys

from functions.alert.main import Alert
from functions.ingest.main import Ingest
from functions.persist.main import Persist
from functions.score.main import Score
from sentinel.config import Settings
from sentinel.core.api_keys import SCOPES
from sentinel.serving.callers import Callers

BUILDERS = {
    "ingest": lambda: Ingest(MemoryClaims(), MemorySink(), keys=RECEIVED_KEYS, clock=lambda: NOW),
    "score": lambda: Score(
        MemoryModels(),
        MemorySink(),
        MemoryHistories(),
        received_keys=RECEIVED_KEYS,
        scored_keys=SCORED_KEYS,
        clock=lambda: NOW,
    ),
    "persist": lambda: Persist(MemoryDecisions(), scored_events()),
    "alert": lambda: Alert(MemoryAlerts(), MemoryStream(), scored_events()),
}


FUZZ_KEY = "sentinel_fuzz-key"  # held by the fuzzing client, with every scope


def served_functions() -> dict[str, InProcess]:
    callers = Callers(KnownKeys({FUZZ_KEY: SCOPES}))
    return {
        name: InProcess(lambda _settings, build=build: build(), Settings.from_env(), api_key=FUZZ_KEY, callers=callers)
        for name, build in BUILDERS.items()
    }


def answer(function: InProcess, path: str = "/", **request) -> tuple[int, object]:
    """The status and JSON body of a POST; a 5xx, or a 4xx without a JSON error, fails the test."""
    response = function.request(path, **request)
    assert response.status_code < 500, response.text
    body = orjson.loads(response.content) if response.headers.get("content-type") == "application/json" else None
    if response.status_code >= 400:
        assert body["error"] and "Traceback" not in body["error"]
    return response.status_code, body
