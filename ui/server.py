"""Serve the UI with gunicorn's threaded workers, configured in code.

    python -m ui --port 18000 [--host 127.0.0.1]

Without --port it listens where the local stack puts the UI (SENTINEL_PORT_UI,
else SENTINEL_PORT_BASE + 0). One worker process with a few threads is plenty
for a team of analysts, and keeps a single database pool and pipeline monitor;
more workers each get their own. SIGTERM: stop accepting, finish requests, exit.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from sentinel.config import Settings, component_port
from ui import create_app

log = logging.getLogger("ui.server")


class UIServer(BaseApplication):
    """gunicorn with options from a dict; `load` builds the app in each worker."""

    def __init__(self, options: dict[str, Any], settings: Settings) -> None:
        self._options = options
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return create_app(self._settings)


def _close_database(_server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask):
        app.extensions["sentinel.database"].close()


def _arguments(argv: list[str] | None, settings: Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ui", description="Serve Sentinel's web UI.")
    parser.add_argument("--port", type=int, default=component_port("ui", settings.port_base))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8, help="request threads per worker")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    args = _arguments(argv, settings)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.info("serving the UI on http://%s:%d (database %s)", args.host, args.port, settings.database_url)
    UIServer(
        {
            "bind": f"{args.host}:{args.port}",
            "worker_class": "gthread",
            "workers": args.workers,
            "threads": args.threads,
            "graceful_timeout": 10,
            "keepalive": 75,
            "loglevel": args.log_level.lower(),
            "worker_exit": _close_database,
            "control_socket_disable": True,  # several local processes would fight over one socket path
        },
        settings,
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
