"""The no-op baseline of the function benchmark: a functions-framework CloudEvent handler that does nothing.

Served exactly as the functions are (`functions-framework --target handle`), so the
difference between it and score is what score itself costs.
"""

import functions_framework
from cloudevents.http import CloudEvent


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    return None
