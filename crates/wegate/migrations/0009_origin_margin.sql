-- A grant's origin now outlives the newest token of its grant by a day, and a refresh of a connection's
-- grant without its origin is refused (its membership could not be re-checked). Origins written before were
-- kept up to a day short of their newest token: they get that day now.
UPDATE grant_origins SET expires_at = expires_at + 86400;
