"""No-op handlers: the baseline every function is measured against, on each server measured."""

from pathlib import Path

SOURCE = Path(__file__).parent / "main.py"
THREADED_SOURCE = Path(__file__).parent / "threaded.py"
