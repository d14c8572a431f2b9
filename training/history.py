"""Labelled history from PostgreSQL: scored transactions joined with their latest label.

Analysts and chargebacks write labels (many per transaction, the latest wins);
persist stored each transaction's full payload. Unlabelled transactions are left
out: nobody has said yet whether they were fraud. Rows come in event-time order
(the time the transaction was received when it carried none), so training splits
them by time.
"""

from __future__ import annotations

from datetime import UTC

import numpy as np

from sentinel.core.transaction import FEATURE_NAMES
from sentinel.stores import database
from training.dataset import REQUIRED_COLUMNS, Dataset, from_rows, to_numbers

LABELLED_TRANSACTIONS = """
SELECT t.transaction_id, t.user_id, coalesce(t.event_time, t.received_at) AS moment, t.payload, latest.label
FROM transactions t
JOIN (
    SELECT DISTINCT ON (client_id, transaction_id) client_id, transaction_id, label
    FROM labels
    ORDER BY client_id, transaction_id, labelled_at DESC, id DESC
) latest USING (client_id, transaction_id)
ORDER BY moment, t.client_id, t.transaction_id
"""


def read(database_url: str) -> Dataset:
    """Every labelled transaction as a Dataset; raises DataError when there is nothing usable."""
    origin = "the labelled history in PostgreSQL"
    with database.connect(database_url) as conn:
        rows = conn.execute(LABELLED_TRANSACTIONS).fetchall()
    ids = [row[0] for row in rows]
    values = to_numbers(
        [[row[3].get(name) for name in FEATURE_NAMES] + [1 if row[4] == "fraud" else 0] for row in rows],
        columns=REQUIRED_COLUMNS,
        origin=origin,
        row_label=lambda index: f"transaction {ids[index]}",
    )
    return from_rows(
        values,
        columns=REQUIRED_COLUMNS,
        origin=origin,
        row_label=lambda index: f"transaction {ids[index]}",
        user_ids=np.array([row[1] for row in rows], dtype=str),
        event_times=np.array([row[2].astimezone(UTC).replace(tzinfo=None) for row in rows], dtype="datetime64[s]"),
    )
