-- Scored transactions: one row per transaction_id, written by persist.
CREATE TABLE transactions (
    transaction_id  text PRIMARY KEY,
    user_id         text NOT NULL,
    amount          numeric(14, 2) NOT NULL,
    event_time      timestamptz,
    payload         jsonb NOT NULL,
    risk_score      double precision NOT NULL CHECK (risk_score BETWEEN 0 AND 1),
    decision        text NOT NULL CHECK (decision IN ('approve', 'review', 'block')),
    model_version   text NOT NULL,
    thresholds      jsonb NOT NULL,
    received_at     timestamptz NOT NULL,
    scored_at       timestamptz NOT NULL,
    persisted_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transactions_scored_at_idx ON transactions (scored_at DESC);
CREATE INDEX transactions_user_idx ON transactions (user_id, scored_at DESC);
CREATE INDEX transactions_decision_idx ON transactions (decision, scored_at DESC);

-- Review and block decisions: at most one alert per transaction, written by alert.
CREATE TABLE alerts (
    transaction_id  text PRIMARY KEY,
    user_id         text NOT NULL,
    decision        text NOT NULL CHECK (decision IN ('review', 'block')),
    risk_score      double precision NOT NULL,
    model_version   text NOT NULL,
    reasons         jsonb NOT NULL DEFAULT '[]'::jsonb,
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'acknowledged', 'closed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    webhook_delivered_at timestamptz
);
CREATE INDEX alerts_open_idx ON alerts (created_at) WHERE status = 'open';

-- Analyst or chargeback labels: many per transaction, the latest wins.
CREATE TABLE labels (
    id              bigserial PRIMARY KEY,
    transaction_id  text NOT NULL,
    label           text NOT NULL CHECK (label IN ('fraud', 'legitimate')),
    source          text NOT NULL DEFAULT 'analyst'
                    CHECK (source IN ('analyst', 'chargeback')),
    labelled_by     text NOT NULL,
    labelled_at     timestamptz NOT NULL DEFAULT now(),
    note            text
);
CREATE INDEX labels_transaction_idx ON labels (transaction_id, labelled_at DESC);

-- The model registry.
CREATE TABLE models (
    version         text PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sha256          text NOT NULL,
    onnx            bytea NOT NULL,
    feature_names   jsonb NOT NULL,
    thresholds      jsonb NOT NULL,
    metrics         jsonb NOT NULL DEFAULT '{}'::jsonb,
    data_fingerprint text NOT NULL,
    status          text NOT NULL DEFAULT 'candidate'
                    CHECK (status IN ('candidate', 'champion', 'retired')),
    promoted_at     timestamptz,
    promoted_by     text,
    reason          text
);
-- There is at most one champion at any time.
CREATE UNIQUE INDEX models_one_champion_idx ON models (status) WHERE status = 'champion';
