-- A browser session remembers how it was made, so /authorize can decide which apps it may enter without
-- asking: the connection, the upstream identity (space and subject), and a public session id (`sid` in
-- ID tokens). Sessions made before this migration have none of them and enter no app without a new sign-in
-- (except password sessions, which any app's login page offers).
ALTER TABLE sessions ADD COLUMN sid TEXT;
ALTER TABLE sessions ADD COLUMN connection TEXT;
ALTER TABLE sessions ADD COLUMN upstream TEXT;
ALTER TABLE sessions ADD COLUMN subject TEXT;
CREATE INDEX sessions_sid_idx ON sessions (sid);

-- A cap on live login transactions per browser trims the oldest of a browser's transactions.
CREATE INDEX login_tx_browser_idx ON login_tx (browser_hash, created_at);
