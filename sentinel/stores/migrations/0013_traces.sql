-- The trace each decision was made in (sentinel.serving.tracing): 32 lower-case hex digits,
-- the W3C trace id, so the transaction page can link to the user's tracing backend.
-- Decisions made before this, or by a score with tracing off, have none.
ALTER TABLE transactions ADD COLUMN trace_id text CHECK (trace_id ~ '^[0-9a-f]{32}$');
ALTER TABLE alerts ADD COLUMN trace_id text CHECK (trace_id ~ '^[0-9a-f]{32}$');
