DROP INDEX leads_program_type_idx;
CREATE INDEX leads_program_type_idx ON leads (program_type_id);
DROP INDEX leads_class_session_idx;
CREATE INDEX leads_class_session_idx ON leads (class_session_id);
DROP INDEX leads_next_contact_idx;
CREATE INDEX leads_next_contact_idx ON leads (next_contact_at, id);
DROP INDEX leads_overdue_idx;
CREATE INDEX leads_overdue_idx ON leads (next_contact_at, id)
    WHERE (status || '') IN ('new', 'contacted', 'trial_scheduled');
