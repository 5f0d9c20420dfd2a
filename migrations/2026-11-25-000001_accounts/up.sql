-- Imported accounts (UserID is at most 32 bytes, as in Tencent's account_import).
CREATE TABLE accounts (
    user_id    TEXT PRIMARY KEY CHECK (octet_length(user_id) BETWEEN 1 AND 32),
    nick       TEXT NOT NULL DEFAULT '',
    face_url   TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
