-- Retention (deliveries::purge_finished) takes the oldest finished deliveries and the oldest
-- events first; these indexes keep each batch from scanning the whole table.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE state IN (2, 3);
CREATE INDEX webhook_events_created ON webhook_events (created_at);
