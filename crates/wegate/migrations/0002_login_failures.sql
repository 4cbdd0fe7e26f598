-- Failed password sign-ins per login (the normalised username/email/phone typed), for lockout. A row lives
-- for one window from its first failure; the sweeper removes it after that.
CREATE TABLE login_failures (
    login      TEXT   NOT NULL PRIMARY KEY,
    failures   BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_failures_expires_at_idx ON login_failures (expires_at);
