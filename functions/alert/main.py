"""alert — the functions-framework entry point (`--target handle`).

Turns review and block decisions into alerts (PostgreSQL, Redis stream, webhook).
The work is done by sentinel.functions.alert.Alert.
"""

import flask
import functions_framework

from sentinel.functions.alert import Alert
from sentinel.runtime import serve

respond = serve(Alert())


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    return respond(request)
