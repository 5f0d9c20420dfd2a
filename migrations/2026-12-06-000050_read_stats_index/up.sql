-- get_read_stats over a time range of a group: its receipt-requesting messages by send time,
-- in the order the range is cut (MsgTime, then MsgSeq), without reading the others.
CREATE INDEX group_messages_receipt_time ON group_messages (group_id, msg_time, msg_seq)
    WHERE need_receipt AND recalled_at IS NULL;
