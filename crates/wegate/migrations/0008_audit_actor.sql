-- Who made an admin change (the admin API's token, or the console's user): admin events record the actor
-- beside the object and the fields changed (never a value of a secret).
ALTER TABLE audit_events ADD COLUMN actor TEXT;
