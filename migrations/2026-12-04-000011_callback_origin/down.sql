ALTER TABLE webhook_events DROP COLUMN client_ip, DROP COLUMN opt_platform;
