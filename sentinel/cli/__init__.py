"""The `sentinel` command. Each module here holds one group of subcommands."""

from __future__ import annotations

import click

from sentinel.cli.audit import audit
from sentinel.cli.dlq import dlq
from sentinel.cli.drift import drift
from sentinel.cli.keys import keys
from sentinel.cli.models import models, retrain
from sentinel.cli.rules import rules
from sentinel.cli.stack import demo, down, status, up
from sentinel.cli.traffic import decisions, send
from sentinel.cli.users import users
from sentinel.cli.watch import watch


@click.group()
def main() -> None:
    """Sentinel: real-time card-fraud detection as Knative event functions."""


for command in (up, down, status, watch, demo, send, decisions, models, retrain, rules, drift, dlq, keys, users, audit):
    main.add_command(command)
