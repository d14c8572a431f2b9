"""Credentials the local stack generates for itself, kept under `<state dir>/secrets/`.

Each is made once, on first use, from the operating system's random source, and
written readable by the owner alone (directory 0700, files 0600). Nothing here is
ever logged or printed; components get what they need in their environment.
"""

from __future__ import annotations

import os
import secrets as random_source
from pathlib import Path

from sentinel.config import local_secrets_dir

TOKEN_BYTES = 32


def secrets_dir(state_dir: Path) -> Path:
    directory = local_secrets_dir(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    return directory


def secret(state_dir: Path, name: str) -> str:
    """The secret called `name`, generated the first time it is asked for."""
    path = secrets_dir(state_dir) / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = random_source.token_urlsafe(TOKEN_BYTES)
    write_secret(path, value)
    return value


def write_secret(path: Path, value: str) -> None:
    """Write `value` to `path` readable by the owner alone, created that way (never briefly wider)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(value + "\n")
    path.chmod(0o600)
