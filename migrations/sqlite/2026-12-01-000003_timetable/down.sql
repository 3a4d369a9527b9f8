CREATE TABLE lead_events_v1 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id BIGINT REFERENCES leads (id) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('created', 'resubmitted', 'status_changed', 'updated', 'erased')),
    actor TEXT NOT NULL CHECK (length(actor) > 0),
    data TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
INSERT INTO lead_events_v1 (id, lead_id, kind, actor, data, created_at)
    SELECT id, lead_id, kind, actor, data, created_at FROM lead_events
    WHERE kind NOT IN ('assigned', 'session_cancelled');
DROP TABLE lead_events;
ALTER TABLE lead_events_v1 RENAME TO lead_events;
CREATE INDEX lead_events_lead_idx ON lead_events (lead_id, id);

DROP TABLE timetable_occurrences;
DROP INDEX class_sessions_trainer_starts_idx;
DROP INDEX class_sessions_slot_idx;
ALTER TABLE class_sessions DROP COLUMN edited_by_hand;
ALTER TABLE class_sessions DROP COLUMN timetable_slot_id;
DROP TABLE timetable_slots;
