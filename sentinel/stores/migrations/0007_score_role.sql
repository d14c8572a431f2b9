-- Score's own role: it reads the model registry and the API keys its callers present,
-- and can write nothing. Whoever provisions the database gives it a password (the local
-- stack, the cluster's prepare Job); where it does not exist yet it is made without
-- login, which needs a migrating role allowed to create roles.
-- A later migration adding a table score reads grants it here too: nothing is granted by default.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sentinel_score') THEN
        CREATE ROLE sentinel_score NOLOGIN;
    END IF;
END
$$;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM sentinel_score;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM sentinel_score;
GRANT SELECT ON models, api_keys TO sentinel_score;
