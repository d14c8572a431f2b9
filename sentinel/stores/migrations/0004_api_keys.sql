-- API keys: only the SHA-256 of each key is kept (sentinel.core.api_keys). A name
-- belongs to one live key at a time; revoked keys stay for the record.
CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    key_hash    text NOT NULL UNIQUE,
    scopes      text[] NOT NULL,
    -- Requests a second the key may make to ingest and score; NULL: the deployment's default.
    rate_per_s  integer CHECK (rate_per_s > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE UNIQUE INDEX api_keys_live_name_idx ON api_keys (name) WHERE revoked_at IS NULL;
