DROP TABLE group_receipts;
DROP TABLE group_messages;
