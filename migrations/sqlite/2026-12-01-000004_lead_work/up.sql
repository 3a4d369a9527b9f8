-- Working the leads (API.md §3.1): an owner (the name of an admin key), a call-back instant, a
-- lost reason and the instant of consent, with an index for each new list filter.
ALTER TABLE leads ADD COLUMN assignee TEXT CHECK (assignee IS NULL OR length(assignee) > 0);
ALTER TABLE leads ADD COLUMN next_contact_at TIMESTAMP;
ALTER TABLE leads ADD COLUMN lost_reason TEXT
    CHECK (lost_reason IS NULL OR length(lost_reason) BETWEEN 1 AND 200);
ALTER TABLE leads ADD COLUMN consent_at TIMESTAMP;

-- The public form has always required consent: a lead it created was consented to when created.
UPDATE leads SET consent_at = created_at
WHERE EXISTS (SELECT 1 FROM lead_events e
              WHERE e.lead_id = leads.id AND e.kind = 'created' AND e.actor = 'website');

-- `assignee=` (a name, or `none`: IS NULL), in the list's default order.
CREATE INDEX leads_assignee_created_idx ON leads (assignee, created_at, id);
-- `next_contact_from`/`next_contact_to` and the `next_contact_at` order (its non-null part).
CREATE INDEX leads_next_contact_idx ON leads (next_contact_at, id);
-- `overdue=true`: open leads whose call-back is before now. The query states the open statuses
-- exactly as here (a planner uses a partial index only then); as an expression of `status`, so
-- that the status index cannot serve that condition instead.
CREATE INDEX leads_overdue_idx ON leads (next_contact_at, id)
    WHERE (status || '') IN ('new', 'contacted', 'trial_scheduled');
-- The stats' first contact of a lead: its first `status_changed` away from `new`.
CREATE INDEX lead_events_first_contact_idx ON lead_events (lead_id, created_at)
    WHERE kind = 'status_changed' AND json_extract(data, '$.from') = 'new';
