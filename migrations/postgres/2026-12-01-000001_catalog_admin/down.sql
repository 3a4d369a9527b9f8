DROP TABLE audit_log;
ALTER TABLE membership_plans DROP COLUMN version;
ALTER TABLE trainers DROP COLUMN version;
ALTER TABLE program_types DROP COLUMN version;
ALTER TABLE locations DROP COLUMN version;
