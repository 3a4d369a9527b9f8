-- Catalog administration: a version per catalog row (for ETag/If-Match) and the audit log.
ALTER TABLE locations ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE program_types ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE trainers ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE membership_plans ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- Who changed what in the catalog; `changes` is a JSON object {field: {"from", "to"}}.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL CHECK (entity IN ('location', 'program_type', 'trainer', 'membership_plan', 'class_session', 'timetable_slot', 'webhook')),
    entity_id BIGINT,
    action TEXT NOT NULL CHECK (action IN ('created', 'updated', 'deleted', 'cancelled', 'generated')),
    actor TEXT NOT NULL CHECK (length(actor) > 0),
    changes TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
-- The list is newest first (by id), filtered by entity (and id) and/or actor.
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
