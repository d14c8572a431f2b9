"""ingest — the functions-framework entry point (`--target handle`).

Validates and de-duplicates transactions, then emits them to K_SINK.
The work is done by sentinel.functions.ingest.Ingest.
"""

import flask
import functions_framework

from sentinel.functions.ingest import Ingest
from sentinel.runtime import serve

respond = serve(Ingest())


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    return respond(request)
