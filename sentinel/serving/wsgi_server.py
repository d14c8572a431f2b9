"""gunicorn's threaded workers, configured in code, for the WSGI app Sentinel serves itself: the UI.

The functions are served by functions-framework's ASGI mode and the local KafkaSink
ingress by uvicorn. `make_app` runs in each worker after the fork, so every worker
opens its own connections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

WorkerExit = Callable[[Any, Any], None]  # gunicorn's worker_exit hook: (arbiter, worker)


class ThreadedServer(BaseApplication):
    def __init__(self, make_app: Callable[[], Any], options: dict[str, Any]) -> None:
        self._make_app = make_app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        return self._make_app()


def serve(
    make_app: Callable[[], Any],
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    graceful_timeout_s: int,
    log_level: str,
    worker_exit: WorkerExit,
) -> None:
    """Serve until SIGTERM: then stop accepting, let requests finish within the grace period, run `worker_exit`."""
    ThreadedServer(
        make_app,
        {
            "bind": f"{host}:{port}",
            "worker_class": "gthread",
            "workers": workers,
            "threads": threads,
            "graceful_timeout": graceful_timeout_s,
            "keepalive": 75,
            "loglevel": log_level.lower(),
            "worker_exit": worker_exit,
            "control_socket_disable": True,  # several local processes would fight over one socket path
        },
    ).run()
