-- The pull feed of receipt events (receipt_svc/get_receipt_events) and one function that
-- queues an event for the subscribed endpoints and, when the feed is on, for the feed.
ALTER TABLE receipt_config
    ADD COLUMN event_feed                BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN event_feed_retention_secs INT NOT NULL DEFAULT 604800
        CHECK (event_feed_retention_secs BETWEEN 60 AND 31536000);

-- Whether the pull feed keeps the event. Marked events get their feed position when their
-- transaction commits (receipt_feed below).
ALTER TABLE webhook_events ADD COLUMN feed BOOLEAN NOT NULL DEFAULT FALSE;

-- The feed: one row per kept event, numbered in commit order. The number is taken at commit
-- (a deferred trigger) under a transaction-scoped advisory lock, so a transaction numbers its
-- events only after every earlier-numbered one has committed: a reader that sees position N
-- sees every position below it, and paging by position never skips or repeats an event.
CREATE SEQUENCE receipt_feed_seq;
CREATE TABLE receipt_feed (
    seq        BIGINT PRIMARY KEY,
    event_id   BIGINT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX receipt_feed_event ON receipt_feed (event_id);

CREATE FUNCTION imr_feed_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Held until the commit completes; the key is imreceipts' own (see domain::feed).
  PERFORM pg_advisory_xact_lock(7250016001);
  INSERT INTO receipt_feed (seq, event_id) VALUES (nextval('receipt_feed_seq'), NEW.id);
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER webhook_events_feed AFTER INSERT ON webhook_events
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.feed) EXECUTE FUNCTION imr_feed_append();

-- Up to where the feed's retention has deleted: a cursor below it has lost events.
CREATE TABLE receipt_feed_state (
    id          SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    purged_seq  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO receipt_feed_state DEFAULT VALUES;

-- `msg_` + 12 hex digits of milliseconds + 16 random hex digits, like outbox::new_event_id.
CREATE FUNCTION imr_new_event_id() RETURNS TEXT LANGUAGE sql VOLATILE AS $$
  SELECT 'msg_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
         || substr(replace(gen_random_uuid()::text, '-', ''), 1, 16)
$$;

-- Whether an endpoint's filter takes an event: a NULL filter ("*") takes every Tencent
-- callback but not imreceipts' own extension events, which an endpoint must name, so
-- receivers written for Tencent never see a command they do not know.
CREATE FUNCTION imr_subscribes(p_events TEXT[], p_type TEXT) RETURNS BOOLEAN LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_events IS NULL
              THEN p_type NOT IN ('Group.CallbackAfterAllRead', 'Group.CallbackAfterReadThreshold',
                                  'C2C.CallbackAfterAllRead', 'Group.CallbackReadDeadlineExpired',
                                  'C2C.CallbackReadDeadlineExpired')
              ELSE p_type = ANY(p_events) END
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
  IF NOT v_feed AND NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled AND imr_subscribes(events, p_type)) THEN
    RETURN 0;
  END IF;
  INSERT INTO webhook_events (public_id, event_type, body, client_ip, opt_platform, feed)
  VALUES (coalesce(p_public_id, imr_new_event_id()), p_type, convert_to(p_body, 'UTF8'), p_ip, p_platform, v_feed)
  RETURNING id INTO v_id;
  INSERT INTO webhook_deliveries (event_id, endpoint_id)
  SELECT v_id, id FROM webhook_endpoints WHERE enabled AND imr_subscribes(events, p_type);
  GET DIAGNOSTICS v_n = ROW_COUNT;
  IF v_n > 0 THEN
    -- Delivered to the dispatchers' LISTEN when the transaction commits.
    PERFORM pg_notify('imreceipts_webhooks', '');
  END IF;
  RETURN v_n;
END
$$;
