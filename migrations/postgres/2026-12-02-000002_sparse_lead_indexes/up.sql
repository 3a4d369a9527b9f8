-- A lead from the website form has no program, class session or call-back, so index entries
-- for those columns are only ever NULL for most leads: every submission paid for three index
-- insertions (four with `leads_overdue_idx`) that no query reads. Every query on these
-- columns compares them (`= ?`, `< ?`, `>= ?`, `IS NOT NULL`), which implies NOT NULL, so both
-- planners use partial indexes without the NULLs as they used the full ones; the foreign keys'
-- checks on deleting a program type or a session compare with `=` too.
DROP INDEX leads_program_type_idx;
CREATE INDEX leads_program_type_idx ON leads (program_type_id) WHERE program_type_id IS NOT NULL;
DROP INDEX leads_class_session_idx;
CREATE INDEX leads_class_session_idx ON leads (class_session_id) WHERE class_session_id IS NOT NULL;
-- `next_contact_from`/`next_contact_to` and the `next_contact_at` order's first part (the
-- leads with a call-back; those without come after, in id order).
DROP INDEX leads_next_contact_idx;
CREATE INDEX leads_next_contact_idx ON leads (next_contact_at, id) WHERE next_contact_at IS NOT NULL;
-- `overdue=true`: open leads whose call-back is before now (see 2026-12-01-000004_lead_work).
DROP INDEX leads_overdue_idx;
CREATE INDEX leads_overdue_idx ON leads (next_contact_at, id)
    WHERE (status || '') IN ('new', 'contacted', 'trial_scheduled') AND next_contact_at IS NOT NULL;
