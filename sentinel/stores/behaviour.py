"""The online executor of the behavioural features: each user's history in Redis.

Score hands over the transactions of one request; their users' histories are read
in one round trip, each transaction's features computed and its user's history
updated in order (sentinel.core.behaviour), and the changed histories written back
in one transaction that fails if another writer changed one of them meanwhile (WATCH),
in which case the whole request is computed again from what is stored. A redelivered
transaction gets the features it had the first time and is not counted twice.

A history lives for `ttl_seconds` after its user's last transaction; a user quiet
for longer starts again with no history.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import redis

from sentinel.core import behaviour
from sentinel.core.errors import Unavailable

KEY_PREFIX = "sentinel:behaviour:"
TTL_SECONDS = 30 * 86_400
ATTEMPTS = 5

UserKey = tuple[str, str]  # (client id, user id): a user id is the client's own


class UserHistories:
    def __init__(self, client: redis.Redis, *, ttl_seconds: int = TTL_SECONDS) -> None:
        self._redis = client
        self._ttl = ttl_seconds

    def observe(self, observed: Sequence[tuple[UserKey, behaviour.Observation]]) -> list[behaviour.Features]:
        """The features of each transaction, in order, with every history updated to include it."""
        if not observed:
            return []
        keys = list(dict.fromkeys(_key(user) for user, _ in observed))
        for _ in range(ATTEMPTS):
            with self._redis.pipeline(transaction=True) as pipeline:
                try:
                    pipeline.watch(*keys)
                    stored = dict(zip(keys, pipeline.mget(keys), strict=True))
                    histories = {
                        key: behaviour.history_from(orjson.loads(raw) if raw else None) for key, raw in stored.items()
                    }
                    features, changed = [], set()
                    for user, seen in observed:
                        key = _key(user)
                        values = behaviour.features_of(histories[key], seen)
                        if behaviour.record(histories[key], seen, values):
                            changed.add(key)
                        features.append(values)
                    pipeline.multi()
                    for key in changed:
                        pipeline.set(key, orjson.dumps(histories[key]), ex=self._ttl)
                    pipeline.execute()
                    return features
                except redis.WatchError:
                    continue
        raise Unavailable(f"the users' histories kept changing while {len(observed)} transactions were scored")

    def close(self) -> None:
        self._redis.close()


def _key(user: UserKey) -> str:
    client_id, user_id = user
    return f"{KEY_PREFIX}{client_id}:{user_id}"
