-- A transaction id names one transaction per client, not one across all clients
-- (README, "Security model"): a client can no longer make another's future transaction
-- a duplicate. The client is the API key's `client` (its name unless set otherwise).
-- Rows stored before this migration have no known client: they keep '-', which no key
-- can name (a client name starts with a letter or digit).

ALTER TABLE api_keys ADD COLUMN client text;
UPDATE api_keys SET client = name;
ALTER TABLE api_keys ALTER COLUMN client SET NOT NULL;

ALTER TABLE transactions ADD COLUMN client_id text NOT NULL DEFAULT '-';
ALTER TABLE transactions ALTER COLUMN client_id DROP DEFAULT;
ALTER TABLE transactions DROP CONSTRAINT transactions_pkey;
ALTER TABLE transactions ADD PRIMARY KEY (client_id, transaction_id);

ALTER TABLE alerts ADD COLUMN client_id text NOT NULL DEFAULT '-';
ALTER TABLE alerts ALTER COLUMN client_id DROP DEFAULT;
ALTER TABLE alerts DROP CONSTRAINT alerts_pkey;
ALTER TABLE alerts ADD PRIMARY KEY (client_id, transaction_id);

ALTER TABLE labels ADD COLUMN client_id text NOT NULL DEFAULT '-';
ALTER TABLE labels ALTER COLUMN client_id DROP DEFAULT;
DROP INDEX labels_transaction_idx;
CREATE INDEX labels_transaction_idx ON labels (client_id, transaction_id, labelled_at DESC);

-- The UI's keyset pages break ties on the row's identity, now (client_id, transaction_id).
DROP INDEX transactions_scored_idx;
CREATE INDEX transactions_scored_idx ON transactions (scored_at, client_id, transaction_id) INCLUDE (decision, risk_score);
DROP INDEX transactions_risk_idx;
CREATE INDEX transactions_risk_idx ON transactions (risk_score, client_id, transaction_id);
DROP INDEX transactions_amount_idx;
CREATE INDEX transactions_amount_idx ON transactions (amount, client_id, transaction_id);
DROP INDEX transactions_decision_risk_idx;
CREATE INDEX transactions_decision_risk_idx ON transactions (decision, risk_score, client_id, transaction_id);
DROP INDEX transactions_model_idx;
CREATE INDEX transactions_model_idx ON transactions (model_version, scored_at, client_id, transaction_id);
DROP INDEX alerts_status_idx;
CREATE INDEX alerts_status_idx ON alerts (status, created_at, client_id, transaction_id);
-- Looking a transaction up by its id alone (the UI's search), whichever client sent it.
CREATE INDEX transactions_id_idx ON transactions (transaction_id);
