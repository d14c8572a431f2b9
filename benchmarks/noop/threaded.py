"""The no-op on the server the functions had before --asgi: Flask under gunicorn's threaded workers.

`functions-framework --target handle --source benchmarks/noop/threaded.py`; the function
benchmark runs it beside the ASGI no-op, so the gain of the server is measured, not quoted.
"""

import functions_framework
from cloudevents.http import CloudEvent


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    return None
