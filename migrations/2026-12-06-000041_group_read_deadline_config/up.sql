-- Per group type defaults of ReadDeadlineSeconds, e.g. {"Public": 600}.
ALTER TABLE receipt_config ADD COLUMN group_read_deadline JSONB NOT NULL DEFAULT '{}';
