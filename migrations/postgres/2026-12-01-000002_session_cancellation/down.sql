ALTER TABLE class_sessions
    DROP CONSTRAINT class_sessions_version_check,
    DROP CONSTRAINT class_sessions_cancellation_reason_check,
    DROP COLUMN version,
    DROP COLUMN cancellation_reason;
