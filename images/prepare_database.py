"""Prepare the cluster's database before the functions start, as `sentinel up` does locally.

Applies the migrations, then makes sure the model registry has a champion, training a
first model on synthetic data when it is empty (so score always has a model to load).
The Job in knative/prepare/ runs it in the training image; running it again is harmless.
"""

import sys

from sentinel.config import Settings
from sentinel.stores import database
from training.bootstrap import ensure_champion


def say(message: str) -> None:
    print(message, flush=True)


def main() -> int:
    settings = Settings.from_env()
    applied = database.migrate(settings.database_url)
    say(f"database schema: {'applied ' + ', '.join(applied) if applied else 'up to date'}")
    version = ensure_champion(settings.database_url, rows=settings.bootstrap_training_rows, progress=say)
    say(f"champion model: {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
