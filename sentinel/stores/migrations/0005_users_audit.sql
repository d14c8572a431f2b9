-- People who log in to the UI. Passwords are kept as Argon2id hashes only.
CREATE TABLE users (
    name           text PRIMARY KEY,
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('analyst', 'admin')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    disabled_at    timestamptz
);

-- Logged-in browsers: only the SHA-256 of each session token is kept. Logging out,
-- expiry and disabling the user end a session.
CREATE TABLE ui_sessions (
    token_hash  text PRIMARY KEY,
    user_name   text NOT NULL REFERENCES users (name),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX ui_sessions_user_idx ON ui_sessions (user_name) WHERE ended_at IS NULL;

-- Who did what and when. Rows are only ever added: the trigger below refuses to
-- change or remove them, whoever asks.
CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    action   text NOT NULL,
    subject  text NOT NULL,
    details  jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, id DESC);
-- Recent failed logins per name and per address: the login attempt limit counts these.
CREATE INDEX audit_log_failed_login_name_idx ON audit_log (subject, at) WHERE action = 'login.failed';
CREATE INDEX audit_log_failed_login_address_idx ON audit_log ((details->>'address'), at)
    WHERE action = 'login.failed';

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
