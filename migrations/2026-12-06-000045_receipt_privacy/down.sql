ALTER TABLE group_receipts DROP COLUMN private;
DROP TABLE receipt_privacy;
