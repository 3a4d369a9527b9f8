-- Catalog and timetable. Times are UTC, stored as ISO-8601 text (Diesel's TIMESTAMP mapping).
CREATE TABLE locations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
    address TEXT NOT NULL,
    city TEXT NOT NULL,
    phone TEXT,
    timezone TEXT NOT NULL CHECK (length(timezone) > 0),
    is_active BOOLEAN NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1))
);
CREATE INDEX locations_active_name_idx ON locations (is_active, name, id);

CREATE TABLE program_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
    description TEXT,
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
    level TEXT NOT NULL CHECK (level IN ('beginner', 'intermediate', 'advanced', 'all')),
    is_active BOOLEAN NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1))
);
CREATE INDEX program_types_active_name_idx ON program_types (is_active, name, id);

CREATE TABLE trainers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    full_name TEXT NOT NULL UNIQUE CHECK (length(trim(full_name)) > 0),
    bio TEXT,
    photo_url TEXT,
    is_active BOOLEAN NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1))
);
CREATE INDEX trainers_active_name_idx ON trainers (is_active, full_name, id);

CREATE TABLE membership_plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    location_id BIGINT NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    description TEXT,
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    visits INTEGER CHECK (visits IS NULL OR visits > 0),
    validity_days INTEGER NOT NULL CHECK (validity_days > 0),
    is_active BOOLEAN NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    UNIQUE (location_id, name)
);
CREATE INDEX membership_plans_active_price_idx ON membership_plans (is_active, price_minor, id);
CREATE INDEX membership_plans_location_price_idx ON membership_plans (location_id, price_minor, id);

CREATE TABLE class_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    location_id BIGINT NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
    program_type_id BIGINT NOT NULL REFERENCES program_types (id) ON DELETE RESTRICT,
    trainer_id BIGINT NOT NULL REFERENCES trainers (id) ON DELETE RESTRICT,
    membership_plan_id BIGINT REFERENCES membership_plans (id) ON DELETE SET NULL,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity > 0),
    status TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    CHECK (ends_at > starts_at)
);
-- The schedule is read by time window, optionally narrowed by location, program or trainer.
CREATE INDEX class_sessions_starts_idx ON class_sessions (starts_at, id);
CREATE INDEX class_sessions_location_starts_idx ON class_sessions (location_id, starts_at, id);
CREATE INDEX class_sessions_program_starts_idx ON class_sessions (program_type_id, starts_at);
CREATE INDEX class_sessions_trainer_location_idx ON class_sessions (trainer_id, location_id, starts_at);
CREATE INDEX class_sessions_plan_idx ON class_sessions (membership_plan_id);
