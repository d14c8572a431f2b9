"""Prefect as a service of the local stack: a server with its UI, and a process serving the flows.

`sentinel up --with-prefect` runs two more components, built from this API:

- the Prefect server (API and UI): `server_command(port)` with `server_env(state_dir, port)`,
  healthy when `server_health_url(port)` answers 200;
- the flow server: `serve_command()` with `serve_env(state_dir, port, runner_port)` plus
  the stack's own environment (DATABASE_URL, SENTINEL_STATE_DIR, ...). It serves the
  `retrain` deployment on SENTINEL_RETRAIN_CRON and `evaluate` on demand, so both can
  be run from the UI; it is healthy when `serve_health_url(runner_port)` answers 200.

Both keep Prefect's state under `<state dir>/prefect` and make no calls outside
this machine (training.prefect_env).
"""

from __future__ import annotations

import sys
from pathlib import Path

from training.prefect_env import settings_for

DEFAULT_PORT = 4200
RETRAIN_DEPLOYMENT = "scheduled"
EVALUATE_DEPLOYMENT = "on-demand"
_BIN = Path(sys.executable).parent


def api_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api"


def server_command(port: int = DEFAULT_PORT) -> list[str]:
    return [str(_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]


def server_env(state_dir: Path, port: int = DEFAULT_PORT) -> dict[str, str]:
    return {
        **settings_for(state_dir),
        "PREFECT_API_URL": api_url(port),
        "PREFECT_UI_API_URL": api_url(port),
    }


def server_health_url(port: int = DEFAULT_PORT) -> str:
    return f"{api_url(port)}/health"


def serve_command() -> list[str]:
    return [str(_BIN / "python"), "-m", "training.prefect_service"]


def serve_env(state_dir: Path, port: int, runner_port: int) -> dict[str, str]:
    """The flow server's Prefect settings; `runner_port` is where it answers health checks."""
    return {
        **settings_for(state_dir),
        "PREFECT_API_URL": api_url(port),
        "PREFECT_RUNNER_SERVER_HOST": "127.0.0.1",
        "PREFECT_RUNNER_SERVER_PORT": str(runner_port),
    }


def serve_health_url(runner_port: int) -> str:
    return f"http://127.0.0.1:{runner_port}/health"


def serve() -> None:
    """Serve `retrain` on its schedule and `evaluate` on demand until stopped (needs PREFECT_API_URL)."""
    from training.prefect_env import configure
    from training.settings import TrainingSettings

    settings = TrainingSettings.from_env()
    configure(settings.state_dir)
    from prefect import serve as serve_deployments

    from training.flows import evaluate, retrain

    serve_deployments(
        retrain.to_deployment(RETRAIN_DEPLOYMENT, cron=settings.retrain_cron),
        evaluate.to_deployment(EVALUATE_DEPLOYMENT),
        pause_on_shutdown=False,
        limit=1,
        webserver=True,
    )


if __name__ == "__main__":
    serve()
