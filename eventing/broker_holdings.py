"""How many records the broker holds, and when that is more than the local broker serves well.

The local stack's broker (tansu's memory store) keeps every record until it stops: it
stores topic retention settings without acting on them and does not implement
DeleteRecords, so nothing can trim it. Every fetch that returns records lists its
whole partition, so the broker's CPU per event grows with what it holds
(docs/benchmarks.md, Soak). Only a fresh broker starts empty; Redpanda and Kafka
apply their retention.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from eventing.offsets import consumer_group_lag

# Holding this many records, the local broker spent about twice a fresh one's CPU per event.
HELD_RECORDS_LIMIT = 10_000
# A consumer group that never commits: its lag on a topic is every record the topic holds.
COUNTING_GROUP = "sentinel-holdings-count"


def held_records(bootstrap_servers: str, topics: Iterable[str], time_limit: float = 2.0) -> dict[str, int]:
    """Records each topic holds (end offset minus log start offset, summed over its partitions)."""
    wanted = sorted(set(topics))
    lag = consumer_group_lag(bootstrap_servers, COUNTING_GROUP, wanted, time_limit)
    held = dict.fromkeys(wanted, 0)
    for partition in lag["partitions"]:
        held[partition["topic"]] += partition["lag"] or 0
    return held


def holdings_warning(held: Mapping[str, int], limit: int = HELD_RECORDS_LIMIT) -> str | None:
    """A warning in plain words when the topics together hold more than `limit` records, else None."""
    total = sum(held.values())
    if total <= limit:
        return None
    return (
        f"the local broker holds {total:,} records (more than {limit:,}) and slows as it grows, "
        "since it keeps every record until it restarts; when the lag is 0 and no traffic runs, "
        "`sentinel down && sentinel up` starts it empty"
    )
