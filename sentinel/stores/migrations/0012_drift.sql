-- Drift (docs/model-lifecycle.md, "Drift"). A model's training profile: for each column it
-- takes and for its risk score, the deciles of its training data and the share of rows
-- in each bin (sentinel.core.drift.Profile). Models registered before this have none.
ALTER TABLE models ADD COLUMN training_profile jsonb;

-- Each drift check: recent traffic in a window against the champion's training profile.
CREATE TABLE drift_reports (
    id               bigserial PRIMARY KEY,
    checked_at       timestamptz NOT NULL DEFAULT now(),
    champion_version text,
    window_start     timestamptz NOT NULL,
    window_end       timestamptz NOT NULL,
    rows             integer NOT NULL CHECK (rows >= 0),
    psi              jsonb NOT NULL DEFAULT '{}'::jsonb,
    max_psi          double precision,
    risk_score_psi   double precision,
    threshold        double precision NOT NULL,
    alerting         boolean NOT NULL,
    status           text NOT NULL
                     CHECK (status IN ('compared', 'too_few_rows', 'no_profile', 'no_champion')),
    message          text NOT NULL
);
CREATE INDEX drift_reports_checked_idx ON drift_reports (checked_at DESC, id DESC);
