"""`python -m ui`: serve the UI (see ui.server)."""

import sys

from ui.server import main

sys.exit(main())
