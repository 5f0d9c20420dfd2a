-- A retried send (same sender and MsgRandom/Random within the de-duplication window) finds the
-- message it already created through these indexes.
CREATE INDEX c2c_messages_dedup ON c2c_messages (from_account, msg_random, msg_time);
CREATE INDEX group_messages_dedup ON group_messages (group_id, msg_random, msg_time);
