"""Property-based tests of everything Sentinel reads, with Hypothesis.

Profiles (HYPOTHESIS_PROFILE picks one; `ci` when unset):
- `ci`: derandomized and bounded, so every run tries the same few hundred examples
  per property in a few seconds, and nothing is written to a Hypothesis database;
- `fuzz`: random and long, for hunting locally
  (`HYPOTHESIS_PROFILE=fuzz .venv/bin/python -m pytest tests/fuzz -p no:cacheprovider`).
A failure either profile finds goes into tests/fuzz/corpus/, replayed on every run.
"""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The in-memory stand-ins the function tests use (tests/unit/each_function/fakes.py).
sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "each_function"))

from in_memory import served_functions  # noqa: E402 (needs the path above)

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=200,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("fuzz", max_examples=20_000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="module")
def served():
    """Ingest, score, persist and alert in memory, by name."""
    functions = served_functions()
    yield functions
    for function in functions.values():
        function.stop()
