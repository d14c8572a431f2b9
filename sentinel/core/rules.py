"""Rules beside the model: what a fraud team knows today, written as expressions.

A rule is an expression over the transaction, its behavioural features and the
model's risk score, with an action (allow, review or block) and a priority:

    Amount > 5000 and merchant_new_for_user           -> review
    merchant_id in ["m-0042", "m-0117"]               -> block
    user_id == "u-vip-7" and risk_score < 0.99        -> allow

The enabled rules are tried in priority order (lowest number first, then by
name); the first that matches decides instead of the model's thresholds, and
the decision records it. With no match the model decides.

The language is a small grammar. Python's own parser reads the text (ast, mode
"eval"), and only the node kinds below are compiled, into closures; anything
else (calls, attributes, subscripts, lambdas, comprehensions, names that are
not variables) is refused with a message naming it. Nothing is ever evaluated
with `eval`.

- values: numbers, "text" in quotes, true / false, and [lists] of literals after `in`
- the variables: VARIABLES (numbers) and TEXT_VARIABLES (text; absent optional
  ones are none, which equals nothing and is in no list)
- arithmetic on numbers: + - * / and unary -; dividing by zero gives a value
  that no comparison holds for
- comparisons: < <= > >= == != (chains like 10 < Amount <= 50 too) on numbers;
  == != in, not in on text
- and, or, not; a number where a condition is expected means "is not zero",
  so a 0/1 feature such as merchant_new_for_user reads as a condition
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from sentinel.core import behaviour, transaction
from sentinel.core.decision import Decision
from sentinel.core.errors import ClientError, Problem

Action = Literal["allow", "review", "block"]
ACTIONS: tuple[Action, ...] = get_args(Action)
DECISION_OF_ACTION: dict[Action, Decision] = {"allow": "approve", "review": "review", "block": "block"}

RISK_SCORE = "risk_score"
VARIABLES: tuple[str, ...] = (*transaction.FEATURE_NAMES, *behaviour.FEATURES, RISK_SCORE)
TEXT_VARIABLES: tuple[str, ...] = (
    transaction.CLIENT_FIELD,
    "transaction_id",
    "user_id",
    "merchant_id",
    "currency",
)
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
NAME_RULE = "must be 1-63 characters of a-z 0-9 and -, starting with a letter or digit"
MAX_EXPRESSION = 10_000  # characters: room for a block-list of a few hundred ids
MAX_NODES = 3000
MAX_DEPTH = 50  # a condition nested deeper would recurse too far when evaluated
MAX_LIST = 1000
MAX_PRIORITY = 1_000_000
MAX_DESCRIPTION = 500

Facts = Mapping[str, Any]
Value = Callable[[Facts], Any]
_Typed = tuple[Value, str]  # a compiled part and its type: "number", "text", "condition" or "list"

_ARITHMETIC: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: lambda left, right: left / right if right != 0 else math.nan,
}
_ORDER: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_EQUALITY: dict[type, Callable[[Any, Any], bool]] = {ast.Eq: operator.eq, ast.NotEq: operator.ne}
_SYMBOLS = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_BOOLEANS = {"true": True, "false": False, "True": True, "False": False}


@dataclass(frozen=True)
class Rule:
    """One version of a rule. `matches` is its compiled expression."""

    name: str
    expression: str
    action: Action
    priority: int
    enabled: bool = True
    version: int = 1
    description: str = ""
    matches: Callable[[Facts], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matches", compile_expression(self.expression))

    @property
    def decision(self) -> Decision:
        return DECISION_OF_ACTION[self.action]

    def fired(self) -> dict[str, Any]:
        """What a decision records of the rule that made it."""
        return {"name": self.name, "version": self.version, "action": self.action}


@dataclass(frozen=True)
class Ruleset:
    """The rules score applies, as of one `revision` of the rules table."""

    rules: tuple[Rule, ...] = ()
    revision: int = 0

    @classmethod
    def of(cls, rules: Sequence[Rule], revision: int = 0) -> Ruleset:
        """The enabled ones among `rules`, in the order they are tried."""
        enabled = sorted((rule for rule in rules if rule.enabled), key=lambda rule: (rule.priority, rule.name))
        return cls(tuple(enabled), revision)

    def first_match(self, facts: Facts) -> Rule | None:
        for rule in self.rules:
            if rule.matches(facts):
                return rule
        return None


def facts_of(item: Mapping[str, Any], behavioural: Mapping[str, float], risk_score: float) -> dict[str, Any]:
    """What a rule sees of one transaction: its fields, its behavioural features and the model's risk."""
    facts: dict[str, Any] = {name: item.get(name) for name in TEXT_VARIABLES}
    facts.update((name, float(item[name])) for name in transaction.FEATURE_NAMES)
    facts.update(behavioural)
    facts[RISK_SCORE] = float(risk_score)
    return facts


def checked(
    *, name: Any, expression: Any, action: Any, priority: Any, description: Any = "", enabled: Any = True
) -> Rule:
    """A rule from what a person sent; ClientError naming every field that is wrong."""
    problems: list[Problem] = []
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        problems.append(Problem("name", NAME_RULE))
    if action not in ACTIONS:
        problems.append(Problem("action", f"must be one of {', '.join(ACTIONS)}"))
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        problems.append(Problem("priority", f"must be a whole number from 0 to {MAX_PRIORITY:,} (0 is tried first)"))
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION or not transaction.is_text(description):
        problems.append(Problem("description", f"must be text of at most {MAX_DESCRIPTION} characters"))
    if not isinstance(enabled, bool):
        problems.append(Problem("enabled", "must be true or false"))
    try:
        compile_expression(expression)
    except ClientError as error:
        problems.extend(error.problems)
    if problems:
        raise ClientError("invalid rule", problems=problems)
    return Rule(name, expression, action, priority, enabled, description=description)


def compile_expression(expression: Any) -> Callable[[Facts], bool]:
    """The condition `expression` states, compiled; ClientError (400) saying what is wrong and where."""
    if not isinstance(expression, str) or not expression.strip():
        raise _problem("must be a non-empty condition, e.g. Amount > 5000 and merchant_new_for_user")
    if len(expression) > MAX_EXPRESSION:
        raise _problem(f"must be at most {MAX_EXPRESSION} characters")
    if not transaction.is_text(expression.replace("\n", " ").replace("\t", " ")):
        raise _problem(transaction.TEXT_RULE)
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise _problem(f"is not a valid condition: {error.msg} at column {error.offset or 0}") from None
    except (RecursionError, MemoryError, ValueError):
        raise _problem("is nested too deeply") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise _problem(f"has more than {MAX_NODES} parts; split it into several rules")
    if _depth(tree.body) > MAX_DEPTH:
        raise _problem(f"is nested more than {MAX_DEPTH} deep; split it into several rules")
    return _condition(_compile(tree.body))


def _depth(root: ast.AST) -> int:
    """How deeply `root` nests, counted without recursing."""
    deepest, pending = 0, [(root, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _problem(message: str) -> ClientError:
    return ClientError(f"invalid rule expression: it {message}", problems=[Problem("expression", message)])


def _at(node: ast.AST, message: str) -> ClientError:
    column = getattr(node, "col_offset", None)
    return _problem(f"{message} (at column {column + 1})" if column is not None else message)


def _condition(compiled: _Typed) -> Callable[[Facts], bool]:
    value, kind = compiled
    if kind == "condition":
        return value
    if kind == "number":
        return lambda facts: _is_set(value(facts))
    raise _problem(f'is {_ARTICLE[kind]}, not a condition; compare it, e.g. user_id == "u-1"')


def _is_set(number: float) -> bool:
    return number != 0 and not math.isnan(number)


_ARTICLE = {"text": "text", "list": "a list", "number": "a number", "condition": "a condition"}


def _compile(node: ast.AST) -> _Typed:
    match node:
        case ast.Constant(value=bool() as flag):
            return (lambda facts: flag), "condition"
        case ast.Constant(value=int() | float() as number):
            constant = float(number)
            return (lambda facts: constant), "number"
        case ast.Constant(value=str() as text):
            return (lambda facts: text), "text"
        case ast.Name(id=name):
            return _variable(node, name)
        case ast.List(elts=items) | ast.Tuple(elts=items):
            return _literal_list(node, items)
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            inner = _condition(_compile(operand))
            return (lambda facts: not inner(facts)), "condition"
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            number = _number(operand)
            return (lambda facts: -number(facts)), "number"
        case ast.BinOp(op=op, left=left, right=right) if type(op) in _ARITHMETIC:
            apply, first, second = _ARITHMETIC[type(op)], _number(left), _number(right)
            return (lambda facts: apply(first(facts), second(facts))), "number"
        case ast.BoolOp(op=op, values=values):
            parts = [_condition(_compile(value)) for value in values]
            if isinstance(op, ast.And):
                return (lambda facts: all(part(facts) for part in parts)), "condition"
            return (lambda facts: any(part(facts) for part in parts)), "condition"
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            return _comparison(left, ops, comparators)
    raise _at(node, f"uses {_described(node)}, which rules do not allow")


def _variable(node: ast.AST, name: str) -> _Typed:
    if name in _BOOLEANS:
        flag = _BOOLEANS[name]
        return (lambda facts: flag), "condition"
    if name in VARIABLES:
        return (lambda facts: facts[name]), "number"
    if name in TEXT_VARIABLES:
        return (lambda facts: facts[name]), "text"
    close = difflib.get_close_matches(name, (*VARIABLES, *TEXT_VARIABLES), n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise _at(node, f"names {name!r}, which is not a transaction field, a behavioural feature or risk_score{hint}")


def _literal_list(node: ast.AST, items: list[ast.expr]) -> _Typed:
    if len(items) > MAX_LIST:
        raise _at(node, f"has a list of more than {MAX_LIST} items")
    values: list[Any] = []
    for item in items:
        if not isinstance(item, ast.Constant) or isinstance(item.value, bool) or item.value is None:
            raise _at(item, "has a list item that is not a number or a text in quotes")
        values.append(float(item.value) if isinstance(item.value, int | float) else item.value)
    kinds = {type(value) for value in values}
    if len(kinds) > 1:
        raise _at(node, "has a list that mixes numbers and text")
    members = frozenset(values)
    return (lambda facts: members), "list"


def _number(node: ast.AST) -> Value:
    value, kind = _compile(node)
    if kind != "number":
        raise _at(node, f"does arithmetic on {_ARTICLE[kind]}; only numbers add, subtract, multiply and divide")
    return value


def _comparison(left: ast.expr, ops: list[ast.cmpop], comparators: list[ast.expr]) -> _Typed:
    checks: list[Callable[[Facts], bool]] = []
    previous, previous_node = _compile(left), left
    for op, node in zip(ops, comparators, strict=True):
        current = _compile(node)
        checks.append(_compared(op, previous, current, previous_node))
        previous, previous_node = current, node
    if len(checks) == 1:
        return checks[0], "condition"
    return (lambda facts: all(check(facts) for check in checks)), "condition"


def _compared(op: ast.cmpop, left: _Typed, right: _Typed, node: ast.AST) -> Callable[[Facts], bool]:
    (first, first_kind), (second, second_kind) = left, right
    symbol = _SYMBOLS.get(type(op), type(op).__name__)
    if isinstance(op, ast.In | ast.NotIn):
        if second_kind != "list" or first_kind not in ("text", "number"):
            raise _at(
                node,
                f"uses {symbol!r} with {_ARTICLE[first_kind]} and {_ARTICLE[second_kind]}; write e.g."
                ' merchant_id in ["m-1", "m-2"]',
            )
        negate = isinstance(op, ast.NotIn)
        return lambda facts: (first(facts) in second(facts)) != negate
    if first_kind != second_kind or first_kind not in ("number", "text"):
        raise _at(node, f"compares {_ARTICLE[first_kind]} with {_ARTICLE[second_kind]} using {symbol!r}")
    if type(op) in _EQUALITY:
        equal = _EQUALITY[type(op)]
        return lambda facts: equal(first(facts), second(facts))
    if first_kind != "number" or type(op) not in _ORDER:
        raise _at(node, f"orders text with {symbol!r}; text compares only with == != in and not in")
    order = _ORDER[type(op)]
    return lambda facts: order(first(facts), second(facts))


def _described(node: ast.AST) -> str:
    names = {
        ast.Call: "a function call",
        ast.Attribute: "an attribute",
        ast.Subscript: "a subscript",
        ast.Lambda: "a lambda",
        ast.IfExp: "an if-expression",
        ast.Dict: "a dictionary",
        ast.Set: "a set",
        ast.JoinedStr: "an f-string",
        ast.NamedExpr: "an assignment",
    }
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        return f"the operator {type(node.op).__name__}"
    if isinstance(node, ast.Constant):
        return f"the value {node.value!r}"
    return names.get(type(node), f"a {type(node).__name__}")
