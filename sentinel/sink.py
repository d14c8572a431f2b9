"""Emitting CloudEvents to K_SINK, the address a SinkBinding injects.

In the cluster K_SINK is a KafkaSink; locally it is the KafkaSink-style
ingress. Either answers 202 once the record is in Kafka, so a successful
`emit` means the event is durable.
"""

from __future__ import annotations

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from requests.adapters import HTTPAdapter

from sentinel.errors import Unavailable


class SinkClient:
    def __init__(self, url: str, *, timeout: float = 10.0, pool_size: int = 16):
        self.url = url
        self._timeout = timeout
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def emit(self, event: CloudEvent) -> None:
        headers, body = to_binary(event)
        response = self._session.post(self.url, data=body, headers=headers, timeout=self._timeout)
        if not 200 <= response.status_code < 300:
            raise Unavailable(
                f"the event sink answered {response.status_code} for event {event['id']}: {response.text[:200]}"
            )

    def close(self) -> None:
        self._session.close()
