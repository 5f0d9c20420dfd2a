//! Group receipts: per-message read/delivery acks, conversation-level read, counts and lists.
//!
//! Counting rule: the eligible readers of message S are the members at the moment S was sent,
//! minus its sender. `ReadNum` counts every receipt (leavers keep theirs); `UnreadNum` counts
//! eligible readers who are still members and have not read. With `eligible_count` frozen at
//! send time and `read_count` moved only by first reads, UnreadNum = eligible - read -
//! (eligible members who left without reading), and the last term is kept on the message row
//! (`departed_unread`, moved by leaves and by the reads that undo them).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Int4, Nullable, Text, Timestamptz};
use diesel::PgConnection;

use crate::domain::config;
use crate::domain::group_acks::{self, Kind};
use crate::domain::groups::Member;
use crate::error::{ApiError, ApiResult};
use crate::webhooks::outbox::Origin;

/// Most messages one group receipt call may name.
pub const MAX_RECEIPT_ITEMS: usize = 50;
/// Largest page of a reader list.
pub const MAX_PAGE: i64 = 200;
/// Longest `AckContent`.
pub const MAX_ACK_CONTENT: usize = 1024;

#[derive(QueryableByName, Debug)]
struct SeqRow {
    #[diesel(sql_type = BigInt)]
    msg_seq: i64,
}

/// What every receipt call needs to know about the group, loaded in one round trip.
#[derive(Debug, Clone)]
pub struct GroupCtx {
    pub group_id: String,
    pub group_type: String,
    pub last_seq: i64,
}

#[derive(QueryableByName)]
struct CtxRow {
    #[diesel(sql_type = Text)]
    group_type: String,
    #[diesel(sql_type = BigInt)]
    last_seq: i64,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    group_types: Vec<Option<String>>,
    #[diesel(sql_type = Nullable<Text>)]
    role: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    join_seq: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    read_seq: Option<i64>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    joined_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Loads the group (10010), checks receipts are on for its type (19001) and, when `user` is
/// given, that they are a current member (10007): the preconditions of every receipt call.
pub fn context(conn: &mut PgConnection, group_id: &str, user: Option<&str>) -> ApiResult<(GroupCtx, Option<Member>)> {
    let row: Option<CtxRow> = crate::db::cached(
        "SELECT g.group_type, g.last_seq, c.group_types, m.role, m.join_seq, m.read_seq, m.joined_at
           FROM groups g CROSS JOIN receipt_config c
           LEFT JOIN group_members m ON m.group_id = g.group_id AND m.user_id = $2 AND m.leave_seq IS NULL
          WHERE g.group_id = $1",
    )
    .bind::<Text, _>(group_id)
    .bind::<Text, _>(user.unwrap_or_default())
    .get_result(conn)
    .optional()?;
    let row = row.ok_or_else(|| ApiError::GroupNotFound(group_id.to_string()))?;
    let types: Vec<String> = row.group_types.into_iter().flatten().collect();
    config::require_type_enabled(&types, &row.group_type, group_id)?;
    let member = match (user, row.role, row.join_seq, row.read_seq, row.joined_at) {
        (Some(u), Some(role), Some(join_seq), Some(read_seq), Some(joined_at)) => {
            Some(Member { user_id: u.to_string(), role, join_seq, read_seq, joined_at })
        }
        (Some(u), ..) => return Err(ApiError::forbidden(format!("{u:?} is not a member of group {group_id:?}"))),
        (None, ..) => None,
    };
    Ok((GroupCtx { group_id: group_id.to_string(), group_type: row.group_type, last_seq: row.last_seq }, member))
}

/// [`context`] for a member who acts on receipts.
fn member_context(conn: &mut PgConnection, group_id: &str, reader: &str) -> ApiResult<(GroupCtx, Member)> {
    let (g, m) = context(conn, group_id, Some(reader))?;
    let m = m.ok_or_else(|| ApiError::forbidden(format!("{reader:?} is not a member of group {group_id:?}")))?;
    Ok((g, m))
}

/// Items of a group receipt call that were refused, by seq, with why.
pub type SeqErrors = Vec<(i64, ApiError)>;

/// Per-item outcome of a group receipt call: the seqs that changed and the items refused.
#[derive(Debug, Default)]
pub struct SeqOutcome {
    pub changed: Vec<i64>,
    pub errors: SeqErrors,
}

/// Normalises a receipt call's items: 1..=50, positive seqs, AckContent <= 1 KiB, duplicates
/// merged (the last AckContent wins), sorted by seq.
pub fn normalise_items(items: &[(i64, Option<String>)], max: usize) -> ApiResult<(Vec<i64>, Vec<Option<String>>)> {
    if items.is_empty() || items.len() > max {
        return Err(ApiError::invalid(format!("MsgSeqList must have 1 to {max} items, got {}", items.len())));
    }
    let mut merged: Vec<(i64, Option<String>)> = Vec::new();
    for (seq, ack) in items {
        if *seq < 1 {
            return Err(ApiError::invalid(format!("MsgSeq {seq} is not a valid sequence number (they start at 1)")));
        }
        if ack.as_ref().is_some_and(|a| a.len() > MAX_ACK_CONTENT) {
            return Err(ApiError::invalid(format!(
                "AckContent of MsgSeq {seq} is longer than {MAX_ACK_CONTENT} bytes"
            )));
        }
        match merged.iter_mut().find(|(s, _)| s == seq) {
            Some(existing) => existing.1 = ack.clone().or(existing.1.take()),
            None => merged.push((*seq, ack.clone())),
        }
    }
    merged.sort_by_key(|(s, _)| *s);
    Ok(merged.into_iter().unzip())
}

/// Normalises a group receipt call of `reader` into the write's [`group_acks::Call`].
pub fn receipt_call(
    origin: &Origin,
    group_id: &str,
    reader: &str,
    items: &[(i64, Option<String>)],
) -> ApiResult<group_acks::Call> {
    let (seqs, acks) = normalise_items(items, MAX_RECEIPT_ITEMS)?;
    Ok(group_acks::Call {
        group_id: group_id.to_string(),
        reader: reader.to_string(),
        items: seqs.into_iter().zip(acks).collect(),
        origin: origin.clone(),
    })
}

/// Messages one conversation-read transaction marks at most: a long-idle member of a busy
/// group never holds thousands of row locks at once.
pub const READ_REPORT_BATCH: i64 = 500;

/// Conversation-level read: every receipt-requesting message up to `up_to` that `reader` is
/// eligible for (in the current or an earlier membership) becomes read. Runs in transactions
/// of at most [`READ_REPORT_BATCH`] messages; each batch is complete on its own (receipts,
/// counters, notifications, callbacks), so a crash between batches loses nothing and the next
/// report continues. Returns (the watermark in force, seqs newly read).
pub fn read_report(
    conn: &mut PgConnection,
    origin: &Origin,
    group_id: &str,
    reader: &str,
    up_to: i64,
) -> ApiResult<(i64, Vec<i64>)> {
    read_report_in_batches(conn, origin, group_id, reader, up_to, READ_REPORT_BATCH)
}

/// [`read_report`] with a chosen batch size (tests use small ones).
pub fn read_report_in_batches(
    conn: &mut PgConnection,
    origin: &Origin,
    group_id: &str,
    reader: &str,
    up_to: i64,
    batch: i64,
) -> ApiResult<(i64, Vec<i64>)> {
    if up_to < 1 {
        return Err(ApiError::invalid(format!("MsgSeq {up_to} is not a valid sequence number (they start at 1)")));
    }
    let mut changed = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let step =
            crate::db::transaction(conn, |c| read_report_batch(c, origin, group_id, reader, up_to, after, batch))?;
        changed.extend(step.changed);
        crate::live::wake_after_commit(conn, &step.wake);
        match step.next {
            Some(next) => after = Some(next),
            None => return Ok((step.watermark, changed)),
        }
    }
}

/// One batch of a conversation read.
struct BatchStep {
    changed: Vec<i64>,
    /// Where the next batch starts; `None` when the read is complete.
    next: Option<i64>,
    watermark: i64,
    /// Senders whose streams to wake once the batch committed.
    wake: Vec<String>,
}

#[derive(QueryableByName)]
struct Start {
    #[diesel(sql_type = BigInt)]
    start: i64,
}

fn read_report_batch(
    conn: &mut PgConnection,
    origin: &Origin,
    group_id: &str,
    reader: &str,
    up_to: i64,
    after: Option<i64>,
    batch: i64,
) -> ApiResult<BatchStep> {
    // Membership and the receipt switch are checked again in every batch.
    let (g, member) = member_context(conn, group_id, reader)?;
    let up_to = up_to.min(g.last_seq);
    let watermark = up_to.max(member.read_seq);
    // Where unread messages can start: the lowest read watermark over the reader's
    // memberships that end after it (the current one, and earlier ones if they rejoined).
    let from = match after {
        Some(a) => a,
        None => {
            let row: Start = crate::db::cached(
                "SELECT coalesce(min(greatest(join_seq, read_seq)), $3) AS start FROM group_members
                  WHERE group_id = $1 AND user_id = $2 AND greatest(join_seq, read_seq) < coalesce(leave_seq, $3)",
            )
            .bind::<Text, _>(group_id)
            .bind::<Text, _>(reader)
            .bind::<BigInt, _>(up_to)
            .get_result(conn)?;
            row.start
        }
    };
    if up_to <= from {
        return Ok(BatchStep { changed: Vec::new(), next: None, watermark, wake: Vec::new() });
    }
    // The reader's membership rows first, then the messages: the order of per-message
    // receipts (which share-lock the membership) and of leaves, so none can deadlock.
    crate::db::cached("SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = $2 FOR NO KEY UPDATE")
        .bind::<Text, _>(group_id)
        .bind::<Text, _>(reader)
        .execute(conn)?;
    // Lock the candidates in seq order (same order as per-message receipts).
    let rows: Vec<SeqRow> = crate::db::cached(
        "SELECT m.msg_seq FROM group_messages m
         WHERE m.group_id = $1 AND m.msg_seq > $2 AND m.msg_seq <= $3 AND m.need_receipt
           AND m.recalled_at IS NULL AND m.from_account <> $4
           AND EXISTS (SELECT 1 FROM group_members s WHERE s.group_id = m.group_id AND s.user_id = $4
                         AND s.join_seq < m.msg_seq AND coalesce(s.leave_seq, m.msg_seq) >= m.msg_seq)
           AND NOT EXISTS (SELECT 1 FROM group_receipts r WHERE r.group_id = m.group_id
                           AND r.msg_seq = m.msg_seq AND r.reader = $4 AND r.read_at IS NOT NULL)
         ORDER BY m.msg_seq LIMIT $5 FOR NO KEY UPDATE OF m",
    )
    .bind::<Text, _>(group_id)
    .bind::<BigInt, _>(from)
    .bind::<BigInt, _>(up_to)
    .bind::<Text, _>(reader)
    .bind::<BigInt, _>(batch.max(1))
    .load(conn)?;
    let seqs: Vec<i64> = rows.into_iter().map(|r| r.msg_seq).collect();
    let full = seqs.len() as i64 >= batch.max(1);
    // A full batch ends where it stopped; the last one covers the whole range.
    let reached = if full { seqs.last().copied().unwrap_or(up_to) } else { up_to };
    // One write for the whole batch, in calls of at most 50 messages so that each callback
    // stays bounded.
    let calls: Vec<group_acks::Call> = seqs
        .chunks(MAX_RECEIPT_ITEMS)
        .map(|chunk| group_acks::Call {
            group_id: group_id.to_string(),
            reader: reader.to_string(),
            items: chunk.iter().map(|s| (*s, None)).collect(),
            origin: origin.clone(),
        })
        .collect();
    let mut changed = Vec::new();
    let written = group_acks::write(conn, Kind::Read, &calls)?;
    for outcome in written.outcomes {
        changed.extend(outcome?.changed);
    }
    // Watermarks move with the progress, so an interrupted read resumes where it stopped.
    crate::db::cached(
        "UPDATE group_members SET read_seq = greatest(read_seq, least(coalesce(leave_seq, $3), $3))
         WHERE group_id = $1 AND user_id = $2 AND greatest(join_seq, read_seq) < coalesce(leave_seq, $3)",
    )
    .bind::<Text, _>(group_id)
    .bind::<Text, _>(reader)
    .bind::<BigInt, _>(reached)
    .execute(conn)?;
    Ok(BatchStep { changed, next: full.then_some(reached), watermark, wake: written.wake })
}

/// Counts of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    pub msg_seq: i64,
    /// False when the seq does not exist, did not request receipts or was recalled.
    pub found: bool,
    pub read: i64,
    pub unread: i64,
    pub delivered: i64,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    msg_seq: i64,
    #[diesel(sql_type = Bool)]
    need_receipt: bool,
    #[diesel(sql_type = Int4)]
    eligible_count: i32,
    #[diesel(sql_type = Int4)]
    read_count: i32,
    #[diesel(sql_type = Int4)]
    delivered_count: i32,
    #[diesel(sql_type = Int4)]
    departed_unread: i32,
}

const COUNTS: &str =
    // `departed_unread` is kept on the row by leaves and by the reads that undo them, so a
    // count is one index probe per message, whatever the group's history.
    "SELECT m.msg_seq, m.need_receipt AND m.recalled_at IS NULL AS need_receipt, m.eligible_count, m.read_count,
            m.delivered_count, m.departed_unread
       FROM group_messages m WHERE m.group_id = $1 AND m.msg_seq = ANY($2)";

/// Counts for many messages in one round trip.
pub fn counts(conn: &mut PgConnection, group_id: &str, seqs: &[i64]) -> ApiResult<Vec<Counts>> {
    let rows: Vec<CountRow> =
        crate::db::cached(COUNTS).bind::<Text, _>(group_id).bind::<Array<BigInt>, _>(seqs).load(conn)?;
    Ok(counts_of(seqs, &rows))
}

/// One entry per asked seq, in the asked order.
fn counts_of(seqs: &[i64], rows: &[CountRow]) -> Vec<Counts> {
    seqs.iter()
        .map(|seq| match rows.iter().find(|r| r.msg_seq == *seq && r.need_receipt) {
            Some(r) => Counts {
                msg_seq: *seq,
                found: true,
                read: r.read_count.into(),
                unread: (i64::from(r.eligible_count) - i64::from(r.read_count) - i64::from(r.departed_unread)).max(0),
                delivered: r.delivered_count.into(),
            },
            None => Counts { msg_seq: *seq, found: false, read: 0, unread: 0, delivered: 0 },
        })
        .collect()
}

#[derive(QueryableByName)]
struct CountsCallRow {
    #[diesel(sql_type = Text)]
    group_type: String,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    group_types: Vec<Option<String>>,
    #[diesel(sql_type = Bool)]
    is_member: bool,
    #[diesel(sql_type = Nullable<BigInt>)]
    msg_seq: Option<i64>,
    #[diesel(sql_type = Nullable<Bool>)]
    need_receipt: Option<bool>,
    #[diesel(sql_type = Nullable<Int4>)]
    eligible_count: Option<i32>,
    #[diesel(sql_type = Nullable<Int4>)]
    read_count: Option<i32>,
    #[diesel(sql_type = Nullable<Int4>)]
    delivered_count: Option<i32>,
    #[diesel(sql_type = Nullable<Int4>)]
    departed_unread: Option<i32>,
}

/// Counts for a `get_group_msg_receipt` call (receipts must be enabled for the group's type).
/// `viewer` is the non-admin caller, who must be a member of the group. The checks of
/// [`context`] and the counts share one round trip: this is the most frequent read.
pub fn query_counts(
    conn: &mut PgConnection,
    group_id: &str,
    viewer: Option<&str>,
    seqs: &[i64],
) -> ApiResult<Vec<Counts>> {
    if seqs.is_empty() || seqs.len() > MAX_RECEIPT_ITEMS {
        return Err(ApiError::invalid(format!(
            "MsgSeqList must have 1 to {MAX_RECEIPT_ITEMS} items, got {}",
            seqs.len()
        )));
    }
    // One row per message found (or one without a message), none when the group is unknown.
    let rows: Vec<CountsCallRow> = crate::db::cached(
        "SELECT g.group_type, c.group_types,
                $3 = '' OR EXISTS (SELECT 1 FROM group_members s WHERE s.group_id = g.group_id AND s.user_id = $3
                                     AND s.leave_seq IS NULL) AS is_member,
                m.msg_seq, m.need_receipt AND m.recalled_at IS NULL AS need_receipt, m.eligible_count,
                m.read_count, m.delivered_count, m.departed_unread
           FROM groups g CROSS JOIN receipt_config c
           LEFT JOIN group_messages m ON m.group_id = g.group_id AND m.msg_seq = ANY($2)
          WHERE g.group_id = $1",
    )
    .bind::<Text, _>(group_id)
    .bind::<Array<BigInt>, _>(seqs)
    .bind::<Text, _>(viewer.unwrap_or_default())
    .load(conn)?;
    let first = rows.first().ok_or_else(|| ApiError::GroupNotFound(group_id.to_string()))?;
    let types: Vec<String> = first.group_types.iter().flatten().cloned().collect();
    config::require_type_enabled(&types, &first.group_type, group_id)?;
    if let (Some(u), false) = (viewer, first.is_member) {
        return Err(ApiError::forbidden(format!("{u:?} is not a member of group {group_id:?}")));
    }
    let found: Vec<CountRow> = rows
        .iter()
        .filter_map(|r| {
            Some(CountRow {
                msg_seq: r.msg_seq?,
                need_receipt: r.need_receipt?,
                eligible_count: r.eligible_count?,
                read_count: r.read_count?,
                delivered_count: r.delivered_count?,
                departed_unread: r.departed_unread?,
            })
        })
        .collect();
    Ok(counts_of(seqs, &found))
}

/// A reader of a message.
#[derive(Debug, Clone)]
pub struct Reader {
    pub account: String,
    pub read_time: i64,
    pub ack_content: Option<String>,
    /// The reader was private when they read (listed only to the App admin and to themselves).
    pub private: bool,
}

/// One page of a reader list.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub read: Vec<Reader>,
    pub unread: Vec<String>,
    pub cursor: String,
    pub finished: bool,
}

/// Which list to page through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    Read,
    Unread,
}

fn decode_cursor(cursor: &str) -> ApiResult<String> {
    if cursor.is_empty() {
        return Ok(String::new());
    }
    // A decoded cursor is an account id: one with a control character (a NUL would reach SQL)
    // cannot have come from us.
    let decoded = URL_SAFE_NO_PAD.decode(cursor).ok().and_then(|b| String::from_utf8(b).ok());
    decoded.filter(|a| !a.chars().any(char::is_control)).ok_or_else(|| {
        ApiError::invalid(
            "Cursor is not a value returned by get_group_msg_receipt_detail; pass \"\" for the first page",
        )
    })
}

#[derive(QueryableByName)]
struct ReaderRow {
    #[diesel(sql_type = Text)]
    reader: String,
    #[diesel(sql_type = Timestamptz)]
    read_at: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    ack_content: Option<String>,
    #[diesel(sql_type = Bool)]
    private: bool,
}

#[derive(QueryableByName)]
struct UserRow {
    #[diesel(sql_type = Text)]
    user_id: String,
}

/// A page of the read or unread list of (group, seq), keyset-paged by account (no OFFSET).
/// `viewer` is the non-admin caller, who must be a member of the group.
#[allow(clippy::too_many_arguments)]
pub fn list(
    conn: &mut PgConnection,
    group_id: &str,
    viewer: Option<&str>,
    seq: i64,
    filter: ListFilter,
    cursor: &str,
    count: i64,
) -> ApiResult<ListPage> {
    let count = count.clamp(1, MAX_PAGE);
    let after = decode_cursor(cursor)?;
    context(conn, group_id, viewer)?;
    use crate::db::schema::group_messages as gm;
    let msg: Option<(String, bool, bool)> = gm::table
        .find((group_id, seq))
        .select((gm::from_account, gm::need_receipt, gm::recalled_at.is_not_null()))
        .first(conn)
        .optional()?;
    let sender = match msg {
        Some((_, _, true)) => {
            return Err(ApiError::ReceiptNotFound(format!(
                "MsgSeq {seq} was recalled; its receipt information is gone"
            )))
        }
        Some((from, true, false)) => from,
        Some((_, false, false)) => {
            return Err(ApiError::ReceiptNotFound(format!(
                "MsgSeq {seq} was sent without NeedReadReceipt; it has no receipt information"
            )))
        }
        None => return Err(ApiError::ReceiptNotFound(format!("group {group_id:?} has no message with MsgSeq {seq}"))),
    };
    let mut page = ListPage { read: Vec::new(), unread: Vec::new(), cursor: String::new(), finished: true };
    let last = match filter {
        ListFilter::Read => {
            let mut rows: Vec<ReaderRow> = crate::db::cached(
                // Private reads are listed to the App admin (no viewer) and to the reader
                // themselves only; everyone else pages past them.
                "SELECT reader, read_at, ack_content, private FROM group_receipts
                 WHERE group_id = $1 AND msg_seq = $2 AND reader > $3 AND read_at IS NOT NULL
                   AND (NOT private OR $5::text IS NULL OR reader = $5)
                 ORDER BY reader LIMIT $4",
            )
            .bind::<Text, _>(group_id)
            .bind::<BigInt, _>(seq)
            .bind::<Text, _>(&after)
            .bind::<BigInt, _>(count + 1)
            .bind::<Nullable<Text>, _>(viewer)
            .load(conn)?;
            page.finished = rows.len() as i64 <= count;
            rows.truncate(count as usize);
            page.read = rows
                .into_iter()
                .map(|r| Reader {
                    account: r.reader,
                    read_time: r.read_at.timestamp(),
                    ack_content: r.ack_content,
                    private: r.private,
                })
                .collect();
            page.read.last().map(|r| r.account.clone())
        }
        ListFilter::Unread => {
            (page.unread, page.finished) = unread_page(conn, group_id, seq, &sender, &after, count)?;
            page.unread.last().cloned()
        }
    };
    if !page.finished {
        page.cursor = last.map(|l| URL_SAFE_NO_PAD.encode(l)).unwrap_or_default();
    }
    Ok(page)
}

/// Up to `count` current members who were eligible for (group, seq) (sent by `sender`) and have
/// not read it, ordered by account after `after`; and whether no more follow.
pub fn unread_page(
    conn: &mut PgConnection,
    group_id: &str,
    seq: i64,
    sender: &str,
    after: &str,
    count: i64,
) -> ApiResult<(Vec<String>, bool)> {
    let mut rows: Vec<UserRow> = crate::db::cached(
        "SELECT s.user_id FROM group_members s
         WHERE s.group_id = $1 AND s.leave_seq IS NULL AND s.user_id > $3 AND s.join_seq < $2
           AND s.user_id <> $5
           -- A scalar subquery, not NOT EXISTS: it stays a per-row primary-key probe, where
           -- an anti-join planned on stale estimates rescans all readers per member.
           AND (SELECT r.read_at FROM group_receipts r WHERE r.group_id = $1 AND r.msg_seq = $2
                AND r.reader = s.user_id) IS NULL
         ORDER BY s.user_id LIMIT $4",
    )
    .bind::<Text, _>(group_id)
    .bind::<BigInt, _>(seq)
    .bind::<Text, _>(after)
    .bind::<BigInt, _>(count + 1)
    .bind::<Text, _>(sender)
    .load(conn)?;
    let finished = rows.len() as i64 <= count;
    rows.truncate(count as usize);
    Ok((rows.into_iter().map(|r| r.user_id).collect(), finished))
}
