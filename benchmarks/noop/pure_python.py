"""The ASGI no-op on uvicorn's pure-Python parts (h11, asyncio's own loop) instead of httptools and uvloop.

What functions-framework's --asgi mode gives without the two compiled packages Sentinel
installs; the function benchmark runs it beside the other servers:
    python -m benchmarks.noop.pure_python     # PORT and HOST from the environment, as functions-framework
"""

import os

from functions_framework._http import create_server
from functions_framework.aio import create_asgi_app

from benchmarks.noop import SOURCE


def main() -> None:
    app = create_asgi_app("handle", str(SOURCE), "cloudevent")
    server = create_server(app, False, worker_class="uvicorn_worker.UvicornH11Worker")
    server.run(os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", 8080)))


if __name__ == "__main__":
    main()
