"""Redis clients for the functions: one place for how they connect.

A URL may name a password file instead of carrying the password
(`redis://host:port/0?password_file=/path`, as the local stack's do), so the URL
itself is safe to show; the file is read at each new connection, so a rotated
password is picked up without a restart.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.credentials import CredentialProvider

TIMEOUT_S = 3
PASSWORD_FILE = "password_file"


class PasswordFile(CredentialProvider):
    """The password kept in a file, read when a connection logs in."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get_credentials(self) -> tuple[str]:
        return (self.path.read_text().strip(),)


def connect(redis_url: str, *, timeout: float = TIMEOUT_S) -> redis.Redis:
    """A client that gives up on a connect or a command after `timeout` seconds (the caller answers 503)."""
    url, password_file = split_password_file(redis_url)
    options: dict[str, object] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if password_file is not None:
        options["credential_provider"] = PasswordFile(password_file)
    return redis.Redis.from_url(url, **options)


def split_password_file(redis_url: str) -> tuple[str, Path | None]:
    """The URL without its `password_file` parameter, and that file (None without one)."""
    parts = urlsplit(redis_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    files = [value for name, value in query if name == PASSWORD_FILE]
    if not files:
        return redis_url, None
    rest = urlencode([(name, value) for name, value in query if name != PASSWORD_FILE])
    return urlunsplit(parts._replace(query=rest)), Path(files[-1])
