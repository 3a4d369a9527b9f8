-- Why a session was cancelled (shown on the public schedule), and a change counter that grows
-- with every change of the session (the calendar feed's SEQUENCE, the basis of admin ETags).
ALTER TABLE class_sessions ADD COLUMN cancellation_reason TEXT
    CHECK (cancellation_reason IS NULL
           OR (status = 'cancelled' AND length(cancellation_reason) <= 500));
ALTER TABLE class_sessions ADD COLUMN version BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1);
