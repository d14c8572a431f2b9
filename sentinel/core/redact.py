"""Connection strings fit to be shown: in logs, `sentinel status` and the UI.

A PostgreSQL or Redis URL may carry a password in its userinfo (the cluster's do), and
a libpq key=value string may carry `password=`. Whatever shows a connection string
passes it through `without_password` first.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# password=value in a libpq key=value string, the value bare or single-quoted (with \' escapes).
_CONNINFO_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")
# password=value in a URL's query string.
_QUERY_PASSWORD = re.compile(r"((?:^|&)password=)[^&]*")


def without_password(connection: str) -> str:
    """`connection` (a URL or a libpq key=value string) with any password in it masked."""
    if "://" not in connection:
        return _CONNINFO_PASSWORD.sub(rf"\g<1>{MASK}", connection)
    parts = urlsplit(connection)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
    query = _QUERY_PASSWORD.sub(rf"\g<1>{MASK}", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))
