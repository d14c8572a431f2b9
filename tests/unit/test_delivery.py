"""A KafkaSource's spec.delivery: ISO 8601 durations, Knative's defaults, backoff arithmetic."""

from __future__ import annotations

import pytest

from eventing.delivery import DeliverySpec, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT0.3S", 0.3), ("PT10S", 10.0), ("PT600S", 600.0), ("PT10M", 600.0), ("PT1H30M", 5400.0), ("P1DT2H", 93600.0)],
)
def test_iso_8601_durations_are_read_as_seconds(text: str, seconds: float):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "P", "PT", "10s", "PT-1S", "1H", "PT1.5"])
def test_text_that_is_not_a_duration_is_refused(text: str):
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration(text)


def test_no_delivery_at_all_means_ten_exponential_retries_from_300ms_with_a_600s_timeout():
    spec = DeliverySpec.from_manifest(None)

    assert (spec.retry, spec.backoff_policy, spec.backoff_delay, spec.timeout) == (10, "exponential", 0.3, 600.0)
    assert spec.dead_letter_sink is None


def test_delivery_without_retry_means_no_retries():
    spec = DeliverySpec.from_manifest({"backoffDelay": "PT1S"})

    assert spec.retry == 0
    assert spec.backoff_delay == 1.0


def test_delivery_fields_are_read_from_the_manifest():
    spec = DeliverySpec.from_manifest(
        {
            "retry": 3,
            "backoffPolicy": "linear",
            "backoffDelay": "PT0.2S",
            "timeout": "PT10S",
            "deadLetterSink": {"ref": {"kind": "KafkaSink", "name": "sentinel-dlq"}},
        }
    )

    assert (spec.retry, spec.backoff_policy, spec.backoff_delay, spec.timeout) == (3, "linear", 0.2, 10.0)
    assert spec.dead_letter_sink == "sentinel-dlq"


def test_an_unknown_backoff_policy_is_refused():
    with pytest.raises(ValueError, match="backoffPolicy"):
        DeliverySpec.from_manifest({"backoffPolicy": "fibonacci"})


def test_linear_backoff_waits_delay_times_the_retry_number():
    spec = DeliverySpec.from_manifest({"retry": 3, "backoffPolicy": "linear", "backoffDelay": "PT0.5S"})

    assert [spec.backoff(n) for n in (1, 2, 3)] == [0.5, 1.0, 1.5]


def test_exponential_backoff_waits_delay_times_two_to_the_retry_number():
    spec = DeliverySpec.from_manifest({"retry": 4, "backoffPolicy": "exponential", "backoffDelay": "PT0.2S"})

    assert [spec.backoff(n) for n in (1, 2, 3, 4)] == pytest.approx([0.4, 0.8, 1.6, 3.2])
