"""The local Redis (or Valkey) server's configuration: a password, and a memory limit it never evicts under.

The configuration file holds the password, so it is written beside the other secrets,
readable by the owner alone, and the server reads it from there: the password is on no
command line. Clients read the same password from its own file (sentinel.stores.redis_client).

At `maxmemory` the server refuses writes (noeviction) instead of evicting keys: evicting
would silently drop ingest's de-duplication claims, letting a replay through; a refused
write is an OOM error, which the functions answer with 503 (sentinel.stores.failures).
"""

from __future__ import annotations

from pathlib import Path

from sentinel.config import local_secrets_dir, redis_password_file
from sentinel.stack.secrets import secret, write_secret

EVICTION_POLICY = "noeviction"


def password(state_dir: Path) -> str:
    return secret(state_dir, redis_password_file(state_dir).name)


def config_path(state_dir: Path) -> Path:
    return local_secrets_dir(state_dir) / "redis.conf"


def write_config(state_dir: Path, data_dir: Path, port: int, maxmemory: str) -> Path:
    """The server's configuration file, written afresh (so a rotated password takes effect at the next start)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "port": str(port),
        "bind": "127.0.0.1",
        "dir": _quoted(str(data_dir)),
        "appendonly": "yes",
        "appendfsync": "everysec",
        "save": '""',
        "requirepass": _quoted(password(state_dir)),
        "maxmemory": maxmemory,
        "maxmemory-policy": EVICTION_POLICY,
    }
    path = config_path(state_dir)
    write_secret(path, "\n".join(f"{name} {value}" for name, value in settings.items()))
    return path


def command(server: Path, config: Path) -> list[str]:
    return [str(server), str(config)]


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
