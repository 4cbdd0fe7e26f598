-- Key rotation: a key published before it signs. NULL = signing since created_at (every key before rotation).
-- A key waiting to sign holds the slot 'next:<alg>' (at most one per algorithm) until it starts.
ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT;
