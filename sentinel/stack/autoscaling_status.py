"""What a function's autoscaler front reports about itself (its /autoscaler document)."""

from __future__ import annotations

from typing import Any

import requests

from sentinel.stack.front import STATUS_PATH


def autoscaler_status(address: str, timeout_s: float = 1.0) -> dict[str, Any] | None:
    """The document; None when the function runs without a front (not autoscaled) or does not answer."""
    try:
        response = requests.get(address + STATUS_PATH, timeout=timeout_s)
    except requests.RequestException:
        return None
    if response.status_code != 200 or not response.headers.get("content-type", "").startswith("application/json"):
        return None
    document = response.json()
    return document if isinstance(document, dict) and "desired" in document else None
