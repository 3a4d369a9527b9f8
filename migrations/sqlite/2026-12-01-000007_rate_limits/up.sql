-- The lead form's per-client rate limit kept in the database (see the PostgreSQL migration).
-- On SQLite the server limits in memory (one process serves an SQLite file); the table keeps
-- both schemas alike and the repository testable on both.
CREATE TABLE rate_limits (
    -- `lead:<client address>`.
    client TEXT PRIMARY KEY CHECK (length(client) BETWEEN 1 AND 512),
    tat_us BIGINT NOT NULL
);
