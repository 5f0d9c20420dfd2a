//! The write of group read and delivery receipts: many calls in one statement.
//!
//! One statement checks every call (group, receipt switch, membership) and every item
//! (exists, requested receipts, not recalled, not the reader's own, sent while they were a
//! member), locks the targets in (group, seq) order, writes the receipts, moves the counters,
//! records the senders' live notifications and queues the webhook, so a receipt costs one
//! round trip and a batch of coalesced calls costs one round trip and one commit in all.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Int4, Nullable, Text};
use diesel::PgConnection;
use std::collections::HashSet;

use crate::coalesce::Written;
use crate::domain::config;
use crate::domain::group_receipts::{SeqErrors, SeqOutcome};
use crate::error::{ApiError, ApiResult};
use crate::webhooks::outbox::{self, Origin};

/// Read or delivery acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Delivered,
}

/// One receipt call: `reader` acknowledges `items` (normalised: distinct seqs, sorted) of
/// `group_id`.
#[derive(Debug, Clone)]
pub struct Call {
    pub group_id: String,
    pub reader: String,
    /// (MsgSeq, AckContent) pairs.
    pub items: Vec<(i64, Option<String>)>,
    pub origin: Origin,
}

// Item verdicts computed by the statement.
const OK: i32 = 0;
const NOT_FOUND: i32 = 1;
const NO_RECEIPT: i32 = 2;
const RECALLED: i32 = 3;
const OWN: i32 = 4;
const NOT_ELIGIBLE: i32 = 5;

const WRITE: &str = "
WITH input AS (
  SELECT * FROM unnest($1::int4[], $2::text[], $3::text[], $4::int8[], $5::text[]) AS t(call, gid, reader, seq, ack)),
calls AS (
  SELECT c.call, c.gid, c.reader, g.group_type, g.group_id IS NOT NULL AS group_found,
         coalesce(g.group_type = ANY((SELECT group_types FROM receipt_config LIMIT 1)::text[]), false) AS enabled,
         mm.user_id IS NOT NULL AS is_member,
         -- Privacy is looked up once per call and stored with each read it makes.
         $6 AND EXISTS (SELECT 1 FROM receipt_privacy p WHERE p.user_id = c.reader AND p.private) AS private
    FROM (SELECT DISTINCT call, gid, reader FROM input) c
    -- LATERAL with LIMIT keeps every lookup an index probe: with a generic plan's estimates
    -- PostgreSQL would otherwise hash whole tables.
    LEFT JOIN LATERAL (SELECT * FROM groups g WHERE g.group_id = c.gid LIMIT 1) g ON true
    -- Locked (shared) so that a leave waits for this receipt, or this receipt sees the leave:
    -- either way the leave counts the reader's unread messages right.
    LEFT JOIN LATERAL (SELECT m.user_id FROM group_members m
                        WHERE m.group_id = c.gid AND m.user_id = c.reader AND m.leave_seq IS NULL
                        LIMIT 1 FOR SHARE) mm ON true),
items AS (
  SELECT i.call, i.gid, i.reader, i.seq, i.ack, coalesce(e.departed, false) AS departed,
         CASE WHEN m.msg_seq IS NULL THEN 1
              WHEN NOT m.need_receipt THEN 2
              WHEN m.recalled_at IS NOT NULL THEN 3
              WHEN m.from_account = i.reader THEN 4
              WHEN e.departed IS NULL THEN 5
              ELSE 0 END AS code
    FROM input i
    LEFT JOIN LATERAL (SELECT * FROM group_messages m
                        WHERE m.group_id = i.gid AND m.msg_seq = i.seq LIMIT 1) m ON true
    -- The membership the message was sent in; an ended one (the reader left and came back)
    -- means the leave counted this message as departed unread.
    LEFT JOIN LATERAL (SELECT s.leave_seq IS NOT NULL AS departed FROM group_members s
                        WHERE s.group_id = i.gid AND s.user_id = i.reader
                          AND s.join_seq < i.seq AND coalesce(s.leave_seq, i.seq) >= i.seq LIMIT 1) e ON true),
-- The same reader in two calls of one batch: the first call writes, as if they ran in order.
good AS (
  SELECT it.call, it.gid, it.reader, it.seq, it.ack, it.departed, c.private,
         min(it.call) OVER (PARTITION BY it.gid, it.seq, it.reader) AS winner
    FROM items it JOIN calls c USING (call)
   WHERE it.code = 0 AND c.group_found AND c.enabled AND c.is_member
   ORDER BY it.gid, it.seq, it.reader),
-- Messages are locked in (group, seq) order, so concurrent writers cannot deadlock; the
-- conditions are checked again on the locked row versions.
locked AS (
  SELECT g.call, g.gid, g.seq, g.reader, g.ack, g.departed, g.private FROM good g
   CROSS JOIN LATERAL (SELECT 1 FROM group_messages m
                        WHERE m.group_id = g.gid AND m.msg_seq = g.seq AND m.need_receipt AND m.recalled_at IS NULL
                        FOR NO KEY UPDATE) l
   WHERE g.call = g.winner),
up AS (
  INSERT INTO group_receipts AS r (group_id, msg_seq, reader, delivered_at, read_at, ack_content, private)
  SELECT gid, seq, reader, now(), CASE WHEN $6 THEN now() END, CASE WHEN $6 THEN ack END,
         private FROM locked
  ON CONFLICT (group_id, msg_seq, reader)
    DO UPDATE SET read_at = now(), ack_content = EXCLUDED.ack_content, private = EXCLUDED.private
     WHERE $6 AND r.read_at IS NULL
  -- Written by this transaction: inserted now (an update keeps the inserting transaction's id).
  RETURNING r.group_id, r.msg_seq, r.reader, r.ack_content, r.private,
            (r.txid = pg_current_xact_id()::text::bigint) AS inserted),
-- Per message, with its new readers carried along, so nothing below joins two CTEs.
agg AS (
  SELECT group_id, msg_seq, count(*)::int AS n, (count(*) FILTER (WHERE inserted))::int AS ins,
         array_agg(reader) AS readers, array_agg(ack_content) AS acks, array_agg(private) AS privs
    FROM up GROUP BY group_id, msg_seq),
-- Readers who left after the message was sent and came back: their leave counted it as
-- departed unread, which their read now undoes (rare, so joined only when there are any).
redeemed AS (
  SELECT l.gid, l.seq, count(*)::int AS n FROM locked l
   WHERE $6 AND l.departed
     AND EXISTS (SELECT 1 FROM up WHERE up.group_id = l.gid AND up.msg_seq = l.seq AND up.reader = l.reader)
   GROUP BY l.gid, l.seq),
changed AS (
  UPDATE group_messages m
     SET read_count = m.read_count + CASE WHEN $6 THEN agg.n ELSE 0 END,
         delivered_count = m.delivered_count + agg.ins,
         departed_unread = m.departed_unread - coalesce(
             (SELECT rd.n FROM redeemed rd WHERE rd.gid = agg.group_id AND rd.seq = agg.msg_seq), 0)
    FROM agg WHERE m.group_id = agg.group_id AND m.msg_seq = agg.msg_seq
  RETURNING m.group_id, m.msg_seq, m.from_account, m.read_count, m.eligible_count, m.departed_unread,
            m.read_threshold, m.msg_time, m.msg_random, agg.readers, agg.acks, agg.privs),
won AS (
  -- `private` is the flag stored with the receipt, so the events and the lists agree.
  SELECT ch.group_id AS gid, ch.msg_seq AS seq, ch.from_account, ch.read_count, ch.eligible_count,
         ch.departed_unread, u.reader, u.ack, u.private
    FROM changed ch CROSS JOIN LATERAL unnest(ch.readers, ch.acks, ch.privs) AS u(reader, ack, private)),
-- A private reader's read reaches the sender's stream without their name.
notify AS (
  INSERT INTO user_events (user_id, event_type, payload)
  SELECT from_account, $7,
         CASE WHEN private
              THEN jsonb_build_object('GroupId', gid, 'Member_Account', '', 'Private', 1,
                                      'MsgSeqList', jsonb_agg(seq ORDER BY seq))
              ELSE jsonb_build_object('GroupId', gid, 'Member_Account', reader,
                                      'MsgSeqList', jsonb_agg(seq ORDER BY seq)) END
    FROM won GROUP BY gid, reader, from_account, private),
subs AS (
  SELECT id FROM webhook_endpoints
   WHERE $6 AND enabled AND (events IS NULL OR 'Group.CallbackAfterReadReceipt' = ANY(events))),
feed AS (SELECT 1 FROM receipt_config WHERE $6 AND event_feed LIMIT 1),
-- One event per call, as Tencent fires one callback per report (the join back to the calls
-- runs only when someone subscribes).
hook AS (
  SELECT l.call, json_build_object(
           'CallbackCommand', 'Group.CallbackAfterReadReceipt', 'GroupId', w.gid,
           'Type', (SELECT g.group_type FROM groups g WHERE g.group_id = w.gid),
           'GroupMsgReceiptList', json_agg(json_build_object(
               'MsgSeq', w.seq, 'ReadNum', w.read_count,
               'UnreadNum', greatest(w.eligible_count - w.read_count - w.departed_unread, 0),
               'ReadReceiptMembers', json_build_array(CASE
                   -- A private reader is counted but not named, and their AckContent not shown.
                   WHEN w.private THEN json_build_object('Member_Account', '', 'Private', 1)
                   WHEN w.ack IS NULL THEN json_build_object('Member_Account', w.reader)
                   ELSE json_build_object('Member_Account', w.reader, 'AckContent', w.ack) END))
             ORDER BY w.seq),
           'EventTime', $8::int8) AS body
    FROM won w JOIN locked l ON l.gid = w.gid AND l.seq = w.seq AND l.reader = w.reader
   WHERE EXISTS (SELECT 1 FROM subs) OR EXISTS (SELECT 1 FROM feed)
   GROUP BY l.call, w.gid),
-- Queued through imr_enqueue_event like every other event, so the feed numbers them in the
-- order they were queued (the completion events below come after).
ev AS (
  SELECT imr_enqueue_event('Group.CallbackAfterReadReceipt', h.body::text, o.client_ip, o.platform, o.public_id) AS n
    FROM hook h
    JOIN unnest($9::text[], $10::text[], $11::text[]) WITH ORDINALITY AS o(public_id, client_ip, platform, n)
      ON o.n - 1 = h.call),
-- Counts are read off the updated row (current under its lock), so of concurrent receipts
-- exactly one sees a milestone reached, and the milestone's key makes its event fire once.
milestones AS (
  SELECT imr_group_milestones(ch.group_id, ch.msg_seq, ch.from_account, ch.msg_time, ch.msg_random,
             ch.read_count, ch.eligible_count - ch.departed_unread, ch.read_threshold,
             o.client_ip, o.platform, now()) AS n
    FROM changed ch
    JOIN unnest($10::text[], $11::text[]) WITH ORDINALITY AS o(client_ip, platform, n)
      ON o.n - 1 = (SELECT min(l.call) FROM locked l WHERE l.gid = ch.group_id AND l.seq = ch.msg_seq)
   WHERE $6 AND ch.read_count > 0
     AND (ch.read_count >= ch.eligible_count - ch.departed_unread
          OR (ch.read_threshold IS NOT NULL
              AND ch.read_count * 100 >= ch.read_threshold * (ch.eligible_count - ch.departed_unread)))
     -- After the receipt events, so the feed answers a receipt before the completion it caused.
     AND (SELECT count(*) FROM ev) >= 0)
SELECT 0 AS kind, it.call, it.seq, c.group_found, c.group_type, c.enabled, c.is_member, it.code,
       NULL::text AS gid, NULL::text AS reader,
       (SELECT array_agg(DISTINCT from_account) FROM won) AS wake,
       -- Selected so that they are evaluated (a SELECT in WITH runs only on demand).
       (SELECT coalesce(sum(n), 0)::int FROM ev) AS queued,
       (SELECT coalesce(sum(n), 0)::int FROM milestones) AS milestones
  FROM items it JOIN calls c USING (call)
UNION ALL
SELECT 1, -1, seq, true, NULL, true, true, 0, gid, reader, NULL, 0, 0 FROM won";

#[derive(QueryableByName, Debug)]
struct Row {
    /// 0: an item's verdict; 1: a receipt written (gid, reader, seq).
    #[diesel(sql_type = Int4)]
    kind: i32,
    #[diesel(sql_type = Int4)]
    call: i32,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Bool)]
    group_found: bool,
    #[diesel(sql_type = Nullable<Text>)]
    group_type: Option<String>,
    #[diesel(sql_type = Bool)]
    enabled: bool,
    #[diesel(sql_type = Bool)]
    is_member: bool,
    #[diesel(sql_type = Int4)]
    code: i32,
    #[diesel(sql_type = Nullable<Text>)]
    gid: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    reader: Option<String>,
    /// The senders whose streams the write concerns (on verdict rows).
    #[diesel(sql_type = Nullable<Array<Text>>)]
    wake: Option<Vec<String>>,
}

/// Writes the receipts of `calls` in one statement; each call gets its own outcome (a call
/// whose items are all refused fails with the first item's error). An `Err` means the
/// statement itself failed (a database error): nothing of any call was written.
pub fn write(conn: &mut PgConnection, kind: Kind, calls: &[Call]) -> ApiResult<Written<SeqOutcome>> {
    let input = Input::new(kind, calls)?;
    let rows = input.run(conn)?;
    let (mut verdicts, written): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| r.kind == 0);
    let wake = verdicts.iter().find_map(|r| r.wake.clone()).unwrap_or_default();
    verdicts.sort_by_key(|r| (r.call, r.seq));
    let written: HashSet<(&str, &str, i64)> = written
        .iter()
        .map(|r| (r.gid.as_deref().unwrap_or_default(), r.reader.as_deref().unwrap_or_default(), r.seq))
        .collect();
    // A receipt written for a (group, reader, seq) named by several calls belongs to the first.
    let mut claimed: HashSet<(&str, &str, i64)> = HashSet::new();
    let mut out = Vec::with_capacity(calls.len());
    let mut verdicts = verdicts.into_iter().peekable();
    for (i, c) in calls.iter().enumerate() {
        let mut mine = Vec::new();
        while let Some(r) = verdicts.next_if(|r| r.call as usize == i) {
            let key = (c.group_id.as_str(), c.reader.as_str(), r.seq);
            let changed = written.contains(&key) && claimed.insert(key);
            mine.push((r, changed));
        }
        out.push(outcome(conn, c, &mine));
    }
    Ok(Written { outcomes: out, wake })
}

/// The write's parameters: one entry per item, and per call.
struct Input<'a> {
    kind: Kind,
    idx: Vec<i32>,
    gids: Vec<&'a str>,
    readers: Vec<&'a str>,
    seqs: Vec<i64>,
    acks: Vec<Option<&'a str>>,
    event_ids: Vec<String>,
    ips: Vec<&'a str>,
    platforms: Vec<&'a str>,
}

impl<'a> Input<'a> {
    fn new(kind: Kind, calls: &'a [Call]) -> ApiResult<Input<'a>> {
        let mut input = Input {
            kind,
            idx: Vec::new(),
            gids: Vec::new(),
            readers: Vec::new(),
            seqs: Vec::new(),
            acks: Vec::new(),
            event_ids: calls.iter().map(|_| outbox::new_event_id()).collect(),
            ips: calls.iter().map(|c| c.origin.client_ip.as_str()).collect(),
            platforms: calls.iter().map(|c| c.origin.platform.as_str()).collect(),
        };
        for (i, c) in calls.iter().enumerate() {
            let i = i32::try_from(i).map_err(|_| ApiError::invalid("too many calls in one batch"))?;
            for (seq, ack) in &c.items {
                input.idx.push(i);
                input.gids.push(c.group_id.as_str());
                input.readers.push(c.reader.as_str());
                input.seqs.push(*seq);
                input.acks.push(ack.as_deref());
            }
        }
        Ok(input)
    }

    fn run(&self, conn: &mut PgConnection) -> ApiResult<Vec<Row>> {
        let event_type = match self.kind {
            Kind::Read => "Group.ReadReceipt",
            Kind::Delivered => "Group.Delivered",
        };
        Ok(crate::db::cached(WRITE)
            .bind::<Array<Int4>, _>(&self.idx)
            .bind::<Array<Text>, _>(&self.gids)
            .bind::<Array<Text>, _>(&self.readers)
            .bind::<Array<BigInt>, _>(&self.seqs)
            .bind::<Array<Nullable<Text>>, _>(&self.acks)
            .bind::<Bool, _>(self.kind == Kind::Read)
            .bind::<Text, _>(event_type)
            .bind::<BigInt, _>(outbox::event_time_ms())
            .bind::<Array<Text>, _>(&self.event_ids)
            .bind::<Array<Text>, _>(&self.ips)
            .bind::<Array<Text>, _>(&self.platforms)
            .load(conn)?)
    }
}

/// One call's outcome from its rows (one per item, in seq order).
fn outcome(conn: &mut PgConnection, call: &Call, rows: &[(Row, bool)]) -> ApiResult<SeqOutcome> {
    let gid = &call.group_id;
    let reader = &call.reader;
    let Some((first, _)) = rows.first() else {
        return Err(ApiError::Internal(anyhow::anyhow!("the receipt write returned no row for a call")));
    };
    if !first.group_found {
        return Err(ApiError::GroupNotFound(gid.clone()));
    }
    if !first.enabled {
        let types = config::load(conn)?.group_types;
        config::require_type_enabled(&types, first.group_type.as_deref().unwrap_or_default(), gid)?;
    }
    if !first.is_member {
        return Err(ApiError::forbidden(format!("{reader:?} is not a member of group {gid:?}")));
    }
    let mut changed = Vec::new();
    let mut errors: SeqErrors = Vec::new();
    for (r, changed_here) in rows {
        let seq = r.seq;
        let refused = match r.code {
            OK => None,
            NOT_FOUND => Some(ApiError::ReceiptNotFound(format!("group {gid:?} has no message with MsgSeq {seq}"))),
            NO_RECEIPT => Some(ApiError::ReceiptNotFound(format!(
                "MsgSeq {seq} was sent without NeedReadReceipt, so it takes no receipts"
            ))),
            RECALLED => Some(ApiError::MsgRecalled(format!("MsgSeq {seq} was recalled and takes no receipts"))),
            OWN => Some(ApiError::invalid(format!(
                "{reader:?} sent MsgSeq {seq}; a sender does not acknowledge their own message"
            ))),
            NOT_ELIGIBLE => Some(ApiError::forbidden(format!(
                "{reader:?} was not a member of group {gid:?} when MsgSeq {seq} was sent (joined after it), so is not one of its readers"
            ))),
            other => Some(ApiError::Internal(anyhow::anyhow!("unknown receipt verdict {other}"))),
        };
        match refused {
            Some(e) => errors.push((seq, e)),
            None if *changed_here => changed.push(seq),
            None => {}
        }
    }
    if errors.len() == rows.len() {
        return Err(errors.swap_remove(0).1);
    }
    Ok(SeqOutcome { changed, errors })
}

/// The coalesced write of one [`Kind`] of group receipt.
pub struct Writer(pub Kind);

impl crate::coalesce::Batch for Writer {
    type Call = Call;
    type Out = SeqOutcome;

    fn items(call: &Call) -> usize {
        call.items.len()
    }

    fn family(&self) -> &'static str {
        match self.0 {
            Kind::Read => "group_read",
            Kind::Delivered => "group_delivered",
        }
    }

    fn write(&self, conn: &mut PgConnection, calls: &[Call]) -> ApiResult<Written<SeqOutcome>> {
        // Outside a transaction: the statement has committed when it returns.
        write(conn, self.0, calls)
    }
}
