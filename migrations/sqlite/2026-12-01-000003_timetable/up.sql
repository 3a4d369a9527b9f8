-- The weekly timetable (API.md §6): recurring slots that generate class sessions, the record of
-- which (slot, local date) occurrences were ever generated, hand-edit tracking on sessions, and
-- the lead event kinds of v1.1. (The trainer-overlap rule is checked inside the single SQLite
-- writer's transaction; PostgreSQL has an exclusion constraint.)

CREATE TABLE timetable_slots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    location_id BIGINT NOT NULL REFERENCES locations (id) ON DELETE RESTRICT,
    program_type_id BIGINT NOT NULL REFERENCES program_types (id) ON DELETE RESTRICT,
    trainer_id BIGINT NOT NULL REFERENCES trainers (id) ON DELETE RESTRICT,
    -- ISO weekday: 1 = Monday … 7 = Sunday.
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    -- Local wall-clock start in the location's time zone, minutes after midnight.
    start_minute INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    capacity INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 500),
    valid_from DATE NOT NULL,
    valid_until DATE CHECK (valid_until IS NULL OR valid_until >= valid_from),
    is_active BOOLEAN NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    version BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1)
);
CREATE INDEX timetable_slots_order_idx ON timetable_slots (location_id, weekday, start_minute, id);
CREATE INDEX timetable_slots_program_idx ON timetable_slots (program_type_id);
CREATE INDEX timetable_slots_trainer_idx ON timetable_slots (trainer_id);

-- A session generated from a slot names it (a slot with sessions cannot be deleted: RESTRICT);
-- `edited_by_hand` is set by every admin change of a session, so generation and `apply` leave
-- that session alone.
ALTER TABLE class_sessions ADD COLUMN timetable_slot_id BIGINT
    REFERENCES timetable_slots (id) ON DELETE RESTRICT;
ALTER TABLE class_sessions ADD COLUMN edited_by_hand BOOLEAN NOT NULL DEFAULT 0
    CHECK (edited_by_hand IN (0, 1));
CREATE INDEX class_sessions_slot_idx ON class_sessions (timetable_slot_id, starts_at);
-- The overlap check looks up a trainer's scheduled sessions by time.
CREATE INDEX class_sessions_trainer_starts_idx ON class_sessions (trainer_id, starts_at);

-- Every (slot, local date) that was ever generated: the idempotency key of generation. The row
-- outlives its session (class_session_id becomes NULL), so a deleted session is never
-- generated again; it goes with its slot.
CREATE TABLE timetable_occurrences (
    timetable_slot_id BIGINT NOT NULL REFERENCES timetable_slots (id) ON DELETE CASCADE,
    local_date DATE NOT NULL,
    class_session_id BIGINT REFERENCES class_sessions (id) ON DELETE SET NULL,
    PRIMARY KEY (timetable_slot_id, local_date)
);
CREATE INDEX timetable_occurrences_session_idx ON timetable_occurrences (class_session_id);

-- Lead events gain `assigned` (§3.1) and `session_cancelled` (§6). SQLite cannot change a
-- CHECK constraint, so the table is rebuilt (nothing references lead_events).
CREATE TABLE lead_events_v11 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id BIGINT REFERENCES leads (id) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('created', 'resubmitted', 'status_changed', 'updated', 'erased',
                                       'assigned', 'session_cancelled')),
    actor TEXT NOT NULL CHECK (length(actor) > 0),
    data TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
INSERT INTO lead_events_v11 (id, lead_id, kind, actor, data, created_at)
    SELECT id, lead_id, kind, actor, data, created_at FROM lead_events;
DROP TABLE lead_events;
ALTER TABLE lead_events_v11 RENAME TO lead_events;
CREATE INDEX lead_events_lead_idx ON lead_events (lead_id, id);
