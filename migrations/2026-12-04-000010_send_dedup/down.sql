DROP INDEX group_messages_dedup;
DROP INDEX c2c_messages_dedup;
