"""score — the functions-framework entry point (`--target handle`).

Scores transactions with the champion ONNX model; emits and returns the decision.
The work is done by sentinel.functions.score.Score.
"""

import flask
import functions_framework

from sentinel.functions.score import Score
from sentinel.runtime import serve

respond = serve(Score())


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    return respond(request)
