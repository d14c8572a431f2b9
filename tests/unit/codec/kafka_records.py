"""A consumed Kafka record at the codec's boundary, for the Kafka binding's tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeRecord:
    """The parts of a consumed Kafka record the codec reads."""

    value_: bytes | None
    headers_: list[tuple[str, bytes | None]] = field(default_factory=list)
    key_: bytes | None = None
    timestamp_: tuple[int, int] = (1, 1767225600123)

    def topic(self) -> str:
        return "orders"

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return 7

    def key(self) -> bytes | None:
        return self.key_

    def value(self) -> bytes | None:
        return self.value_

    def headers(self) -> list[tuple[str, bytes | None]]:
        return self.headers_

    def timestamp(self) -> tuple[int, int]:
        return self.timestamp_
