DROP TABLE class_sessions;
DROP TABLE membership_plans;
DROP TABLE trainers;
DROP TABLE program_types;
DROP TABLE locations;
