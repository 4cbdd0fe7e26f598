-- Member lifecycle (CONTRACT.md, "Member lifecycle"): an admin may disable a user; an app may take OIDC
-- Back-Channel Logout tokens; and every grant remembers where its sign-in came from (the connection and the
-- upstream identity) and when WeCom last confirmed that the member is still there, so a refresh can re-check
-- membership and a departed member's grants can be found and revoked, with the apps (and sids) to notify.
ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN backchannel_logout_uri TEXT;

CREATE TABLE grant_origins (
    grant_id   TEXT   NOT NULL PRIMARY KEY,
    user_id    TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    sid        TEXT,
    connection TEXT,
    upstream   TEXT,
    subject    TEXT,
    checked_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX grant_origins_user_id_idx ON grant_origins (user_id);
CREATE INDEX grant_origins_expires_at_idx ON grant_origins (expires_at);
