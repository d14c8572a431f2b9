"""The no-op baseline of the function benchmark: a functions-framework CloudEvent handler that does nothing.

Served exactly as the functions are (`functions-framework --target handle --asgi`), so
the difference between it and score is what score itself costs.
"""

from cloudevents.http import CloudEvent
from functions_framework import aio


@aio.cloud_event
async def handle(event: CloudEvent) -> None:
    return None
