-- Where the request that caused an event came from: the callback's ClientIP and OptPlatform.
ALTER TABLE webhook_events
    ADD COLUMN client_ip    TEXT NOT NULL DEFAULT '',
    ADD COLUMN opt_platform TEXT NOT NULL DEFAULT 'RESTAPI';
