ALTER TABLE group_messages DROP COLUMN msg_priority;
