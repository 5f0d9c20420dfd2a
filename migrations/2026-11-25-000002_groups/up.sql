-- Groups carry their own message sequence counter: incrementing last_seq inside the sending
-- transaction row-locks the group, which makes MsgSeq gap-free and orders sends against
-- membership changes (those take FOR SHARE on the same row).
CREATE TABLE groups (
    group_id          TEXT PRIMARY KEY,
    group_type        TEXT NOT NULL,
    name              TEXT NOT NULL,
    owner_account     TEXT,
    introduction      TEXT NOT NULL DEFAULT '',
    notification      TEXT NOT NULL DEFAULT '',
    face_url          TEXT NOT NULL DEFAULT '',
    max_member_count  INT NOT NULL,
    apply_join_option TEXT NOT NULL DEFAULT 'FreeAccess',
    last_seq          BIGINT NOT NULL DEFAULT 0,
    member_count      INT NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per membership span. A member is an eligible reader of message S when
-- join_seq < S AND (leave_seq IS NULL OR S <= leave_seq): the history answers
-- "was U a member when S was sent" for any S without touching messages on join/leave.
CREATE TABLE group_members (
    id         BIGSERIAL PRIMARY KEY,
    group_id   TEXT NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    role       TEXT NOT NULL,
    join_seq   BIGINT NOT NULL,
    leave_seq  BIGINT,
    read_seq   BIGINT NOT NULL DEFAULT 0,
    joined_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    left_at    TIMESTAMPTZ
);
CREATE UNIQUE INDEX group_members_current ON group_members (group_id, user_id) WHERE leave_seq IS NULL;
CREATE INDEX group_members_departed ON group_members (group_id, leave_seq) WHERE leave_seq IS NOT NULL;
CREATE INDEX group_members_by_user ON group_members (user_id) WHERE leave_seq IS NULL;
