"""Prefect as a service of the local stack: a server with its UI, and a process serving the flows.

`sentinel up --with-prefect` runs two more components, built from this API:

- the Prefect server (API and UI): `server_command(port)` with `server_env(state_dir, port, password)`,
  healthy when `server_health_url(port)` answers 200;
- the flow server: `serve_command()` with `serve_env(state_dir, port, runner_port, password)` plus
  the stack's own environment (DATABASE_URL, SENTINEL_STATE_DIR, ...). It serves the
  `retrain` and `drift` deployments on SENTINEL_RETRAIN_CRON and `evaluate` on demand,
  so each can be run from the UI; it is healthy when `serve_health_url(runner_port)`
  answers 200.

Both keep Prefect's state under `<state dir>/prefect` and make no calls outside
this machine (training.prefect_env). The server listens on 127.0.0.1 only and
requires HTTP basic auth on its API (Prefect's PREFECT_SERVER_API_AUTH_STRING; its
health check stays open): whoever holds the auth string can start flow runs. The
stack generates the password once (sentinel.stack.secrets, under PASSWORD_SECRET)
and hands it to the server, the flow server and `sentinel retrain`; the browser's
Prefect UI asks for `sentinel:<password>`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from training.prefect_env import settings_for

DEFAULT_PORT = 4200
AUTH_USER = "sentinel"
PASSWORD_SECRET = "prefect-api-password"  # the name under <state dir>/secrets/
RETRAIN_DEPLOYMENT = "scheduled"
EVALUATE_DEPLOYMENT = "on-demand"
DRIFT_DEPLOYMENT = "watch"
_BIN = Path(sys.executable).parent


def api_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api"


def server_command(port: int = DEFAULT_PORT) -> list[str]:
    return [str(_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]


def auth_string(password: str) -> str:
    """What Prefect's basic auth compares: `user:password`."""
    return f"{AUTH_USER}:{password}"


def server_env(state_dir: Path, port: int, password: str) -> dict[str, str]:
    """The server's settings: its API requires `auth_string(password)`."""
    return {
        **settings_for(state_dir),
        "PREFECT_API_URL": api_url(port),
        "PREFECT_UI_API_URL": api_url(port),
        "PREFECT_SERVER_API_AUTH_STRING": auth_string(password),
        # The server's own background services call its API as clients.
        "PREFECT_API_AUTH_STRING": auth_string(password),
    }


def server_health_url(port: int = DEFAULT_PORT) -> str:
    return f"{api_url(port)}/health"


def serve_command() -> list[str]:
    return [str(_BIN / "python"), "-m", "training.prefect_service"]


def serve_env(state_dir: Path, port: int, runner_port: int, password: str) -> dict[str, str]:
    """The flow server's Prefect settings; `runner_port` is where it answers health checks."""
    return {
        **settings_for(state_dir),
        "PREFECT_API_URL": api_url(port),
        "PREFECT_API_AUTH_STRING": auth_string(password),
        "PREFECT_RUNNER_SERVER_HOST": "127.0.0.1",
        "PREFECT_RUNNER_SERVER_PORT": str(runner_port),
    }


def serve_health_url(runner_port: int) -> str:
    return f"http://127.0.0.1:{runner_port}/health"


def serve() -> None:
    """Serve `retrain` and `drift` on their schedule and `evaluate` on demand until stopped (needs PREFECT_API_URL)."""
    from training.prefect_env import configure
    from training.settings import TrainingSettings

    settings = TrainingSettings.from_env()
    configure(settings.state_dir)
    from prefect import serve as serve_deployments

    from training.flows import drift, evaluate, retrain

    serve_deployments(
        retrain.to_deployment(RETRAIN_DEPLOYMENT, cron=settings.retrain_cron),
        evaluate.to_deployment(EVALUATE_DEPLOYMENT),
        drift.to_deployment(DRIFT_DEPLOYMENT, cron=settings.retrain_cron),
        pause_on_shutdown=False,
        limit=1,
        webserver=True,
    )


if __name__ == "__main__":
    serve()
