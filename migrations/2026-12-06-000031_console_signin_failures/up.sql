-- Failed console sign-ins by client address, counted to rate-limit guessing across instances.
CREATE TABLE console_signin_failures (
    id         BIGSERIAL PRIMARY KEY,
    client_ip  TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX console_signin_failures_ip_at ON console_signin_failures (client_ip, at);
