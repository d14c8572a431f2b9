"""POSTing a JSON document to an operator's webhook (ALERT_WEBHOOK_URL), signed.

Every POST carries `Sentinel-Signature: t=<unix>,v1=<hex>` (sentinel.core.webhook_signature)
made with the deployment's webhook secret, so the receiver can tell Sentinel's alerts
from anyone else's and refuse old ones replayed. The URL must be https unless plain
http is allowed explicitly (SENTINEL_WEBHOOK_ALLOW_HTTP=1, for a receiver on the same
host). A redirect is never followed: the client sends the one request it was given,
and a 3xx, like any answer but 2xx, means not delivered, so the event is retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson

from sentinel.core import webhook_signature
from sentinel.core.errors import Unavailable
from sentinel.serving import tracing
from sentinel.serving.http_client import KeepAliveClient, PostFailed

TIMEOUT_S = 5.0


def configuration_problem(url: str, secret: str | None, *, allow_http: bool) -> str | None:
    """Why alerts cannot be posted to `url`, or None when they can."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("https", "http") or (scheme == "http" and not allow_http):
        return "ALERT_WEBHOOK_URL must be an https URL (set SENTINEL_WEBHOOK_ALLOW_HTTP=1 to allow plain http)"
    if not secret:
        return "SENTINEL_WEBHOOK_SECRET is not set: alerts cannot be signed for the webhook"
    return None


class Webhook:
    def __init__(
        self, url: str, secret: str | None, *, allow_http: bool = False, clock: Callable[[], float] = time.time
    ) -> None:
        """Raises ValueError, naming the setting to fix, when `url` and `secret` cannot be used."""
        problem = configuration_problem(url, secret, allow_http=allow_http)
        if problem or not secret:
            raise ValueError(problem)
        self.url = url
        self._secret = secret
        self._clock = clock
        self._client = KeepAliveClient(url, timeout=TIMEOUT_S, max_idle=4)

    def post(self, document: Any) -> None:
        """Deliver `document`; Unavailable unless the webhook answers 2xx, so the event is retried."""
        body = orjson.dumps(document)
        signature = webhook_signature.header_value(self._secret, body, int(self._clock()))
        headers = {"Content-Type": "application/json", webhook_signature.HEADER: signature, **tracing.headers()}
        try:
            reply = self._client.post(body, headers)
        except PostFailed as error:
            raise Unavailable(f"the alert webhook is unreachable: {error}") from None
        if not 200 <= reply.status < 300:
            raise Unavailable(f"the alert webhook answered {reply.status}")

    def close(self) -> None:
        self._client.close()
