"""`python -m benchmarks NAME [options]`: run one benchmark; `python -m benchmarks --help` lists them."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> module under benchmarks/; each module has add_arguments(parser) and run(args) -> exit code.
BENCHMARKS = {
    "inference": "inference",
    "functions": "functions",
    "end-to-end": "end_to_end",
    "cold-start": "cold_start",
    "retrain": "retrain",
    "capacity": "capacity",
    "soak": "soak",
    "broker-fetch": "broker_fetch",
    "model-quality": "model_quality",
    "idle": "idle",
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Run one of Sentinel's benchmarks.")
    commands = parser.add_subparsers(dest="benchmark", required=True, metavar="NAME")
    for name, module_name in BENCHMARKS.items():
        module = importlib.import_module(f"benchmarks.{module_name}")
        summary = (module.__doc__ or "").strip().splitlines()[0]
        command = commands.add_parser(name, help=summary, description=module.__doc__)
        command.add_argument(
            "--publish", action="store_true", help="also write benchmarks/reported/NAME.json (the committed numbers)"
        )
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
