"""POSTing a JSON document to an operator's webhook (ALERT_WEBHOOK_URL)."""

from __future__ import annotations

from typing import Any

import orjson

from sentinel.core.errors import Unavailable
from sentinel.serving.http_client import KeepAliveClient, PostFailed

TIMEOUT_S = 5.0


class Webhook:
    def __init__(self, url: str) -> None:
        self.url = url
        self._client = KeepAliveClient(url, timeout=TIMEOUT_S, max_idle=4)

    def post(self, document: Any) -> None:
        """Deliver `document`; Unavailable unless the webhook answers 2xx, so the event is retried."""
        try:
            reply = self._client.post(orjson.dumps(document), {"Content-Type": "application/json"})
        except PostFailed as error:
            raise Unavailable(f"the alert webhook is unreachable: {error}") from None
        if not 200 <= reply.status < 300:
            raise Unavailable(f"the alert webhook answered {reply.status}")

    def close(self) -> None:
        self._client.close()
