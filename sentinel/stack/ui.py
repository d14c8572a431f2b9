"""The UI as the local stack runs it: `python -m ui`'s server, reporting the local stack's status.

    python -m sentinel.stack.ui --port 18000

The UI itself knows nothing of the local stack (it sits below it); the stack hands it
its own view of the pipeline here, the reader of its dead-letter topic, and the key
that signs its sessions (generated once, like every local credential).
"""

from __future__ import annotations

import os
import sys

from eventing import topology
from eventing.dead_letters import DeadLetterReader
from sentinel.config import Settings
from sentinel.stack.pipeline_status import LocalStackStatus
from sentinel.stack.secrets import secret
from ui.server import main
from ui.signing import ENV_VARIABLE as SECRET_KEY_VARIABLE

# A page reads the dead letters while it is built, so each request to the broker waits at
# most this long; a broker that does not answer then costs a page about a second, and the
# page says so.
DEAD_LETTERS_TIMEOUT_S = 1.0

if __name__ == "__main__":
    settings = Settings.from_env()
    os.environ.setdefault(SECRET_KEY_VARIABLE, secret(settings.state_dir, "ui-secret-key"))
    dead_letters = DeadLetterReader.of(
        settings.kafka_bootstrap_servers, topology.load(), timeout=DEAD_LETTERS_TIMEOUT_S
    )
    sys.exit(main(status=LocalStackStatus(settings), dead_letters=dead_letters))
