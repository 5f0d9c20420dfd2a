-- Tencent's message priority, answered by group history as an integer: 1 High, 2 Normal,
-- 3 Low, 4 Lowest (send_group_msg takes the names).
ALTER TABLE group_messages ADD COLUMN msg_priority SMALLINT NOT NULL DEFAULT 2 CHECK (msg_priority BETWEEN 1 AND 4);
