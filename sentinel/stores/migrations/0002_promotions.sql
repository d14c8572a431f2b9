-- Every change of champion, oldest first: who made it, why, and what the gate measured.
CREATE TABLE promotions (
    id               bigserial PRIMARY KEY,
    version          text NOT NULL REFERENCES models (version),
    previous_version text REFERENCES models (version),
    action           text NOT NULL CHECK (action IN ('promote', 'rollback')),
    forced           boolean NOT NULL DEFAULT false,
    promoted_by      text NOT NULL,
    reason           text NOT NULL,
    gate             jsonb,
    promoted_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX promotions_version_idx ON promotions (version, id DESC);
-- A champion promoted before this table existed starts the history.
INSERT INTO promotions (version, action, promoted_by, reason, promoted_at)
SELECT version, 'promote', coalesce(promoted_by, 'unknown'), coalesce(reason, ''), coalesce(promoted_at, created_at)
FROM models WHERE status = 'champion';
