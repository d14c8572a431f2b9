-- Rules beside the model (sentinel.core.rules). Every change of a rule is a new row,
-- never an update: the newest version of each name is the rule in force, the
-- highest id says which revision of the rules a score process holds, and the rows
-- before it are the rule's history. Who changed what is also in the audit log.
CREATE TABLE rules (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    version     integer NOT NULL CHECK (version > 0),
    expression  text NOT NULL,
    action      text NOT NULL CHECK (action IN ('allow', 'review', 'block')),
    priority    integer NOT NULL CHECK (priority >= 0),
    enabled     boolean NOT NULL,
    description text NOT NULL DEFAULT '',
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);
CREATE FUNCTION rules_are_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rules are versioned: add a version instead of changing or removing one';
END
$$;
CREATE TRIGGER rules_are_history BEFORE UPDATE OR DELETE ON rules
    FOR EACH ROW EXECUTE FUNCTION rules_are_history();
GRANT SELECT ON rules TO sentinel_score;

-- The rule that decided, when one did: {"name", "version", "action"}.
ALTER TABLE transactions ADD COLUMN rule jsonb;
ALTER TABLE alerts ADD COLUMN rule jsonb;
