-- Completion events: a group message is complete when every member it counts has read it
-- (read_count + departed_unread >= eligible_count, with at least one read); a share of
-- ReadThresholdPercent can fire once before that. Both facts live on the message row so that
-- concurrent receipts and leaves, which all update that row, see each other's counts.
ALTER TABLE group_messages
    ADD COLUMN read_threshold  SMALLINT CHECK (read_threshold BETWEEN 1 AND 100),
    -- Members who left while this message was unread by them: no longer counted as unread.
    ADD COLUMN departed_unread INT NOT NULL DEFAULT 0;

-- Leavers are found by when they left (most groups have few), not by scanning all members.
CREATE INDEX group_members_left ON group_members (group_id, leave_seq) WHERE leave_seq IS NOT NULL;

UPDATE group_messages m SET departed_unread = d.n
  FROM (SELECT m.group_id, m.msg_seq, count(*)::int AS n
          FROM group_messages m
          JOIN group_members s ON s.group_id = m.group_id AND s.leave_seq IS NOT NULL
                              AND s.join_seq < m.msg_seq AND s.leave_seq >= m.msg_seq AND s.user_id <> m.from_account
         WHERE m.need_receipt
           AND NOT EXISTS (SELECT 1 FROM group_receipts r WHERE r.group_id = m.group_id AND r.msg_seq = m.msg_seq
                             AND r.reader = s.user_id AND r.read_at IS NOT NULL)
         GROUP BY m.group_id, m.msg_seq) d
 WHERE m.group_id = d.group_id AND m.msg_seq = d.msg_seq;

-- Milestones reached, one row each: its primary key makes every event fire exactly once.
-- kind: 1 read by all, 2 ReadThresholdPercent reached.
CREATE TABLE group_msg_milestones (
    group_id   TEXT NOT NULL,
    msg_seq    BIGINT NOT NULL,
    kind       SMALLINT NOT NULL CHECK (kind IN (1, 2)),
    read_num   INT NOT NULL,
    reached_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, msg_seq, kind),
    FOREIGN KEY (group_id, msg_seq) REFERENCES group_messages (group_id, msg_seq) ON DELETE CASCADE
);
-- Messages already complete before this migration never fire.
INSERT INTO group_msg_milestones (group_id, msg_seq, kind, read_num)
SELECT group_id, msg_seq, 1, read_count FROM group_messages
 WHERE need_receipt AND read_count > 0 AND read_count + departed_unread >= eligible_count;

-- Per group type defaults of ReadThresholdPercent, e.g. {"Public": 50}.
ALTER TABLE receipt_config ADD COLUMN group_read_threshold JSONB NOT NULL DEFAULT '{}';

-- When the C2C.CallbackAfterAllRead of a message fired (by its receipt or a conversation read).
ALTER TABLE c2c_messages ADD COLUMN all_read_at TIMESTAMPTZ;
UPDATE c2c_messages m SET all_read_at = coalesce(m.peer_read_at, now())
 WHERE m.need_receipt AND (m.peer_read_at IS NOT NULL OR EXISTS (
         SELECT 1 FROM c2c_read_state s WHERE s.reader = m.to_account AND s.peer = m.from_account
            AND s.read_time >= m.msg_time));

-- Records the milestones a group message has reached and queues one event per milestone
-- reached for the first time: Group.CallbackAfterAllRead, Group.CallbackAfterReadThreshold.
-- The caller passes the message's counts as its own statement sees them after updating the
-- row under its lock (a function's queries would not see the caller's uncommitted update).
-- p_last_read is the time of the read that reached them (NULL: the newest stored read, for a
-- leave that completes a message). Returns how many milestones were new.
CREATE FUNCTION imr_group_milestones(
    p_gid TEXT, p_seq BIGINT, p_from TEXT, p_msg_time BIGINT, p_random BIGINT,
    p_read INT, p_counted INT, p_threshold SMALLINT,
    p_ip TEXT, p_platform TEXT, p_last_read TIMESTAMPTZ)
RETURNS INT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_kind  SMALLINT;
  v_cmd   TEXT;
  v_new   INT := 0;
  v_last  BIGINT;
BEGIN
  IF p_read <= 0 THEN
    RETURN 0;
  END IF;
  FOREACH v_kind IN ARRAY ARRAY[2, 1]::SMALLINT[] LOOP
    CONTINUE WHEN v_kind = 1 AND p_read < p_counted;
    CONTINUE WHEN v_kind = 2 AND (p_threshold IS NULL OR p_counted <= 0 OR p_read * 100 < p_threshold * p_counted);
    INSERT INTO group_msg_milestones (group_id, msg_seq, kind, read_num)
    VALUES (p_gid, p_seq, v_kind, p_read) ON CONFLICT DO NOTHING;
    CONTINUE WHEN NOT FOUND;
    v_new := v_new + 1;
    IF v_last IS NULL THEN
      v_last := extract(epoch FROM coalesce(p_last_read, (SELECT max(r.read_at) FROM group_receipts r
                                                        WHERE r.group_id = p_gid AND r.msg_seq = p_seq)))::bigint;
    END IF;
    v_cmd := CASE v_kind WHEN 1 THEN 'Group.CallbackAfterAllRead' ELSE 'Group.CallbackAfterReadThreshold' END;
    PERFORM imr_enqueue_event(v_cmd,
      (jsonb_build_object(
         'CallbackCommand', v_cmd, 'GroupId', p_gid,
         'Type', (SELECT g.group_type FROM groups g WHERE g.group_id = p_gid),
         'MsgSeq', p_seq, 'From_Account', p_from, 'MsgTime', p_msg_time, 'Random', p_random,
         'ReadNum', p_read, 'UnreadNum', greatest(p_counted - p_read, 0),
         'LastReadTime', v_last, 'EventTime', (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
       || CASE v_kind WHEN 2 THEN jsonb_build_object('ReadThresholdPercent', p_threshold) ELSE '{}'::jsonb END
      )::text,
      p_ip, p_platform, NULL);
  END LOOP;
  RETURN v_new;
END
$$;
