-- Sessions of the managers' console (`/admin/`; crates/services/src/console_sessions.rs). The
-- browser holds a random token in a cookie; only its SHA-256 is kept here, with the name and
-- fingerprint of the admin key that signed in, until the session expires (the server purges
-- expired rows) or is closed (signing out deletes the row). See the PostgreSQL migration.
CREATE TABLE console_sessions (
    -- Lower-case hex SHA-256 of the session's token (never the token itself).
    token_sha256 TEXT NOT NULL PRIMARY KEY CHECK (length(token_sha256) = 64),
    key_name TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
-- The purge.
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);
