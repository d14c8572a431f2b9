"""A KafkaSource's `spec.delivery`, with Knative's defaults and backoff arithmetic."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_DURATION = re.compile(
    r"P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(text: str) -> float:
    """Seconds in an ISO 8601 duration such as PT0.3S, PT10M or P1DT2H."""
    match = _DURATION.fullmatch(text.strip())
    if not match or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    return (
        parts.get("days", 0) * 86400
        + parts.get("hours", 0) * 3600
        + parts.get("minutes", 0) * 60
        + parts.get("seconds", 0)
    )


@dataclass(frozen=True)
class DeliverySpec:
    """How a dispatcher retries a delivery, and where it sends what never succeeds."""

    retry: int
    backoff_policy: str
    backoff_delay: float
    timeout: float
    dead_letter_sink: str | None  # the KafkaSink's name

    @classmethod
    def from_manifest(cls, delivery: dict[str, Any] | None) -> DeliverySpec:
        """Knative's rules: no `delivery` at all means 10 exponential retries from 0.3 s
        with a 600 s timeout; a `delivery` without `retry` means no retries."""
        if delivery is None:
            return cls(retry=10, backoff_policy="exponential", backoff_delay=0.3, timeout=600.0, dead_letter_sink=None)
        policy = delivery.get("backoffPolicy", "exponential")
        if policy not in ("linear", "exponential"):
            raise ValueError(f"backoffPolicy must be linear or exponential, not {policy!r}")
        dead_letter = (delivery.get("deadLetterSink") or {}).get("ref", {}).get("name")
        return cls(
            retry=int(delivery.get("retry", 0)),
            backoff_policy=policy,
            backoff_delay=parse_duration(delivery.get("backoffDelay", "PT0.3S")),
            timeout=parse_duration(delivery.get("timeout", "PT600S")),
            dead_letter_sink=dead_letter,
        )

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based).

        The arithmetic of eventing-kafka-broker's dispatcher: linear waits delay×n,
        exponential delay×2^n, so the first exponential retry already waits twice the delay.
        """
        if self.backoff_policy == "linear":
            return self.backoff_delay * attempt
        return self.backoff_delay * 2**attempt
