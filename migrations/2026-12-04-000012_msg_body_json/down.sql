-- Fails while a stored body holds a NUL character (jsonb cannot represent it).
ALTER TABLE group_messages ALTER COLUMN msg_body TYPE jsonb USING msg_body::jsonb;
ALTER TABLE c2c_messages ALTER COLUMN msg_body TYPE jsonb USING msg_body::jsonb;
