"""Running a training flow from the command line: in this process, with Prefect's ephemeral API
unless PREFECT_API_URL names a server, its progress shown as it goes."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sentinel.cli.output import console, fail, say
from sentinel.config import Settings
from sentinel.core.model import ModelRejected
from sentinel.core.promotion import GateMarginError
from sentinel.stack.secrets import secret
from sentinel.stores import registry
from training import prefect_env, prefect_service
from training.dataset import DataError
from training.gdrive import DownloadError
from training.loader import SourceError
from training.parameters import ParameterError
from training.progress import forwarded_to


def run_flow(name: str, **parameters: Any) -> dict[str, Any]:
    """Run a training flow in this process, showing its progress; exit 1 with the reason if it fails."""
    state_dir = Settings.from_env().state_dir
    prefect_env.configure(state_dir)
    # The stack's Prefect API password: what `sentinel up --with-prefect`'s server requires, and
    # required as well by the ephemeral API server Prefect starts for this process otherwise.
    auth = prefect_service.auth_string(secret(state_dir, prefect_service.PASSWORD_SECRET))
    os.environ.setdefault("PREFECT_API_AUTH_STRING", auth)
    os.environ.setdefault("PREFECT_SERVER_API_AUTH_STRING", auth)
    # Prefect's own console lines (a failed task's traceback among them) would drown the progress
    # and the error message below; they still reach its API and UI.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    api = os.environ.get("PREFECT_API_URL") or "Prefect's ephemeral API"
    console.print(f"[bold]Running the {name} flow[/bold] ({api}; Prefect state in {state_dir / 'prefect'})")
    starting = "starting Prefect (its ephemeral API takes 10-20 s to start)" if api.startswith("Prefect's") else name
    with console.status(starting) as status, forwarded_to(_progress(status)):
        from training import flows

        try:
            return getattr(flows, name)(**parameters)
        except Exception as error:
            if not _expected(error):
                raise
            fail(str(error))


def _progress(status) -> Callable[[str], None]:
    def show(message: str) -> None:
        say(message)
        status.update(message)

    return show


def _expected(error: Exception) -> bool:
    """Failures with a message for people, not a traceback: bad data, a failed download, a rejected model."""
    from training.export import ParityError  # imported already by the flow that failed

    return isinstance(
        error,
        DataError
        | DownloadError
        | SourceError
        | ParameterError
        | GateMarginError
        | ParityError
        | ModelRejected
        | registry.GateRejected
        | registry.UnknownModel,
    )
