-- Leads (sign-up requests) and their history.
CREATE TABLE leads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    phone TEXT NOT NULL CHECK (phone LIKE '+%' AND length(phone) BETWEEN 8 AND 16),
    email TEXT CHECK (email IS NULL OR length(email) <= 254),
    message TEXT CHECK (message IS NULL OR length(message) <= 2000),
    location_id BIGINT REFERENCES locations (id) ON DELETE SET NULL,
    program_type_id BIGINT REFERENCES program_types (id) ON DELETE SET NULL,
    class_session_id BIGINT REFERENCES class_sessions (id) ON DELETE SET NULL,
    source TEXT NOT NULL CHECK (source IN ('website', 'instagram', 'telegram', 'vk', 'phone', 'walk_in', 'referral', 'other')),
    status TEXT NOT NULL CHECK (status IN ('new', 'contacted', 'trial_scheduled', 'converted', 'lost')),
    notes TEXT CHECK (notes IS NULL OR length(notes) <= 5000),
    utm_source TEXT CHECK (utm_source IS NULL OR length(utm_source) <= 100),
    utm_medium TEXT CHECK (utm_medium IS NULL OR length(utm_medium) <= 100),
    utm_campaign TEXT CHECK (utm_campaign IS NULL OR length(utm_campaign) <= 100),
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX leads_created_idx ON leads (created_at, id);
CREATE INDEX leads_updated_idx ON leads (updated_at, id);
CREATE INDEX leads_status_created_idx ON leads (status, created_at, id);
CREATE INDEX leads_source_created_idx ON leads (source, created_at, id);
CREATE INDEX leads_location_created_idx ON leads (location_id, created_at, id);
CREATE INDEX leads_phone_created_idx ON leads (phone, created_at);
CREATE INDEX leads_program_type_idx ON leads (program_type_id);
CREATE INDEX leads_class_session_idx ON leads (class_session_id);

-- Events outlive an erased lead (lead_id becomes NULL) with their personal data stripped.
CREATE TABLE lead_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id BIGINT REFERENCES leads (id) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('created', 'resubmitted', 'status_changed', 'updated', 'erased')),
    actor TEXT NOT NULL CHECK (length(actor) > 0),
    data TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX lead_events_lead_idx ON lead_events (lead_id, id);
