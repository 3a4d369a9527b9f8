-- The deliveries under lease now (being made by some instance, not yet recorded): the claim
-- counts them per webhook, so that one slow receiver's backlog takes at most
-- `per_webhook` of the dispatchers' slots (crates/persistence/src/repos/outbox.rs,
-- `leased_per_webhook`). Recording a delivery clears its lease, so this index stays as small
-- as the number of deliveries in flight.
CREATE INDEX deliveries_leased_idx ON deliveries (webhook_id, leased_until)
    WHERE leased_until IS NOT NULL;
