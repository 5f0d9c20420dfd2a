-- A recalled message stays in history as a placeholder (Tencent's MsgFlagBits / IsPlaceMsg) but
-- leaves unread counts and receipt counts, and takes no new receipts.
ALTER TABLE c2c_messages ADD COLUMN recalled_at TIMESTAMPTZ;
ALTER TABLE group_messages ADD COLUMN recalled_at TIMESTAMPTZ;
