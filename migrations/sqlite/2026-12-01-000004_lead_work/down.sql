DROP INDEX lead_events_first_contact_idx;
DROP INDEX leads_overdue_idx;
DROP INDEX leads_next_contact_idx;
DROP INDEX leads_assignee_created_idx;
ALTER TABLE leads DROP COLUMN consent_at;
ALTER TABLE leads DROP COLUMN lost_reason;
ALTER TABLE leads DROP COLUMN next_contact_at;
ALTER TABLE leads DROP COLUMN assignee;
