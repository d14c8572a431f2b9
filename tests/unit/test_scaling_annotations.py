"""A function's KPA settings come from Knative's defaults, its Service's annotations, and the
local stack's shorter windows when asked."""

import pytest

from eventing import topology
from sentinel.stack.scaling_settings import duration_s, kpa_settings


def test_without_annotations_the_settings_are_knatives_defaults():
    settings = kpa_settings({}, {})
    assert (settings.stable_window_s, settings.panic_window_s, settings.panic_threshold) == (60, 6, 2.0)
    assert (settings.to_zero_grace_s, settings.target, settings.utilisation) == (30, 100.0, 0.7)
    assert (settings.min_scale, settings.max_scale, settings.scale_down_delay_s) == (0, None, 0)


def test_each_services_annotations_set_its_target_and_scale_bounds():
    score = topology.load().functions["score"]
    settings = kpa_settings(dict(score.annotations), {})
    assert (settings.target, settings.min_scale, settings.max_scale) == (3.0, 0, 6)


def test_delay_retention_and_window_annotations_are_go_durations():
    settings = kpa_settings(
        {
            "autoscaling.knative.dev/scale-down-delay": "1m30s",
            "autoscaling.knative.dev/scale-to-zero-pod-retention-period": "45s",
            "autoscaling.knative.dev/window": "20s",
        },
        {},
    )
    assert (settings.scale_down_delay_s, settings.to_zero_retention_s) == (90, 45)
    assert (settings.stable_window_s, settings.panic_window_s) == (20, 2)


def test_the_environment_shortens_the_windows_for_a_local_demo():
    settings = kpa_settings({}, {"SENTINEL_AUTOSCALE_STABLE_WINDOW_S": "10", "SENTINEL_AUTOSCALE_TO_ZERO_GRACE_S": "5"})
    assert (settings.stable_window_s, settings.panic_window_s, settings.to_zero_grace_s) == (10, 1, 5)


def test_a_malformed_duration_is_refused():
    with pytest.raises(ValueError, match="not a duration"):
        duration_s("ten seconds")
