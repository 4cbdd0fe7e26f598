-- Audit ids are now time-ordered numbers made by the instance (see `store::sql::audit_id`): one INSERT per
-- event instead of a counter row every instance had to lock. Ids made so far stay smaller than new ones.
DROP TABLE counters;
