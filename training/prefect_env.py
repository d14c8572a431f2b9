"""Prefect's settings for Sentinel: its home under the project's state dir, and no calls home.

Prefect reads its settings when it is imported, so `configure` must run before
the first `import prefect` in a process; every Sentinel entry point that runs a
flow (the CLI, the scheduled server) calls it first. Values the user has set in
the environment win.
"""

from __future__ import annotations

import os
from pathlib import Path

from training.progress import LOGGER_NAME


def settings_for(state_dir: Path) -> dict[str, str]:
    return {
        # Database, profiles and logs under .sentinel/prefect, not ~/.prefect.
        "PREFECT_HOME": str(state_dir / "prefect"),
        # Offline: no anonymous usage reports from the server, no promotions in the UI.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        # The ephemeral API starts a server process; on a busy two-core machine that can take a while.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        # Progress lines from training.progress go to the flow run's logs; outside a flow run
        # (the pipeline run directly) they go nowhere, without a warning.
        "PREFECT_LOGGING_EXTRA_LOGGERS": LOGGER_NAME,
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    }


def configure(state_dir: Path) -> None:
    """Set Prefect's environment for this process, keeping whatever the user set."""
    for name, value in settings_for(state_dir).items():
        os.environ.setdefault(name, value)
