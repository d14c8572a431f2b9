"""How the sentinel command prints: one console, one way to report a step."""

from __future__ import annotations

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)


def say(message: str) -> None:
    """One finished step, as a line with a check mark."""
    console.print(f"  [green]✓[/green] {message}")
