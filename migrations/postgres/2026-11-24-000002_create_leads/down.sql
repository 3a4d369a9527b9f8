DROP TABLE lead_events;
DROP TABLE leads;
