"""What makes a retry a retry: the same client, the same transaction id, the same payload.

As payment APIs treat an idempotency key, a transaction id names one transaction per
client. A second submission with the same id and the same payload (its fingerprint) is a
retry and gets the first answer again; the same id with a different payload is a
conflict (409), never silently taken for the first.
"""

from __future__ import annotations

import hashlib

from sentinel.core.integrity import canonical_json
from sentinel.core.transaction import Transaction


def fingerprint(item: Transaction) -> str:
    """A digest of the transaction as validated: equal for equal values, however they were written."""
    return hashlib.sha256(canonical_json(item)).hexdigest()


def conflict_message(client_id: str, transaction_id: str) -> str:
    return (
        f"transaction {transaction_id} was submitted before by {client_id} with a different payload;"
        " a transaction id names one transaction: use a new id for a new transaction"
    )
