DROP FUNCTION imr_group_milestones(TEXT, BIGINT, TEXT, BIGINT, BIGINT, INT, INT, SMALLINT, TEXT, TEXT, TIMESTAMPTZ);
ALTER TABLE c2c_messages DROP COLUMN all_read_at;
ALTER TABLE receipt_config DROP COLUMN group_read_threshold;
DROP TABLE group_msg_milestones;
DROP INDEX group_members_left;
ALTER TABLE group_messages DROP COLUMN read_threshold, DROP COLUMN departed_unread;
