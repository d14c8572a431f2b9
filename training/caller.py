"""Who asked for a retrain, as recorded with a promotion: from the caller, never a flow parameter.

- `sentinel retrain` runs the flow in its own process under `acting_as("<user> via sentinel retrain")`;
- a run the Prefect scheduler created (auto_scheduled, which no API client can set) is `prefect-schedule`;
- any other flow run was asked for through Prefect's API (its UI, `task k8s:retrain`) by someone who
  holds the API's credential. Prefect's open-source server has no user accounts, so that is all it can
  tell; the run's name is kept so the promotion can be matched with the run in Prefect's UI.
  (Prefect's `created_by` comes from request headers any client can set, so it is not used.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SCHEDULE = "prefect-schedule"
API = "prefect-api"
DIRECT = "direct call"

_acting_as: ContextVar[str | None] = ContextVar("sentinel_retrain_caller", default=None)


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Runs started in this block are recorded as asked for by `name`."""
    token = _acting_as.set(name)
    try:
        yield
    finally:
        _acting_as.reset(token)


def promoter() -> str:
    """Who the current run is recorded as promoted by."""
    name = _acting_as.get()
    if name:
        return name
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return DIRECT
    if context.flow_run.auto_scheduled:
        return SCHEDULE
    return f"{API} (flow run {context.flow_run.name})"
