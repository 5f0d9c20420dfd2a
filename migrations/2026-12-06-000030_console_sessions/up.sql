-- Operator console sessions. The cookie value is never stored, only its SHA-256, so a copy of
-- the database does not hand out signed-in sessions. Kept in the database (not in memory) so
-- any instance behind a load balancer serves any session.
CREATE TABLE console_sessions (
    token_hash  TEXT PRIMARY KEY,
    identifier  TEXT NOT NULL,
    csrf_token  TEXT NOT NULL,
    -- One notice shown on the next page (what a form post changed).
    flash       TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
