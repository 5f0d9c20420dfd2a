ALTER TABLE group_messages DROP COLUMN recalled_at;
ALTER TABLE c2c_messages DROP COLUMN recalled_at;
