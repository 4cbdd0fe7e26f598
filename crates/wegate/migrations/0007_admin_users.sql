-- The console (CONTRACT.md, "Console"): users with `admin` may sign in to /console.
ALTER TABLE users ADD COLUMN admin BIGINT NOT NULL DEFAULT 0;
