DROP INDEX IF EXISTS c2c_messages_time;
DROP INDEX IF EXISTS group_messages_time;
DROP TABLE retention_state;
