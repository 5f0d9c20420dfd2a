-- Fields Tencent's get_group_info / get_group_member_info answer and modify_* commands set.
-- info_seq counts changes of the group's base info (Tencent's InfoSeq); last_msg_time is moved
-- by every send, in the same row update that assigns the MsgSeq.
ALTER TABLE groups
    ADD COLUMN info_seq           BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN info_updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN last_msg_time      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN shut_up_all_member BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE groups g SET last_msg_time = coalesce((SELECT max(msg_time) FROM group_messages m WHERE m.group_id = g.group_id), 0);

ALTER TABLE group_members
    ADD COLUMN name_card          TEXT NOT NULL DEFAULT '',
    ADD COLUMN msg_flag           TEXT NOT NULL DEFAULT 'AcceptAndNotify',
    ADD COLUMN shut_up_until      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN last_send_msg_time BIGINT NOT NULL DEFAULT 0;

-- get_joined_group_list walks a user's memberships.
CREATE INDEX group_members_user_groups ON group_members (user_id, group_id) WHERE leave_seq IS NULL;
