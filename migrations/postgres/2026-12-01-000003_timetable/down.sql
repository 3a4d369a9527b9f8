DELETE FROM lead_events WHERE kind IN ('assigned', 'session_cancelled');
ALTER TABLE lead_events DROP CONSTRAINT lead_events_kind_check;
ALTER TABLE lead_events ADD CONSTRAINT lead_events_kind_check CHECK (
    kind IN ('created', 'resubmitted', 'status_changed', 'updated', 'erased')
);
ALTER TABLE class_sessions DROP CONSTRAINT class_sessions_trainer_overlap_excl;
DROP TABLE timetable_occurrences;
DROP INDEX class_sessions_slot_idx;
ALTER TABLE class_sessions DROP COLUMN edited_by_hand, DROP COLUMN timetable_slot_id;
DROP TABLE timetable_slots;
