"""The key that signs the UI's session cookie and CSRF tokens.

Every worker process and every restart must use the same key, or an open page's
forms stop working. It comes from SENTINEL_UI_SECRET_KEY when set (the cluster
mounts it from a Secret); otherwise it is generated once and kept in the stack's
state directory, readable by its owner only.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ENV_VARIABLE = "SENTINEL_UI_SECRET_KEY"


def secret_key(state_dir: Path) -> str:
    configured = os.environ.get(ENV_VARIABLE, "").strip()
    if configured:
        return configured
    path = state_dir / "ui" / "secret_key"
    if not path.exists():
        _create(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def _create(path: Path, key: str) -> None:
    """Write the key whole, then link it into place: a racing process sees the whole key or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key)
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process won the race; its key is the one
    finally:
        draft.unlink()
