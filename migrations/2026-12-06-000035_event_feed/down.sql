DROP FUNCTION imr_enqueue_event(TEXT, TEXT, TEXT, TEXT, TEXT);
DROP FUNCTION imr_new_event_id();
DROP TABLE receipt_feed_state;
DROP INDEX webhook_events_feed;
ALTER TABLE webhook_events DROP COLUMN feed_txid;
ALTER TABLE receipt_config DROP COLUMN event_feed, DROP COLUMN event_feed_retention_secs;
