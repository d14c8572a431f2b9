"""The code passes the project's linter and formatter (settings in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

from sentinel.config import PROJECT_ROOT

RUFF = str(Path(sys.executable).parent / "ruff")


def test_ruff_finds_nothing_to_fix():
    result = subprocess.run(
        [RUFF, "check", "--output-format", "concise", "."], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_the_code_is_formatted():
    result = subprocess.run([RUFF, "format", "--check", "."], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
