-- The pull feed of receipt events (receipt_svc/get_receipt_events) and one function that
-- queues an event for the subscribed endpoints and, when the feed is on, for the feed.
ALTER TABLE receipt_config
    ADD COLUMN event_feed                BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN event_feed_retention_secs INT NOT NULL DEFAULT 604800
        CHECK (event_feed_retention_secs BETWEEN 60 AND 31536000);

-- The transaction that wrote a feed event. Feed readers page by (feed_txid, id) and only up
-- to the oldest transaction still running, so an event whose transaction commits late is
-- never skipped by a cursor that moved past younger ones.
-- A bigint like user_events.txid (xid8 has no diesel type), so both cursors read alike.
ALTER TABLE webhook_events ADD COLUMN feed_txid BIGINT;
CREATE INDEX webhook_events_feed ON webhook_events (feed_txid, id) WHERE feed_txid IS NOT NULL;

-- Where the feed's retention has purged up to: a cursor below it has lost events.
CREATE TABLE receipt_feed_state (
    id          SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    purged_txid BIGINT NOT NULL DEFAULT 0,
    purged_id   BIGINT NOT NULL DEFAULT 0
);
INSERT INTO receipt_feed_state DEFAULT VALUES;

-- `msg_` + 12 hex digits of milliseconds + 16 random hex digits, like outbox::new_event_id.
CREATE FUNCTION imr_new_event_id() RETURNS TEXT LANGUAGE sql VOLATILE AS $$
  SELECT 'msg_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
         || substr(replace(gen_random_uuid()::text, '-', ''), 1, 16)
$$;

-- Queues one event in the caller's transaction: a delivery per enabled endpoint subscribed to
-- it, and a feed entry when the feed is on. Stores nothing when neither wants it. Returns the
-- number of deliveries queued.
CREATE FUNCTION imr_enqueue_event(p_type TEXT, p_body TEXT, p_ip TEXT, p_platform TEXT, p_public_id TEXT)
RETURNS INT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_feed BOOLEAN;
  v_id   BIGINT;
  v_n    INT;
BEGIN
  SELECT event_feed INTO v_feed FROM receipt_config LIMIT 1;
  v_feed := coalesce(v_feed, false);
  IF NOT v_feed AND NOT EXISTS (SELECT 1 FROM webhook_endpoints
                                 WHERE enabled AND (events IS NULL OR p_type = ANY(events))) THEN
    RETURN 0;
  END IF;
  INSERT INTO webhook_events (public_id, event_type, body, client_ip, opt_platform, feed_txid)
  VALUES (coalesce(p_public_id, imr_new_event_id()), p_type, convert_to(p_body, 'UTF8'), p_ip, p_platform,
          CASE WHEN v_feed THEN pg_current_xact_id()::text::bigint END)
  RETURNING id INTO v_id;
  INSERT INTO webhook_deliveries (event_id, endpoint_id)
  SELECT v_id, id FROM webhook_endpoints WHERE enabled AND (events IS NULL OR p_type = ANY(events));
  GET DIAGNOSTICS v_n = ROW_COUNT;
  IF v_n > 0 THEN
    -- Delivered to the dispatchers' LISTEN when the transaction commits.
    PERFORM pg_notify('imreceipts_webhooks', '');
  END IF;
  RETURN v_n;
END
$$;
