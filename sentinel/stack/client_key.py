"""The local user's own API key, made by `sentinel up` so the demo client can call ingest.

Kept in `<state dir>/secrets/demo-api-key` (mode 0600), shown nowhere. `up` makes sure
the key in the file is live (the database may have been reset since), registering
it again when it is not, and replacing it once it has been revoked: to rotate it,
`sentinel keys revoke demo`, then `sentinel up`.
"""

from __future__ import annotations

from pathlib import Path

from sentinel.core.api_keys import SCOPES, new_key
from sentinel.core.errors import ClientError
from sentinel.stack.secrets import secrets_dir, write_secret
from sentinel.stores.api_keys import ApiKeyStore

NAME = "demo"
REGISTERED_BY = "sentinel up"
FILE_NAME = "demo-api-key"


def key_file(state_dir: Path) -> Path:
    return secrets_dir(state_dir) / FILE_NAME


def read(state_dir: Path) -> str | None:
    """The local user's key, or None before the first `sentinel up`."""
    try:
        return (state_dir / "secrets" / FILE_NAME).read_text().strip() or None
    except FileNotFoundError:
        return None


def ensure(state_dir: Path, database_url: str) -> bool:
    """Make sure the key file holds a live key with every scope; True when it was registered now."""
    store = ApiKeyStore.connect(database_url, name="stack-keys")
    try:
        key = read(state_dir)
        if key is not None:
            try:
                return store.ensure(NAME, key, SCOPES, by=REGISTERED_BY)
            except ClientError:  # revoked: replaced below
                pass
        key = new_key()
        write_secret(key_file(state_dir), key)
        return store.ensure(NAME, key, SCOPES, by=REGISTERED_BY)
    finally:
        store.close()
