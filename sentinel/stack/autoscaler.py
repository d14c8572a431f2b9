"""`python -m sentinel.stack.autoscaler --function NAME --port PORT -- COMMAND...`: one function
as 0..N replicas of COMMAND behind a front on PORT, scaled by the KPA with the settings of
the function's Knative Service (knative/functions/NAME.yaml)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

import uvicorn

from eventing import topology
from sentinel.stack.front import Front
from sentinel.stack.kpa import Kpa
from sentinel.stack.replica_pool import Pool
from sentinel.stack.replica_processes import ReplicaProcesses
from sentinel.stack.scaler import Scaler
from sentinel.stack.scaling_settings import kpa_settings

BUFFER_LIMIT = 1000  # requests held while no replica is ready (the activator's queue)
COLD_START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 600.0  # the KafkaSources' delivery timeout: a request is never cut shorter
REPLICA_START_TIMEOUT_S = 90.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--function", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    spec = topology.load().functions[args.function]
    settings = kpa_settings(dict(spec.annotations), os.environ)
    replicas = ReplicaProcesses(command, os.environ, spec.readiness_path, REPLICA_START_TIMEOUT_S)
    scaler = Scaler(args.function, Pool(BUFFER_LIMIT), replicas, Kpa(settings))
    front = Front(
        scaler,
        {spec.readiness_path, spec.liveness_path},
        cold_start_timeout_s=COLD_START_TIMEOUT_S,
        request_timeout_s=REQUEST_TIMEOUT_S,
    )
    config = uvicorn.Config(front, host="127.0.0.1", port=args.port, lifespan="on", access_log=False, log_level="info")
    asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
