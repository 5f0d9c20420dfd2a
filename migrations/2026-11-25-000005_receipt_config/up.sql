-- Console-style receipt settings of the app (one row).
CREATE TABLE receipt_config (
    id                SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    group_types       TEXT[] NOT NULL DEFAULT '{Private,Public,ChatRoom}',
    request_roles     TEXT NOT NULL DEFAULT 'Any' CHECK (request_roles IN ('Any', 'OwnerAndAdmin')),
    max_group_members INT NOT NULL DEFAULT 10000 CHECK (max_group_members > 0),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO receipt_config DEFAULT VALUES;
