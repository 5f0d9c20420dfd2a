DROP INDEX webhook_events_created;
DROP INDEX webhook_deliveries_finished;
