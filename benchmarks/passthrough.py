"""The four functions reduced to passing their event on: what the pipeline costs with no work in it.

The end-to-end benchmark's `plumbing` design runs the stack with these in place of
ingest, score, persist and alert. They are served exactly as the functions are
(`sentinel.serving.http_handler` under functions-framework's ASGI mode) and keep the
flow's hops: ingest emits each transaction to K_SINK as `transaction.received`, score
emits it on as `transaction.scored`, persist and alert answer 200. What they leave
out is every piece of domain work: no validation, no API keys, no signatures, no
de-duplication, no model, no Redis and no PostgreSQL. So their run measures the
floor the design sets on this machine: the HTTP hops, the KafkaSink ingress, the
dispatchers and the broker.

    functions-framework --target ingest --source benchmarks/passthrough.py --asgi
"""

from __future__ import annotations

from collections.abc import Sequence

from sentinel.codec.event import Event, json_event
from sentinel.config import Settings
from sentinel.core import events
from sentinel.core.api_keys import Caller
from sentinel.serving.function import Function, Reply
from sentinel.serving.http_handler import http_handler
from sentinel.serving.sink import SinkClient

SOURCE = __file__


class PassOn(Function):
    """Takes events of `accepts` and emits each, data unchanged, as an `emits` event to K_SINK."""

    def __init__(self, sink: SinkClient, emits: str) -> None:
        self._sink = sink
        self._emits = emits

    def stop(self) -> None:
        self._sink.close()

    def handle(self, received: Sequence[Event], caller: Caller | None = None) -> Reply:
        for event in received:
            data = self.data_of(event)
            attributes = {
                "type": self._emits,
                "source": f"/benchmarks/passthrough/{self.name}",
                "id": event.id,
                "subject": event.id,
                "partitionkey": data["user_id"],
            }
            self._sink.emit(json_event(attributes, data))
        return Reply.of_document({"passed_on": len(received)})


class PassOnIngest(PassOn):
    name = "ingest"
    accepts = (events.TRANSACTION_CREATED,)


class PassOnScore(PassOn):
    name = "score"
    accepts = (events.TRANSACTION_RECEIVED,)


class Acknowledge(Function):
    """Takes scored events and does nothing with them."""

    accepts = (events.TRANSACTION_SCORED,)

    def handle(self, received: Sequence[Event], caller: Caller | None = None) -> Reply:
        for event in received:
            self.data_of(event)
        return Reply.of_document({})


class AcknowledgePersist(Acknowledge):
    name = "persist"


class AcknowledgeAlert(Acknowledge):
    name = "alert"


def _sink(settings: Settings) -> SinkClient:
    if not settings.k_sink:
        raise ValueError("K_SINK is not set: the pass-through ingest and score emit to it")
    return SinkClient(settings.k_sink)


ingest = http_handler(lambda settings: PassOnIngest(_sink(settings), events.TRANSACTION_RECEIVED))
score = http_handler(lambda settings: PassOnScore(_sink(settings), events.TRANSACTION_SCORED))
persist = http_handler(lambda settings: AcknowledgePersist())
alert = http_handler(lambda settings: AcknowledgeAlert())
