"""persist — the functions-framework entry point (`--target handle`).

Stores every scored decision in PostgreSQL.
The work is done by sentinel.functions.persist.Persist.
"""

import flask
import functions_framework

from sentinel.functions.persist import Persist
from sentinel.runtime import serve

respond = serve(Persist())


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    return respond(request)
