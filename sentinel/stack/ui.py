"""The UI as the local stack runs it: `python -m ui`'s server, reporting the local stack's status.

    python -m sentinel.stack.ui --port 18000

The UI itself knows nothing of the local stack (it sits below it); the stack hands it
its own view of the pipeline here.
"""

from __future__ import annotations

import sys

from sentinel.config import Settings
from sentinel.stack.pipeline_status import LocalStackStatus
from ui.server import main

if __name__ == "__main__":
    sys.exit(main(status=LocalStackStatus(Settings.from_env())))
