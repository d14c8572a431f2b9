"""sentinel rules: list, add, change, disable and test the rules score applies beside the model."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from sentinel.cli.database import connected
from sentinel.cli.output import acting_user, console, fail, say
from sentinel.core import rules as rule_language
from sentinel.core.errors import ClientError
from sentinel.stores import rules as rule_store

DEFAULT_PRIORITY = 100
TEST_LIMIT = 1000
CHANGES_SHOWN = 20


@click.group(invoke_without_command=True)
@click.pass_context
def rules(context: click.Context) -> None:
    """List the rules in force: the first enabled one that matches decides instead of the model's thresholds."""
    if context.invoked_subcommand is not None:
        return
    with connected() as conn:
        stored, revision = rule_store.in_force(conn)
    if not stored:
        console.print('no rules yet: `sentinel rules add NAME "Amount > 5000" --action review` adds one')
        return
    table = Table(box=None)
    for column in ("priority", "name", "version", "action", "expression", "state", "changed"):
        table.add_column(column)
    for item in sorted(stored, key=lambda item: (item.rule.priority, item.rule.name)):
        rule = item.rule
        table.add_row(
            str(rule.priority),
            rule.name,
            f"v{rule.version}",
            rule.action,
            escape(rule.expression),
            "enabled" if rule.enabled else "[dim]disabled[/dim]",
            f"{item.changed_at:%Y-%m-%d %H:%M} by {escape(item.changed_by)}",
        )
    console.print(table)
    console.print(f"[dim]revision {revision}; tried by priority, lowest first, then by name[/dim]")


@rules.command()
@click.argument("name")
@click.argument("expression")
@click.option("--action", type=click.Choice(rule_language.ACTIONS), required=True, help="What a match decides.")
@click.option("--priority", type=int, default=DEFAULT_PRIORITY, show_default=True, help="Lower is tried first.")
@click.option("--description", default="", help="Why the rule exists, for the next person.")
@click.option("--disabled", is_flag=True, help="Store it without applying it yet.")
def add(name: str, expression: str, action: str, priority: int, description: str, disabled: bool) -> None:
    """Add rule NAME, or a new version of it: EXPRESSION over the transaction, its behavioural
    features and risk_score, e.g. "Amount > 5000 and merchant_new_for_user"."""
    rule = _checked(
        name=name,
        expression=expression,
        action=action,
        priority=priority,
        description=description,
        enabled=not disabled,
    )
    with connected() as conn:
        saved = rule_store.save(conn, rule, by=acting_user("rules add"))
    state = "stored disabled" if disabled else "in force; score processes apply it within seconds"
    say(f"rule {saved.name} v{saved.version} ({saved.action} when {saved.expression}) {state}")


@rules.command()
@click.argument("name")
def disable(name: str) -> None:
    """Stop applying rule NAME (a new version, disabled; its history stays)."""
    _set_enabled(name, False)


@rules.command()
@click.argument("name")
def enable(name: str) -> None:
    """Apply rule NAME again."""
    _set_enabled(name, True)


@rules.command()
@click.argument("name")
def history(name: str) -> None:
    """Every version of rule NAME, newest first."""
    with connected() as conn:
        versions = rule_store.history(conn, name)
    if not versions:
        fail(f"there is no rule named {name!r}; `sentinel rules` lists them")
    for item in versions:
        rule = item.rule
        state = "enabled" if rule.enabled else "disabled"
        console.print(
            f"  v{rule.version}  {item.changed_at:%Y-%m-%d %H:%M:%S} by {escape(item.changed_by)}:"
            f" priority {rule.priority}, {rule.action} when {escape(rule.expression)} ({state})"
        )


@rules.command()
@click.argument("expression")
@click.option("--action", type=click.Choice(rule_language.ACTIONS), required=True, help="What a match would decide.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=TEST_LIMIT, show_default=True)
def test(expression: str, action: str, limit: int) -> None:
    """Try EXPRESSION on the newest stored transactions, before every other rule: how many it matches
    and which decisions it would change. Nothing is stored."""
    rule = _checked(name="tried", expression=expression, action=action, priority=0)
    with connected() as conn:
        tried = rule_store.tried_on_recent(conn, rule, limit=limit)
    changed = [item for item in tried if item.would_decide != item.decision]
    console.print(
        f"of the newest {len(tried):,} transactions, {sum(item.matched for item in tried):,} match;"
        f" {len(changed):,} would be decided otherwise"
    )
    if changed:
        table = Table(box=None)
        for column in ("client", "transaction", "risk", "decided", "would decide"):
            table.add_column(column)
        for item in changed[:CHANGES_SHOWN]:
            table.add_row(
                item.client_id, item.transaction_id, f"{item.risk_score:.3f}", item.decision, item.would_decide
            )
        console.print(table)


def _set_enabled(name: str, enabled: bool) -> None:
    state = "enabled" if enabled else "disabled"
    with connected() as conn:
        try:
            rule = rule_store.set_enabled(conn, name, enabled, by=acting_user(f"rules {state[:-1]}"))
        except rule_store.UnknownRule as error:
            fail(f"{error}; `sentinel rules` lists them")
    say(f"rule {rule.name} v{rule.version} is {state}; score processes follow within seconds")


def _checked(**fields: object) -> rule_language.Rule:
    try:
        return rule_language.checked(**fields)
    except ClientError as error:
        fail(error.summary())
