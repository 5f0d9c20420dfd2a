ALTER TABLE receipt_config DROP COLUMN group_read_deadline;
