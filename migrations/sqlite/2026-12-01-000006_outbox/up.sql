-- Notifications (API.md §7): the transactional outbox, webhooks, and the deliveries a
-- dispatcher makes with their log.
--
-- An event is written to `outbox_events` in the same transaction as the change it tells of.
-- The dispatcher *routes* it (one `deliveries` row per target, then `routed_at` is set),
-- *claims* due deliveries under an expiring lease (several instances: `FOR UPDATE SKIP
-- LOCKED`, and a lease an instance that died lets run out), and records every attempt in
-- `delivery_attempts`. Events with nothing left to deliver are pruned after a retention period.

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    -- JSON array of event types, e.g. ["lead.created"], non-empty.
    events TEXT NOT NULL CHECK (length(events) > 2),
    active BOOLEAN NOT NULL CHECK (active IN (0, 1)),
    -- Lower-case hex SHA-256 of the secret: the HMAC key. The secret itself is never stored.
    signing_key TEXT NOT NULL CHECK (length(signing_key) = 64),
    -- Since when it has been active without a break (it gets the events from then on);
    -- NULL while inactive.
    active_since TIMESTAMP,
    version BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT webhooks_active_since_check CHECK (active = (active_since IS NOT NULL))
);

CREATE TABLE outbox_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The event's UUID: the delivery body's `id` and header `Cohai-Event-Id`. A random v4
    -- UUID, so no unique index (which every sign-up would pay for) is needed.
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL CHECK (event_type IN ('lead.created', 'lead.resubmitted',
        'lead.status_changed', 'lead.assigned', 'lead.updated', 'lead.erased',
        'class_session.cancelled')),
    -- No foreign key: an event outlives its erased lead.
    lead_id BIGINT,
    -- Whether it came from the public form (Telegram tells of those, API.md §7).
    from_website BOOLEAN NOT NULL CHECK (from_website IN (0, 1)),
    -- The delivery body's `data` object, JSON.
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- When its deliveries were made; NULL until then.
    routed_at TIMESTAMP
);
-- Routing takes the unrouted events in order.
CREATE INDEX outbox_events_unrouted_idx ON outbox_events (id) WHERE routed_at IS NULL;
-- Erasure strips a lead's pending events.
CREATE INDEX outbox_events_lead_idx ON outbox_events (lead_id) WHERE lead_id IS NOT NULL;
-- Pruning.
CREATE INDEX outbox_events_created_idx ON outbox_events (created_at);

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_event_id BIGINT NOT NULL REFERENCES outbox_events (id) ON DELETE CASCADE,
    channel TEXT NOT NULL CHECK (channel IN ('telegram', 'webhook')),
    webhook_id BIGINT REFERENCES webhooks (id) ON DELETE CASCADE,
    chat_id TEXT,
    -- `webhook:<id>` or `telegram:<chat>`: deliveries of one target and lead go out in
    -- event order.
    target TEXT NOT NULL,
    lead_id BIGINT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'dropped')),
    -- Attempts made so far (a redelivery continues the count).
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMP NOT NULL,
    -- A dispatcher's lease: nobody else makes this delivery until it runs out.
    leased_until TIMESTAMP,
    lease_token TEXT,
    -- The first failed attempt since the last success: the retry window's start.
    failing_since TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT deliveries_target_check CHECK (
        (channel = 'webhook' AND webhook_id IS NOT NULL AND chat_id IS NULL)
        OR (channel = 'telegram' AND chat_id IS NOT NULL AND webhook_id IS NULL)
    )
);
-- Claiming: due pending deliveries.
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at, id) WHERE state = 'pending';
-- Order per target and lead.
CREATE INDEX deliveries_order_idx ON deliveries (target, lead_id, outbox_event_id)
    WHERE state = 'pending';
CREATE INDEX deliveries_event_idx ON deliveries (outbox_event_id);
CREATE INDEX deliveries_webhook_idx ON deliveries (webhook_id, state);

-- The deliveries log (API.md §7): one row per attempt.
CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    -- Copied from the delivery, so a webhook's log is one index range.
    webhook_id BIGINT REFERENCES webhooks (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL CHECK (attempt >= 1),
    status_code INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL CHECK (duration_ms >= 0),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX delivery_attempts_webhook_idx ON delivery_attempts (webhook_id, id);
CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id);

-- Telegram pacing: at most one message a second per chat, across instances; a 429's
-- `retry_after` holds the chat longer.
CREATE TABLE telegram_chats (
    chat_id TEXT PRIMARY KEY,
    next_send_at TIMESTAMP NOT NULL
);
