//! The write of C2C read and delivery receipts: many calls in one statement.
//!
//! Like [`crate::domain::group_acks`]: one statement checks the accounts and every item,
//! updates the messages, records the senders' live notifications and queues the webhook.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Int4, Text};
use diesel::PgConnection;

use crate::coalesce::Written;
use crate::domain::c2c::{msg_id, Ack, AckOutcome, KeyErrors, MsgRef, MAX_RECEIPT_ITEMS};
use crate::error::{ApiError, ApiResult};
use crate::webhooks::outbox::{self, Origin};

/// One receipt call: `reader` acknowledges messages that `sender` sent them.
#[derive(Debug, Clone)]
pub struct Call {
    pub reader: String,
    pub sender: String,
    pub items: Vec<MsgRef>,
    pub origin: Origin,
}

// Item verdicts: the first is decided before the statement, the others by it.
const OK: i32 = 0;
const NOT_FOUND: i32 = 1;
const NO_RECEIPT: i32 = 2;
const RECALLED: i32 = 3;
const WRONG_PAIR: i32 = 9;

const WRITE: &str = "
WITH input AS (
  SELECT * FROM unnest($1::int4[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int4[])
           AS t(call, idx, reader, sender, msg_key, msg_id, precheck)),
calls AS (
  SELECT c.call,
         EXISTS (SELECT 1 FROM accounts a WHERE a.user_id = c.reader) AS reader_found,
         EXISTS (SELECT 1 FROM accounts a WHERE a.user_id = c.sender) AS sender_found
    FROM (SELECT DISTINCT call, reader, sender FROM input) c),
items AS (
  SELECT i.call, i.idx, i.reader, i.sender, i.msg_key, i.msg_id, m.id,
         CASE WHEN i.precheck <> 0 THEN i.precheck
              WHEN m.id IS NULL THEN 1
              WHEN NOT m.need_receipt THEN 2
              WHEN m.recalled_at IS NOT NULL THEN 3
              ELSE 0 END AS code
    FROM input i
    -- LATERAL with LIMIT keeps a lookup by key per item, whatever the generic plan thinks.
    LEFT JOIN LATERAL (SELECT * FROM c2c_messages m
                        WHERE i.precheck = 0 AND m.from_account = i.sender AND m.to_account = i.reader
                          AND m.msg_key = i.msg_key LIMIT 1) m ON true),
good AS (
  SELECT it.*, min(it.call) OVER (PARTITION BY it.id) AS winner
    FROM items it JOIN calls c USING (call)
   WHERE it.code = 0 AND c.reader_found AND c.sender_found),
-- Locked in id order so that concurrent writers cannot deadlock.
locked AS (
  SELECT m.id, m.all_read_at IS NULL AS open FROM c2c_messages m
   WHERE m.id IN (SELECT id FROM good) AND m.recalled_at IS NULL
     AND CASE WHEN $8 THEN m.peer_read_at IS NULL ELSE m.delivered_at IS NULL END
   ORDER BY m.id FOR NO KEY UPDATE),
changed AS (
  UPDATE c2c_messages m
     SET peer_read_at = CASE WHEN $8 THEN now() ELSE m.peer_read_at END,
         delivered_at = coalesce(m.delivered_at, now()),
         all_read_at = CASE WHEN $8 THEN coalesce(m.all_read_at, now()) ELSE m.all_read_at END
   WHERE m.id IN (SELECT id FROM locked)
  RETURNING m.id),
won AS (
  SELECT DISTINCT ON (g.call, g.id) g.call, g.id, g.reader, g.sender, g.msg_key, g.msg_id,
         -- A private reader's reads are reported without their name (a primary-key probe).
         $8 AND EXISTS (SELECT 1 FROM receipt_privacy p WHERE p.user_id = g.reader AND p.private) AS private
    FROM good g JOIN changed ch ON ch.id = g.id WHERE g.call = g.winner),
notify AS (
  INSERT INTO user_events (user_id, event_type, payload)
  SELECT sender, $9, CASE WHEN private
           THEN jsonb_build_object('Operator_Account', '', 'Private', 1, 'Peer_Account', sender,
                                   'MsgKeyList', jsonb_agg(msg_key ORDER BY msg_key))
           ELSE jsonb_build_object('Operator_Account', reader, 'Peer_Account', sender,
                                   'MsgKeyList', jsonb_agg(msg_key ORDER BY msg_key)) END
    FROM won GROUP BY call, reader, sender, private),
subs AS (
  SELECT id FROM webhook_endpoints
   WHERE $8 AND enabled AND (events IS NULL OR 'C2C.CallbackAfterMsgReadReceipt' = ANY(events))),
feed AS (SELECT 1 FROM receipt_config WHERE $8 AND event_feed LIMIT 1),
hook AS (
  SELECT call, CASE WHEN private THEN json_build_object(
           'CallbackCommand', 'C2C.CallbackAfterMsgReadReceipt', 'Operator_Account', '', 'Private', 1,
           'Peer_Account', sender,
           'C2CMsgInfo', json_agg(json_build_object('From_Account', sender, 'To_Account', '',
                                                    'MsgKey', msg_key, 'MsgId', msg_id) ORDER BY msg_key),
           'EventTime', $10::int8)
         ELSE json_build_object(
           'CallbackCommand', 'C2C.CallbackAfterMsgReadReceipt', 'Operator_Account', reader, 'Peer_Account', sender,
           'C2CMsgInfo', json_agg(json_build_object('From_Account', sender, 'To_Account', reader,
                                                    'MsgKey', msg_key, 'MsgId', msg_id) ORDER BY msg_key),
           'EventTime', $10::int8) END AS body
    FROM won WHERE EXISTS (SELECT 1 FROM subs) OR EXISTS (SELECT 1 FROM feed)
   GROUP BY call, reader, sender, private),
-- Queued through imr_enqueue_event like every other event, so the feed numbers them in the
-- order they were queued (the completion events below come after).
ev AS (
  SELECT imr_enqueue_event('C2C.CallbackAfterMsgReadReceipt', h.body::text, o.client_ip, o.platform, o.public_id) AS n
    FROM hook h
    JOIN unnest($11::text[], $12::text[], $13::text[]) WITH ORDINALITY AS o(public_id, client_ip, platform, n)
      ON o.n - 1 = h.call),
-- The message's first read (a conversation read covering it may have come first; the locked
-- row version says).
all_read AS (
  -- A private reader is not named (To_Account empty, Private 1), like in the receipt callback.
  SELECT imr_enqueue_event('C2C.CallbackAfterAllRead', json_strip_nulls(json_build_object(
             'CallbackCommand', 'C2C.CallbackAfterAllRead', 'From_Account', m.from_account,
             'To_Account', CASE WHEN w.private THEN '' ELSE m.to_account END, 'MsgKey', m.msg_key,
             'MsgSeq', m.msg_seq, 'MsgRandom', m.msg_random,
             'MsgTime', m.msg_time, 'ReadTime', extract(epoch FROM now())::int8, 'ReadBy', 'Receipt',
             'Private', CASE WHEN w.private THEN 1 END, 'EventTime', $10::int8))::text,
             o.client_ip, o.platform, NULL) AS n
    FROM won w JOIN locked l ON l.id = w.id AND l.open
    JOIN c2c_messages m ON m.id = w.id
    JOIN unnest($12::text[], $13::text[]) WITH ORDINALITY AS o(client_ip, platform, n) ON o.n - 1 = w.call
   -- After the receipt events, so the feed answers a receipt before the completion it caused.
   WHERE $8 AND (SELECT count(*) FROM ev) >= 0)
SELECT it.call, it.idx, c.reader_found, c.sender_found, it.code,
       EXISTS (SELECT 1 FROM won w WHERE w.call = it.call AND w.id = it.id) AS changed,
       (SELECT array_agg(DISTINCT sender) FROM won) AS wake,
       -- Selected so that they are evaluated (a SELECT in WITH runs only on demand).
       (SELECT coalesce(sum(n), 0) FROM ev) AS queued,
       (SELECT count(*) FROM all_read) AS all_read
  FROM items it JOIN calls c USING (call)
 ORDER BY it.call, it.idx";

#[derive(QueryableByName, Debug)]
struct Row {
    #[diesel(sql_type = Int4)]
    call: i32,
    #[diesel(sql_type = Int4)]
    idx: i32,
    #[diesel(sql_type = Bool)]
    reader_found: bool,
    #[diesel(sql_type = Bool)]
    sender_found: bool,
    #[diesel(sql_type = Int4)]
    code: i32,
    #[diesel(sql_type = Bool)]
    changed: bool,
    /// The senders whose streams the write concerns.
    #[diesel(sql_type = diesel::sql_types::Nullable<Array<Text>>)]
    wake: Option<Vec<String>>,
}

/// Checks a call's shape (1..=30 items); the items themselves are checked by [`write`].
pub fn check_call(call: &Call) -> ApiResult<()> {
    if call.items.is_empty() || call.items.len() > MAX_RECEIPT_ITEMS {
        return Err(ApiError::invalid(format!(
            "C2CMsgInfo must name 1 to {MAX_RECEIPT_ITEMS} messages, got {}",
            call.items.len()
        )));
    }
    Ok(())
}

/// Writes the receipts of `calls` (each already passed [`check_call`]) in one statement,
/// each call gets its own outcome. An `Err` means the statement failed and nothing was written.
pub fn write(conn: &mut PgConnection, ack: Ack, calls: &[Call]) -> ApiResult<Written<AckOutcome>> {
    let input = Input::new(ack, calls)?;
    let rows = input.run(conn)?;
    let wake = rows.iter().find_map(|r| r.wake.clone()).unwrap_or_default();
    let mut rows = rows.into_iter().peekable();
    let mut out = Vec::with_capacity(calls.len());
    for (i, c) in calls.iter().enumerate() {
        let mut mine = Vec::new();
        while let Some(r) = rows.next_if(|r| r.call as usize == i) {
            mine.push(r);
        }
        out.push(outcome(c, &mine));
    }
    Ok(Written { outcomes: out, wake })
}

/// The write's parameters: one entry per item, and per call.
struct Input<'a> {
    ack: Ack,
    call: Vec<i32>,
    idx: Vec<i32>,
    reader: Vec<&'a str>,
    sender: Vec<&'a str>,
    key: Vec<&'a str>,
    msg_id: Vec<String>,
    precheck: Vec<i32>,
    event_ids: Vec<String>,
    ips: Vec<&'a str>,
    platforms: Vec<&'a str>,
}

impl<'a> Input<'a> {
    fn new(ack: Ack, calls: &'a [Call]) -> ApiResult<Input<'a>> {
        let mut input = Input {
            ack,
            call: Vec::new(),
            idx: Vec::new(),
            reader: Vec::new(),
            sender: Vec::new(),
            key: Vec::new(),
            msg_id: Vec::new(),
            precheck: Vec::new(),
            event_ids: calls.iter().map(|_| outbox::new_event_id()).collect(),
            ips: calls.iter().map(|c| c.origin.client_ip.as_str()).collect(),
            platforms: calls.iter().map(|c| c.origin.platform.as_str()).collect(),
        };
        for (i, c) in calls.iter().enumerate() {
            let i = i32::try_from(i).map_err(|_| ApiError::invalid("too many calls in one batch"))?;
            for (j, it) in c.items.iter().enumerate() {
                let wrong_pair = it.from != c.sender || it.to != c.reader;
                input.call.push(i);
                input.idx.push(i32::try_from(j).unwrap_or(i32::MAX));
                input.reader.push(c.reader.as_str());
                input.sender.push(c.sender.as_str());
                input.key.push(it.key.as_str());
                input.msg_id.push(msg_id(&it.key));
                input.precheck.push(if wrong_pair { WRONG_PAIR } else { OK });
            }
        }
        Ok(input)
    }

    fn run(&self, conn: &mut PgConnection) -> ApiResult<Vec<Row>> {
        let event_type = match self.ack {
            Ack::Read => "C2C.ReadReceipt",
            Ack::Delivered => "C2C.Delivered",
        };
        Ok(crate::db::cached(WRITE)
            .bind::<Array<Int4>, _>(&self.call)
            .bind::<Array<Int4>, _>(&self.idx)
            .bind::<Array<Text>, _>(&self.reader)
            .bind::<Array<Text>, _>(&self.sender)
            .bind::<Array<Text>, _>(&self.key)
            .bind::<Array<Text>, _>(&self.msg_id)
            .bind::<Array<Int4>, _>(&self.precheck)
            .bind::<Bool, _>(self.ack == Ack::Read)
            .bind::<Text, _>(event_type)
            .bind::<BigInt, _>(outbox::event_time_ms())
            .bind::<Array<Text>, _>(&self.event_ids)
            .bind::<Array<Text>, _>(&self.ips)
            .bind::<Array<Text>, _>(&self.platforms)
            .load(conn)?)
    }
}

/// One call's outcome from its rows (one per item, in item order).
fn outcome(call: &Call, rows: &[Row]) -> ApiResult<AckOutcome> {
    let (reader, sender) = (&call.reader, &call.sender);
    let Some(first) = rows.first() else {
        return Err(ApiError::Internal(anyhow::anyhow!("the receipt write returned no row for a call")));
    };
    if !first.reader_found {
        return Err(ApiError::SenderNotFound(format!("account {reader:?} is not imported")));
    }
    if !first.sender_found {
        return Err(ApiError::PeerNotFound(format!("account {sender:?} is not imported")));
    }
    let mut changed: Vec<String> = Vec::new();
    let mut errors: KeyErrors = Vec::new();
    for r in rows {
        let i = r.idx;
        let Some(it) = usize::try_from(i).ok().and_then(|i| call.items.get(i)) else { continue };
        let key = &it.key;
        let refused = match r.code {
            OK => None,
            WRONG_PAIR => Some(ApiError::invalid(format!(
                "C2CMsgInfo[{i}] is {:?} -> {:?}; every item must be a message from {sender:?} (Peer_Account) to {reader:?} (Operator_Account)",
                it.from, it.to
            ))),
            NOT_FOUND => Some(ApiError::InvalidMsgKey(format!(
                "C2CMsgInfo[{i}].MsgKey {key:?} is not a message from {sender:?} to {reader:?}"
            ))),
            NO_RECEIPT => Some(ApiError::ReceiptNotFound(format!(
                "C2CMsgInfo[{i}].MsgKey {key:?} was sent without IsNeedReadReceipt, so it takes no receipts"
            ))),
            RECALLED => {
                Some(ApiError::MsgRecalled(format!("C2CMsgInfo[{i}].MsgKey {key:?} was recalled and takes no receipts")))
            }
            other => Some(ApiError::Internal(anyhow::anyhow!("unknown receipt verdict {other}"))),
        };
        match refused {
            Some(e) => errors.push((key.clone(), e)),
            None if r.changed && !changed.contains(key) => changed.push(key.clone()),
            None => {}
        }
    }
    if errors.len() == rows.len() {
        return Err(errors.swap_remove(0).1);
    }
    Ok(AckOutcome { changed, errors })
}

/// The coalesced write of one kind ([`Ack`]) of C2C receipt.
pub struct Writer(pub Ack);

impl crate::coalesce::Batch for Writer {
    type Call = Call;
    type Out = AckOutcome;

    fn items(call: &Call) -> usize {
        call.items.len()
    }

    fn family(&self) -> &'static str {
        match self.0 {
            Ack::Read => "c2c_read",
            Ack::Delivered => "c2c_delivered",
        }
    }

    fn write(&self, conn: &mut PgConnection, calls: &[Call]) -> ApiResult<Written<AckOutcome>> {
        // Outside a transaction: the statement has committed when it returns.
        write(conn, self.0, calls)
    }
}
