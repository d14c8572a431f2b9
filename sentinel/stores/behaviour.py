"""The online executor of the behavioural features: each user's history in Redis.

Score hands over the transactions of one request; their users' histories are read
in one round trip, each transaction's features computed and its user's history
updated in order (sentinel.core.behaviour), and the changed histories written back
in a second round trip by a script that writes only if every history read is still
as it was; if another writer changed one meanwhile, the whole request is computed
again from what is stored. (WATCH, the read and MULTI/EXEC took three round trips;
WATCH alone was 6 % of score's CPU.) A redelivered transaction gets the features it
had the first time and is not counted twice.

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

# KEYS: every history read. ARGV: the time to live, then for each key its value as read
# ('' for none: a stored history is never empty), '1' when it is to be written, and its new value.
_WRITE_IF_UNCHANGED = """
for index, key in ipairs(KEYS) do
    if (redis.call('GET', key) or '') ~= ARGV[index * 3 - 1] then
        return 0
    end
end
for index, key in ipairs(KEYS) do
    if ARGV[index * 3] == '1' then
        redis.call('SET', key, ARGV[index * 3 + 1], 'EX', ARGV[1])
    end
end
return 1
"""


class UserHistories:
    def __init__(self, client: redis.Redis, *, ttl_seconds: int = TTL_SECONDS) -> None:
        self._redis = client
        self._ttl = ttl_seconds
        self._write_if_unchanged = client.register_script(_WRITE_IF_UNCHANGED)

    def observe(self, observed: Sequence[tuple[UserKey, behaviour.Observation]]) -> list[behaviour.Features]:
        """The features of each transaction, in order, with every history updated to include it."""
        if not observed:
            return []
        keys = list(dict.fromkeys(_key(user) for user, _ in observed))
        for _ in range(ATTEMPTS):
            stored = dict(zip(keys, self._redis.mget(keys), strict=True))
            histories = {key: behaviour.history_from(orjson.loads(raw) if raw else None) for key, raw in stored.items()}
            features, changed = [], set()
            for user, seen in observed:
                key = _key(user)
                values = behaviour.features_of(histories[key], seen)
                if behaviour.record(histories[key], seen, values):
                    changed.add(key)
                features.append(values)
            arguments: list[object] = [self._ttl]
            for key in keys:
                written = key in changed
                arguments += [
                    stored[key] or "",
                    "1" if written else "0",
                    orjson.dumps(histories[key]) if written else "",
                ]
            if self._write_if_unchanged(keys=keys, args=arguments):
                return features
        raise Unavailable(f"the users' histories kept changing while {len(observed)} transactions were scored")

    def close(self) -> None:
        self._redis.close()


def _key(user: UserKey) -> str:
    client_id, user_id = user
    return f"{KEY_PREFIX}{client_id}:{user_id}"
