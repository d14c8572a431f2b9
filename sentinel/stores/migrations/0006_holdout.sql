-- The fixed holdout every promotion gate measures candidate and champion on
-- (sentinel.stores.holdout, training.holdout): made once, a single row, kept as is.
CREATE TABLE holdout (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    description   text NOT NULL,
    row_count     integer NOT NULL CHECK (row_count > 0),
    fraud_count   integer NOT NULL CHECK (fraud_count > 0),
    feature_names jsonb NOT NULL,
    features      bytea NOT NULL,  -- float32, row_count x feature_names, row-major
    labels        bytea NOT NULL,  -- int8, 1 = fraud, one per row
    sha256        text NOT NULL,   -- training.dataset.Dataset.fingerprint of the rows
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Made once: a gate measured on other rows than the last one's would not be comparable.
CREATE FUNCTION holdout_is_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the holdout is fixed: it cannot be changed or removed';
END
$$;
CREATE TRIGGER holdout_is_kept BEFORE UPDATE OR DELETE ON holdout
    FOR EACH ROW EXECUTE FUNCTION holdout_is_kept();
