-- Private receipts (issue 13): a user's choice not to be named as a reader.
-- One row per user who ever chose; no row means not private. The hot receipt writes look it
-- up by primary key inside their one statement.
CREATE TABLE receipt_privacy (
    user_id    TEXT PRIMARY KEY REFERENCES accounts (user_id) ON DELETE CASCADE,
    private    BOOLEAN NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Whether the reader was private when they read (stored at read time: turning privacy off
-- later does not expose earlier reads). A constant default, so adding it rewrites nothing.
ALTER TABLE group_receipts ADD COLUMN private BOOLEAN NOT NULL DEFAULT false;
