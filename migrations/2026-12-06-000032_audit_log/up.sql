-- Who changed what, when: receipt settings and webhook endpoints, from the console or REST.
CREATE TABLE audit_log (
    id         BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor      TEXT NOT NULL,
    via        TEXT NOT NULL CHECK (via IN ('console', 'rest')),
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    old_value  TEXT,
    new_value  TEXT
);
