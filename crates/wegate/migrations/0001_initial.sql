-- wegate's schema. One file for SQLite and PostgreSQL: TEXT and BIGINT columns only (booleans are 0/1, JSON
-- is text, times are Unix seconds), no BLOB, no SERIAL. Index names matter: the store derives the field of a
-- uniqueness conflict from them (PostgreSQL reports the index, SQLite the table and column).

-- ---------------------------------------------------------------- signing keys

CREATE TABLE signing_keys (
    kid         TEXT   NOT NULL PRIMARY KEY,
    alg         TEXT   NOT NULL,
    private_pem TEXT   NOT NULL,
    public_jwk  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT,
    -- 'active' on the active key, NULL on retired ones. The unique index turns "at most one active key" into a
    -- database rule, so instances racing to create the first key agree on one.
    slot        TEXT
);
CREATE UNIQUE INDEX signing_keys_slot_key ON signing_keys (slot);

-- ---------------------------------------------------------------- apps and connections

CREATE TABLE apps (
    client_id                 TEXT   NOT NULL PRIMARY KEY,
    name                      TEXT   NOT NULL,
    kind                      TEXT   NOT NULL,
    client_secret_hash        TEXT,
    redirect_uris             TEXT   NOT NULL, -- JSON array
    post_logout_redirect_uris TEXT   NOT NULL, -- JSON array
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);

CREATE TABLE connections (
    identifier   TEXT   NOT NULL PRIMARY KEY,
    kind         TEXT   NOT NULL,
    display_name TEXT   NOT NULL,
    login_only   BIGINT NOT NULL, -- 0 or 1
    association  TEXT   NOT NULL, -- JSON
    settings     TEXT   NOT NULL, -- JSON
    secrets      TEXT   NOT NULL, -- JSON
    state        TEXT   NOT NULL, -- JSON object
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE app_connections (
    client_id  TEXT   NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    identifier TEXT   NOT NULL REFERENCES connections (identifier) ON DELETE CASCADE,
    -- Association order within the app (buttons on the login page follow it).
    ord        BIGINT NOT NULL,
    PRIMARY KEY (client_id, identifier)
);
CREATE INDEX app_connections_identifier_idx ON app_connections (identifier);

-- ---------------------------------------------------------------- users and identities

CREATE TABLE users (
    id            TEXT   NOT NULL PRIMARY KEY,
    username      TEXT,
    username_norm TEXT, -- normalize_username(username)
    email         TEXT,
    email_norm    TEXT, -- normalize_email(email)
    phone         TEXT,
    phone_norm    TEXT, -- normalize_phone(phone)
    name          TEXT,
    picture       TEXT,
    password_hash TEXT,
    claims        TEXT   NOT NULL, -- JSON
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
-- NULLs are distinct in unique indexes on both databases: users without an email do not collide.
CREATE UNIQUE INDEX users_username_norm_key ON users (username_norm);
CREATE UNIQUE INDEX users_email_norm_key ON users (email_norm);
CREATE UNIQUE INDEX users_phone_norm_key ON users (phone_norm);

CREATE TABLE identities (
    upstream   TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- No foreign key: identities outlive the connection they last signed in through.
    connection TEXT   NOT NULL,
    profile    TEXT   NOT NULL, -- JSON
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (upstream, subject)
);
CREATE INDEX identities_user_id_idx ON identities (user_id);

-- ---------------------------------------------------------------- OIDC state

CREATE TABLE login_tx (
    id                    TEXT   NOT NULL PRIMARY KEY,
    browser_hash          TEXT   NOT NULL,
    client_id             TEXT   NOT NULL,
    redirect_uri          TEXT   NOT NULL,
    scope                 TEXT   NOT NULL,
    state                 TEXT,
    nonce                 TEXT,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    response_mode         TEXT,
    prompt                TEXT,
    max_age               BIGINT,
    ui_locales            TEXT,
    connection            TEXT,
    data                  TEXT   NOT NULL, -- JSON
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL
);
CREATE INDEX login_tx_expires_at_idx ON login_tx (expires_at);

-- Codes and refresh tokens are keyed by the SHA-256 of the secret; `used_at` is set by the one consume that wins.
CREATE TABLE auth_codes (
    code_hash             TEXT   NOT NULL PRIMARY KEY,
    grant_id              TEXT   NOT NULL,
    client_id             TEXT   NOT NULL,
    user_id               TEXT   NOT NULL,
    redirect_uri          TEXT   NOT NULL,
    scope                 TEXT   NOT NULL,
    nonce                 TEXT,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    session_id            TEXT,
    auth_time             BIGINT NOT NULL,
    amr                   TEXT   NOT NULL,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    used_at               BIGINT
);
CREATE INDEX auth_codes_expires_at_idx ON auth_codes (expires_at);
CREATE INDEX auth_codes_user_id_idx ON auth_codes (user_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT   NOT NULL PRIMARY KEY,
    grant_id   TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    scope      TEXT   NOT NULL,
    session_id TEXT,
    auth_time  BIGINT NOT NULL,
    amr        TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_grant_id_idx ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

CREATE TABLE revoked_grants (
    grant_id   TEXT   NOT NULL PRIMARY KEY,
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_grants_expires_at_idx ON revoked_grants (expires_at);

CREATE TABLE revoked_access_tokens (
    jti        TEXT   NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_access_tokens_expires_at_idx ON revoked_access_tokens (expires_at);

CREATE TABLE sessions (
    id_hash    TEXT   NOT NULL PRIMARY KEY,
    user_id    TEXT   NOT NULL,
    auth_time  BIGINT NOT NULL,
    amr        TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- ---------------------------------------------------------------- WeCom shared state

CREATE TABLE upstream_tokens (
    cache_key  TEXT   NOT NULL PRIMARY KEY,
    token      TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE leases (
    lease_key  TEXT   NOT NULL PRIMARY KEY,
    owner      TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE suite_tickets (
    suite_id    TEXT   NOT NULL PRIMARY KEY,
    ticket      TEXT   NOT NULL,
    received_at BIGINT NOT NULL
);

CREATE TABLE authorized_corps (
    connection     TEXT   NOT NULL,
    corp_id        TEXT   NOT NULL,
    corp_name      TEXT,
    agent_id       BIGINT,
    permanent_code TEXT,
    status         TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (connection, corp_id)
);

CREATE TABLE callback_keys (
    callback_key TEXT   NOT NULL PRIMARY KEY,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX callback_keys_expires_at_idx ON callback_keys (expires_at);

-- ---------------------------------------------------------------- audit

-- Ids come from `counters` (one atomic UPDATE ... RETURNING per event): SQLite's INTEGER PRIMARY KEY and
-- PostgreSQL's BIGSERIAL have no common spelling.
CREATE TABLE audit_events (
    id               BIGINT NOT NULL PRIMARY KEY,
    occurred_at      BIGINT NOT NULL,
    event            TEXT   NOT NULL,
    client_id        TEXT,
    connection       TEXT,
    user_id          TEXT,
    upstream_subject TEXT,
    reason           TEXT
);

CREATE TABLE counters (
    name    TEXT   NOT NULL PRIMARY KEY,
    last_id BIGINT NOT NULL
);
INSERT INTO counters (name, last_id) VALUES ('audit_events', 0);
