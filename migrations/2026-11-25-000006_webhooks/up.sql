-- Webhook endpoints, the transactional outbox (events + one delivery per subscribed endpoint)
-- and the attempt log. Events are written in the same transaction as the receipt that caused
-- them; body bytes are fixed at enqueue so every retry sends and signs the same bytes.
CREATE TABLE webhook_endpoints (
    id                     BIGSERIAL PRIMARY KEY,
    url                    TEXT NOT NULL CHECK (length(url) <= 2048),
    events                 TEXT[],
    token                  TEXT,
    secret                 TEXT NOT NULL,
    prev_secret            TEXT,
    prev_secret_expires_at TIMESTAMPTZ,
    enabled                BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason        TEXT,
    timeout_ms             INT NOT NULL DEFAULT 5000 CHECK (timeout_ms BETWEEN 1000 AND 30000),
    max_in_flight          INT NOT NULL DEFAULT 8 CHECK (max_in_flight BETWEEN 1 AND 64),
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE webhook_events (
    id          BIGSERIAL PRIMARY KEY,
    public_id   TEXT NOT NULL UNIQUE,
    event_type  TEXT NOT NULL,
    body        BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- state: 0 pending, 1 in flight (leased), 2 succeeded, 3 dead, 4 paused (endpoint disabled)
CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    event_id        BIGINT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id     BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    state           SMALLINT NOT NULL DEFAULT 0,
    attempts        INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until     TIMESTAMPTZ,
    lease_token     BIGINT,
    last_status     INT,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at     TIMESTAMPTZ,
    UNIQUE (event_id, endpoint_id)
) WITH (fillfactor = 80);
-- Claims go endpoint by endpoint, so one slow endpoint's backlog never shadows another's.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE state = 0;
CREATE INDEX webhook_deliveries_lease ON webhook_deliveries (lease_until) WHERE state = 1;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

CREATE TABLE webhook_attempts (
    id              BIGSERIAL PRIMARY KEY,
    delivery_id     BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt_no      INT NOT NULL,
    manual          BOOLEAN NOT NULL DEFAULT FALSE,
    started_at      TIMESTAMPTZ NOT NULL,
    latency_ms      INT NOT NULL,
    status_code     INT,
    error           TEXT,
    response_prefix TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
