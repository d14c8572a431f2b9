"""The local stack's first UI user: `sentinel up` adds `admin` when nobody can log in yet.

Its password is generated like every local credential (sentinel.stack.secrets) and
stays in its file under `<state dir>/secrets/`; only the file's path is ever shown.
"""

from __future__ import annotations

from pathlib import Path

from sentinel.config import Settings
from sentinel.stack.secrets import secret, secrets_dir
from sentinel.stores.users import ADMIN, UserStore

NAME = "admin"
SECRET_NAME = "ui-admin-password"


def ensure(settings: Settings) -> bool:
    """Add `admin` with a generated password when there are no users; True when it was added."""
    users = UserStore.connect(settings.database_url, name="first-admin")
    try:
        if users.any():
            return False
        users.add(NAME, secret(settings.state_dir, SECRET_NAME), ADMIN, by="sentinel up")
        return True
    finally:
        users.close()


def password_file(state_dir: Path) -> Path:
    return secrets_dir(state_dir) / SECRET_NAME
