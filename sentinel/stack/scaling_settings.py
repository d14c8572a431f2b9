"""A function's KPA settings: Knative's defaults, its Service's autoscaling annotations,
and the local stack's shorter windows when the environment asks for them (for a demo
that scales down in seconds rather than minutes)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from sentinel.stack.kpa import KpaSettings

PREFIX = "autoscaling.knative.dev/"
STABLE_WINDOW_ENV = "SENTINEL_AUTOSCALE_STABLE_WINDOW_S"
TO_ZERO_GRACE_ENV = "SENTINEL_AUTOSCALE_TO_ZERO_GRACE_S"
PANIC_SHARE = 0.1  # Knative's panic-window-percentage: the panic window is 10 % of the stable one

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def duration_s(text: str) -> float:
    """A Go duration as Knative's annotations write them ("90s", "1m30s", "0s") in seconds."""
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text.strip():
        raise ValueError(f"not a duration: {text!r} (write it as 90s, 1m30s, ...)")
    return sum(float(number) * _UNIT_S[unit] for number, unit in parts)


def kpa_settings(annotations: Mapping[str, str], environ: Mapping[str, str]) -> KpaSettings:
    settings = KpaSettings()
    values = {key.removeprefix(PREFIX): value for key, value in annotations.items() if key.startswith(PREFIX)}
    if "target" in values:
        settings = replace(settings, target=float(values["target"]))
    if "target-utilization-percentage" in values:
        settings = replace(settings, utilisation=float(values["target-utilization-percentage"]) / 100)
    if "min-scale" in values:
        settings = replace(settings, min_scale=int(values["min-scale"]))
    if int(values.get("max-scale", "0")) > 0:
        settings = replace(settings, max_scale=int(values["max-scale"]))
    if "scale-down-delay" in values:
        settings = replace(settings, scale_down_delay_s=round(duration_s(values["scale-down-delay"])))
    if "scale-to-zero-pod-retention-period" in values:
        retention = round(duration_s(values["scale-to-zero-pod-retention-period"]))
        settings = replace(settings, to_zero_retention_s=retention)
    window = environ.get(STABLE_WINDOW_ENV) or (str(duration_s(values["window"])) if "window" in values else None)
    if window:
        stable = max(1, round(float(window)))
        settings = replace(settings, stable_window_s=stable, panic_window_s=max(1, round(stable * PANIC_SHARE)))
    if environ.get(TO_ZERO_GRACE_ENV):
        settings = replace(settings, to_zero_grace_s=round(float(environ[TO_ZERO_GRACE_ENV])))
    return settings
