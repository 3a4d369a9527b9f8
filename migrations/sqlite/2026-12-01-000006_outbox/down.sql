DROP TABLE telegram_chats;
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
DROP TABLE outbox_events;
DROP TABLE webhooks;
