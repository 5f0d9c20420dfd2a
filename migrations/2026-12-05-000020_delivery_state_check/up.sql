-- webhook_deliveries.state holds a DeliveryState code (src/webhooks/deliveries.rs):
-- 0 pending, 1 in flight, 2 succeeded, 3 dead, 4 paused. Anything else is a bug.
-- NOT VALID then VALIDATE: the check of existing rows does not block writes.
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_state_known CHECK (state BETWEEN 0 AND 4) NOT VALID;
ALTER TABLE webhook_deliveries VALIDATE CONSTRAINT webhook_deliveries_state_known;
