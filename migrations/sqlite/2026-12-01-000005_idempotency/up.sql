-- Idempotency keys (API.md §3.2): one row per (client, endpoint, key). While its request runs
-- the row is a reservation (`locked_until` set, no reply); after a 2xx it keeps the reply
-- (`status`, headers, body) until `expires_at`. A reservation whose lease ran out (its request
-- died with its process) may be taken over; expired rows are purged by the server.
CREATE TABLE idempotency_keys (
    -- `admin:<key name>` or `ip:<client address>`.
    client TEXT NOT NULL CHECK (length(client) BETWEEN 1 AND 512),
    -- `POST <path>`.
    endpoint TEXT NOT NULL CHECK (length(endpoint) BETWEEN 1 AND 1024),
    idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    -- Lower-case hex SHA-256 of the request body.
    request_hash TEXT NOT NULL CHECK (length(request_hash) = 64),
    -- The reservation's owner: only it may renew, complete or release the row.
    lease_token TEXT NOT NULL,
    status INTEGER CHECK (status BETWEEN 200 AND 299),
    -- JSON array of [name, value] pairs.
    response_headers TEXT,
    response_body TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    PRIMARY KEY (client, endpoint, idempotency_key),
    -- Either a reservation (a lease, no reply) or a kept reply (no lease).
    CONSTRAINT idempotency_keys_state_check CHECK (
        (status IS NULL AND response_headers IS NULL AND response_body IS NULL
            AND locked_until IS NOT NULL)
        OR (status IS NOT NULL AND response_headers IS NOT NULL AND response_body IS NOT NULL
            AND locked_until IS NULL)
    )
);
-- The purge.
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
