ALTER TABLE class_sessions DROP COLUMN version;
ALTER TABLE class_sessions DROP COLUMN cancellation_reason;
