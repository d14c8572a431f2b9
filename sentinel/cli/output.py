"""How the sentinel command prints and names its user: one console, one way to report a step."""

from __future__ import annotations

import getpass
import sys
from typing import NoReturn

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)


def say(message: str) -> None:
    """One finished step, as a line with a check mark."""
    console.print(f"  [green]✓[/green] {message}")


def fail(message: str) -> NoReturn:
    """Say what went wrong, in red, and exit 1."""
    console.print(f"[red]✗ {message}[/red]")
    sys.exit(1)


def acting_user(command: str) -> str:
    """Who runs `sentinel COMMAND`, as the audit log and the promotion history name them.
    There is no login on the command line: the operating system's user name says it."""
    return f"{getpass.getuser()} via sentinel {command}"
