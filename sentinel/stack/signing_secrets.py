"""The local stack's event signing keys and webhook secret (sentinel.core.integrity, docs/eventing.md).

Each comes from the environment of `sentinel up` when set there, else is generated once
under `<state dir>/secrets/` (sentinel.stack.secrets). A function gets only those its
manifest names: the received key goes to ingest and score, the scored key to score,
persist and alert, the webhook secret to alert. A local webhook receiver reads its
secret from `<state dir>/secrets/webhook-secret`.
"""

from __future__ import annotations

import dataclasses

from sentinel.config import RECEIVED_SIGNING_KEY, SCORED_SIGNING_KEY, Settings
from sentinel.stack.secrets import secret

RECEIVED = "received-signing-key"
SCORED = "scored-signing-key"
WEBHOOK = "webhook-secret"
WEBHOOK_SECRET = "SENTINEL_WEBHOOK_SECRET"


def function_env(settings: Settings) -> dict[str, str]:
    """Each secret by the variable a function reads it from."""
    state = settings.state_dir
    return {
        RECEIVED_SIGNING_KEY: settings.received_signing_key or secret(state, RECEIVED),
        SCORED_SIGNING_KEY: settings.scored_signing_key or secret(state, SCORED),
        WEBHOOK_SECRET: settings.webhook_secret or secret(state, WEBHOOK),
    }


def with_signing_secrets(settings: Settings) -> Settings:
    """`settings` holding the stack's secrets, for a function run in this process (tests, benchmarks)."""
    env = function_env(settings)
    return dataclasses.replace(
        settings,
        received_signing_key=env[RECEIVED_SIGNING_KEY],
        scored_signing_key=env[SCORED_SIGNING_KEY],
        webhook_secret=env[WEBHOOK_SECRET],
    )
