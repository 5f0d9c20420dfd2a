-- Every membership of a user in a group, ended ones included: the receipt write checks that a
-- message was sent during one of them, per item, in one index probe.
CREATE INDEX group_members_history ON group_members (group_id, user_id, join_seq);
