-- A challenger in shadow: score evaluates it beside the champion on every event and
-- records what it would have decided, without acting on it. At most one at a time.
ALTER TABLE models ADD COLUMN shadow boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX models_one_shadow_idx ON models (shadow) WHERE shadow;

-- {"model_version", "risk_score", "decision"} of the challenger, when one was in shadow.
ALTER TABLE transactions ADD COLUMN shadow jsonb;
CREATE INDEX transactions_shadow_idx ON transactions ((shadow ->> 'model_version'), scored_at)
    WHERE shadow IS NOT NULL;
