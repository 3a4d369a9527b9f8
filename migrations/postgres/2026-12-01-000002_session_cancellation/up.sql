-- Why a session was cancelled (shown on the public schedule), and a change counter that grows
-- with every change of the session (the calendar feed's SEQUENCE, the basis of admin ETags).
ALTER TABLE class_sessions
    ADD COLUMN cancellation_reason TEXT,
    ADD COLUMN version BIGINT NOT NULL DEFAULT 1,
    ADD CONSTRAINT class_sessions_cancellation_reason_check CHECK (
        cancellation_reason IS NULL
        OR (status = 'cancelled' AND char_length(cancellation_reason) <= 500)
    ),
    ADD CONSTRAINT class_sessions_version_check CHECK (version >= 1);
