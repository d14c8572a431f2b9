"""Prepare the cluster's database before the functions start, as `sentinel up` does locally.

Applies the migrations, lets score's role log in with the password the Secret gives it
(SCORE_DATABASE_URL), registers the client key the Secret sentinel-client-key holds
(SENTINEL_API_KEY, for `task k8s:send`), then makes sure the model registry has a champion, training a
first model on synthetic data when it is empty (so score always has a model to load).
The Job in knative/prepare/ runs it in the training image; running it again is harmless.
"""

import sys

from sentinel.config import Settings
from sentinel.core.api_keys import SCOPES
from sentinel.stores import database, roles
from sentinel.stores.api_keys import ApiKeyStore
from training.bootstrap import ensure_champion

CLUSTER_CLIENT = "cluster-client"  # the key `task k8s:send` presents (Secret sentinel-client-key)


def say(message: str) -> None:
    print(message, flush=True)


def main() -> int:
    settings = Settings.from_env()
    applied = database.migrate(settings.database_url)
    say(f"database schema: {'applied ' + ', '.join(applied) if applied else 'up to date'}")
    role = roles.ensure_login_from_url(settings.database_url, settings.score_database_url)
    say(f"score's database role: {role or 'the same as the database owner'}")
    if settings.api_key:
        keys = ApiKeyStore.connect(settings.database_url)
        try:
            registered = keys.ensure(CLUSTER_CLIENT, settings.api_key, SCOPES, by="the prepare Job")
        finally:
            keys.close()
        say(f"API key {CLUSTER_CLIENT!r}: {'registered' if registered else 'live'}")
    version = ensure_champion(settings.database_url, rows=settings.bootstrap_training_rows, progress=say)
    say(f"champion model: {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
