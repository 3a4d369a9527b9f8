-- The lead form's per-client rate limit, shared by every server instance on this database
-- (API.md §3; the algorithm is in crates/domain/src/rate_limit.rs). One row per client: its
-- theoretical arrival time, in microseconds since the Unix epoch. A row whose time has passed
-- is as good as none; the server purges them.
--
-- UNLOGGED: no write-ahead log, so a submission's upsert waits for no fsync. After a crash
-- PostgreSQL empties the table (and standbys do not have it): every client starts with its
-- whole allowance, which is the cost of a counter that is not worth a disk flush per request.
CREATE UNLOGGED TABLE rate_limits (
    -- `lead:<client address>`.
    client TEXT PRIMARY KEY CHECK (length(client) BETWEEN 1 AND 512),
    tat_us BIGINT NOT NULL
);
