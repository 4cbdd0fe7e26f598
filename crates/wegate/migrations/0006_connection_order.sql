-- The login page's button order is the app's to choose (CONTRACT.md, "Login page and set-up aids"):
-- `position` is the admin's order (ascending; 0 unless set), `ord` stays the association sequence that breaks
-- ties.
ALTER TABLE app_connections ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
