"""Serve the UI with gunicorn's threaded workers, configured in code.

    python -m ui --port 18000 [--host 127.0.0.1]

Without --port it listens where the local stack puts the UI (SENTINEL_PORT_UI,
else SENTINEL_PORT_BASE + 0). One worker process with a few threads is plenty
for a team of analysts, and keeps a single database pool and pipeline monitor;
more workers each get their own. SIGTERM: stop accepting, finish requests, exit.

The Pipeline page reports what it is given; given nothing, it reads the Knative
resources from the Kubernetes API when it runs in a pod (ui.kubernetes_status), and
otherwise says it knows no pipeline. The Dead letters page lists what it is given, and
given nothing says where dead letters can be read (ui.dead_letters).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from sentinel.config import Settings, component_port
from sentinel.serving import wsgi_server
from ui import create_app
from ui.dead_letters import DeadLetterSource
from ui.kubernetes_status import SERVICE_ACCOUNT_DIR, KubernetesStatus
from ui.pipeline import NoPipelineStatus, PipelineStatus

log = logging.getLogger("ui.server")


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


def default_status(
    environ: Mapping[str, str] = os.environ, service_account_dir: Path = SERVICE_ACCOUNT_DIR
) -> PipelineStatus:
    """The cluster's Knative resources when this runs in a pod, else no pipeline at all."""
    if KubernetesStatus.in_a_pod(environ, service_account_dir):
        status = KubernetesStatus.in_cluster(environ, service_account_dir)
        log.info("the Pipeline page reads the Knative resources in %s from %s", status.namespace, status.api_url)
        return status
    return NoPipelineStatus()


def main(
    argv: list[str] | None = None,
    status: PipelineStatus | None = None,
    dead_letters: DeadLetterSource | None = None,
) -> int:
    """Serve the UI; `status` is what its Pipeline page reports (see ui.pipeline), by default `default_status()`,
    and `dead_letters` what its Dead letters page lists (see ui.dead_letters)."""
    settings = Settings.from_env()
    args = _arguments(argv, settings)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if status is None:
        status = default_status()
    # Not the database's URL: in a cluster it carries the password.
    log.info("serving the UI on http://%s:%d", args.host, args.port)
    wsgi_server.serve(
        lambda: create_app(settings, status, dead_letters),
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        graceful_timeout_s=10,
        log_level=args.log_level,
        worker_exit=_close_database,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
