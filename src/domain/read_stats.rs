//! Read analytics (`receipt_svc/get_read_stats`): eligible readers, read share, time-to-read
//! percentiles and a read-over-time histogram of one group message or of the messages a group
//! sent in a time range.
//!
//! The counts are those of `get_group_msg_receipt`, read off the message rows: `EligibleNum` is
//! `ReadNum + UnreadNum`, i.e. the members at send time minus the sender minus those who left
//! without reading (`departed_unread`); leavers keep the reads they gave. Times come from the
//! stored receipts of the counted messages, so the cost is one index range per message and one
//! pass over its read receipts: bounded by [`MAX_RANGE_MESSAGES`] and [`MAX_RANGE_READERS`].

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Nullable, Text};
use diesel::PgConnection;

use crate::domain::group_receipts;
use crate::error::{ApiError, ApiResult};

/// Most messages a range counts; later ones are left out and `Truncated` is set.
pub const MAX_RANGE_MESSAGES: usize = 1000;
/// Most eligible readers (summed over messages) a range counts: once the messages taken so far
/// reach it, later ones are left out and `Truncated` is set (the first message always counts).
pub const MAX_RANGE_READERS: i64 = 100_000;
/// Most histogram buckets; a bucket width that would need more is widened.
pub const MAX_BUCKETS: i64 = 100;
/// Largest `BucketSeconds` accepted (one year).
pub const MAX_BUCKET_SECONDS: i64 = 365 * 86_400;
/// Bucket widths chosen when the caller gives none: the smallest that fits the span in
/// [`MAX_BUCKETS`]; beyond the last, whole days.
const NICE_WIDTHS: [i64; 18] =
    [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400];

/// Which messages to analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One message by its `MsgSeq`.
    Message(i64),
    /// The receipt-requesting messages with `start <= MsgTime <= end` (unix seconds).
    Range { start: i64, end: i64 },
}

/// One histogram bucket: reads with `start <= read time < start + width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub start: i64,
    pub reads: i64,
}

/// The answer of a stats query.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadStats {
    pub msg_num: i64,
    pub eligible: i64,
    pub read: i64,
    pub unread: i64,
    /// `read / eligible` in percent, rounded half up to 2 decimals (0 when nobody is eligible).
    pub read_percent: f64,
    /// Nearest-rank percentiles of read time minus MsgTime, in ms; `None` without reads.
    pub p50_ms: Option<i64>,
    pub p90_ms: Option<i64>,
    pub p99_ms: Option<i64>,
    pub bucket_seconds: i64,
    pub histogram: Vec<Bucket>,
    /// True when the range held more messages than were counted.
    pub truncated: bool,
}

/// Checks a stats request's shape: exactly one of `MsgSeq` and `StartTime`+`EndTime`, a range
/// that is not reversed, and a `BucketSeconds` in 1..=[`MAX_BUCKET_SECONDS`].
pub fn scope(
    msg_seq: Option<i64>,
    start: Option<i64>,
    end: Option<i64>,
    bucket_seconds: Option<i64>,
) -> ApiResult<Scope> {
    if let Some(b) = bucket_seconds {
        if !(1..=MAX_BUCKET_SECONDS).contains(&b) {
            return Err(ApiError::invalid(format!("BucketSeconds must be 1 to {MAX_BUCKET_SECONDS}, got {b}")));
        }
    }
    match (msg_seq, start, end) {
        (Some(seq), None, None) if seq >= 1 => Ok(Scope::Message(seq)),
        (Some(seq), None, None) => {
            Err(ApiError::invalid(format!("MsgSeq {seq} is not a valid sequence number (they start at 1)")))
        }
        (None, Some(s), Some(e)) if s < 0 || e < 0 => Err(ApiError::invalid(format!(
            "StartTime and EndTime are unix seconds and cannot be negative, got {s} and {e}"
        ))),
        (None, Some(s), Some(e)) if e < s => {
            Err(ApiError::invalid(format!("EndTime {e} is before StartTime {s}: the range is reversed")))
        }
        (None, Some(start), Some(end)) => Ok(Scope::Range { start, end }),
        (None, Some(_), None) => Err(ApiError::invalid("EndTime is required with StartTime")),
        (None, None, Some(_)) => Err(ApiError::invalid("StartTime is required with EndTime")),
        (None, None, None) => {
            Err(ApiError::invalid("give either MsgSeq (one message) or StartTime and EndTime (a time range)"))
        }
        (Some(_), ..) => Err(ApiError::invalid("give either MsgSeq or StartTime and EndTime, not both")),
    }
}

#[derive(QueryableByName, Debug)]
struct MsgRow {
    #[diesel(sql_type = BigInt)]
    msg_seq: i64,
    #[diesel(sql_type = BigInt)]
    msg_time: i64,
    #[diesel(sql_type = Text)]
    from_account: String,
    #[diesel(sql_type = Int4)]
    eligible_count: i32,
    #[diesel(sql_type = Int4)]
    read_count: i32,
    #[diesel(sql_type = Int4)]
    departed_unread: i32,
}

#[derive(QueryableByName)]
struct RoleRow {
    #[diesel(sql_type = Text)]
    role: String,
}

#[derive(QueryableByName)]
struct TimesRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    p50: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    p90: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    p99: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_read: Option<i64>,
}

#[derive(QueryableByName)]
struct BucketRow {
    #[diesel(sql_type = BigInt)]
    idx: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Stats of `scope` in `group_id`. `viewer` is the non-admin caller: a current Owner or Admin
/// of the group may see any stats, a plain member only those of a message they sent.
pub fn stats(
    conn: &mut PgConnection,
    group_id: &str,
    viewer: Option<&str>,
    scope: Scope,
    bucket_seconds: Option<i64>,
) -> ApiResult<ReadStats> {
    // One snapshot: the counters, the receipts and the histogram describe the same moment.
    conn.build_transaction().repeatable_read().read_only().run(|c| {
        group_receipts::context(c, group_id, None)?;
        let role = match viewer {
            Some(v) => Some(role_of(c, group_id, v)?),
            None => None,
        };
        let (msgs, truncated) = messages(c, group_id, scope)?;
        if let (Some(v), Some(role)) = (viewer, role.as_deref()) {
            let privileged = role == "Owner" || role == "Admin";
            if !privileged && (matches!(scope, Scope::Range { .. }) || msgs.iter().any(|m| m.from_account != v)) {
                return Err(ApiError::forbidden(format!(
                    "{v:?} is a plain member of group {group_id:?}: members see the read stats of their own messages only; time ranges need the group's Owner or an Admin"
                )));
            }
        }
        compute(c, group_id, &msgs, truncated, bucket_seconds)
    })
}

/// The caller's role in the group (10007 when not a current member).
fn role_of(conn: &mut PgConnection, group_id: &str, user: &str) -> ApiResult<String> {
    let row: Option<RoleRow> =
        crate::db::cached("SELECT role FROM group_members WHERE group_id = $1 AND user_id = $2 AND leave_seq IS NULL")
            .bind::<Text, _>(group_id)
            .bind::<Text, _>(user)
            .get_result(conn)
            .optional()?;
    row.map(|r| r.role).ok_or_else(|| ApiError::forbidden(format!("{user:?} is not a member of group {group_id:?}")))
}

/// The messages `scope` counts, and whether a range held more than the caps let through.
fn messages(conn: &mut PgConnection, group_id: &str, scope: Scope) -> ApiResult<(Vec<MsgRow>, bool)> {
    match scope {
        Scope::Message(seq) => {
            let row: Option<(bool, bool)> = {
                use crate::db::schema::group_messages as gm;
                gm::table
                    .find((group_id, seq))
                    .select((gm::need_receipt, gm::recalled_at.is_not_null()))
                    .first(conn)
                    .optional()?
            };
            match row {
                None => {
                    return Err(ApiError::ReceiptNotFound(format!(
                        "group {group_id:?} has no message with MsgSeq {seq}"
                    )))
                }
                Some((_, true)) => {
                    return Err(ApiError::ReceiptNotFound(format!(
                        "MsgSeq {seq} was recalled; its receipt information is gone"
                    )))
                }
                Some((false, _)) => {
                    return Err(ApiError::ReceiptNotFound(format!(
                        "MsgSeq {seq} was sent without NeedReadReceipt; it has no read stats"
                    )))
                }
                Some((true, false)) => {}
            }
            let rows: Vec<MsgRow> = crate::db::cached(
                "SELECT msg_seq, msg_time, from_account, eligible_count, read_count, departed_unread
                   FROM group_messages WHERE group_id = $1 AND msg_seq = $2",
            )
            .bind::<Text, _>(group_id)
            .bind::<BigInt, _>(seq)
            .load(conn)?;
            Ok((rows, false))
        }
        Scope::Range { start, end } => {
            // One row more than the cap tells whether the range was cut (index-ordered scan).
            let mut rows: Vec<MsgRow> = crate::db::cached(
                "SELECT msg_seq, msg_time, from_account, eligible_count, read_count, departed_unread
                   FROM group_messages
                  WHERE group_id = $1 AND msg_time >= $2 AND msg_time <= $3 AND need_receipt AND recalled_at IS NULL
                  ORDER BY msg_time, msg_seq LIMIT $4",
            )
            .bind::<Text, _>(group_id)
            .bind::<BigInt, _>(start)
            .bind::<BigInt, _>(end)
            .bind::<BigInt, _>(MAX_RANGE_MESSAGES as i64 + 1)
            .load(conn)?;
            let keep = within_caps(rows.iter().map(|r| i64::from(r.eligible_count)));
            let truncated = keep < rows.len();
            rows.truncate(keep);
            Ok((rows, truncated))
        }
    }
}

/// How many of the messages (with these eligible counts, in range order) a range counts: at
/// most [`MAX_RANGE_MESSAGES`], and none after the sum reached [`MAX_RANGE_READERS`].
pub fn within_caps(eligible: impl Iterator<Item = i64>) -> usize {
    let mut sum = 0i64;
    let mut n = 0usize;
    for e in eligible {
        if n >= MAX_RANGE_MESSAGES || (n > 0 && sum >= MAX_RANGE_READERS) {
            break;
        }
        sum += e;
        n += 1;
    }
    n
}

/// The figures of the counted messages.
fn compute(
    conn: &mut PgConnection,
    group_id: &str,
    msgs: &[MsgRow],
    truncated: bool,
    bucket_seconds: Option<i64>,
) -> ApiResult<ReadStats> {
    let mut eligible = 0i64;
    let mut read = 0i64;
    let mut unread = 0i64;
    for m in msgs {
        let (e, r, d) = (i64::from(m.eligible_count), i64::from(m.read_count), i64::from(m.departed_unread));
        // As get_group_msg_receipt counts: unread excludes leavers who had not read.
        let u = (e - r - d).max(0);
        read += r;
        unread += u;
        eligible += r + u;
    }
    let seqs: Vec<i64> = msgs.iter().map(|m| m.msg_seq).collect();
    let times: Vec<i64> = msgs.iter().map(|m| m.msg_time).collect();
    let mut out = ReadStats {
        msg_num: msgs.len() as i64,
        eligible,
        read,
        unread,
        read_percent: percent(read, eligible),
        p50_ms: None,
        p90_ms: None,
        p99_ms: None,
        bucket_seconds: bucket_seconds.unwrap_or(1),
        histogram: Vec::new(),
        truncated,
    };
    let Some(&origin) = times.iter().min() else { return Ok(out) };
    // Nearest rank: the value at 1-based rank ceil(P * N / 100) of the sorted times, in
    // integer arithmetic so no float rounding can move a rank.
    let t: TimesRow = crate::db::cached(
        "WITH d AS (
           SELECT greatest(0, floor(extract(epoch FROM r.read_at) * 1000)::int8 - m.t * 1000) AS ms,
                  floor(extract(epoch FROM r.read_at))::int8 AS at
             FROM unnest($2::int8[], $3::int8[]) AS m(seq, t)
             JOIN group_receipts r ON r.group_id = $1 AND r.msg_seq = m.seq AND r.read_at IS NOT NULL),
         o AS (SELECT ms, at, row_number() OVER (ORDER BY ms) AS rn, count(*) OVER () AS n FROM d)
         SELECT max(ms) FILTER (WHERE rn = (n * 50 + 99) / 100) AS p50,
                max(ms) FILTER (WHERE rn = (n * 90 + 99) / 100) AS p90,
                max(ms) FILTER (WHERE rn = (n * 99 + 99) / 100) AS p99,
                max(at) AS last_read
           FROM o",
    )
    .bind::<Text, _>(group_id)
    .bind::<Array<BigInt>, _>(&seqs)
    .bind::<Array<BigInt>, _>(&times)
    .get_result(conn)?;
    let Some(last_read) = t.last_read else { return Ok(out) };
    (out.p50_ms, out.p90_ms, out.p99_ms) = (t.p50, t.p90, t.p99);
    let span = (last_read - origin).max(0) + 1;
    let width = bucket_width(span, bucket_seconds);
    let buckets = (span + width - 1) / width;
    let rows: Vec<BucketRow> = crate::db::cached(
        "SELECT least(greatest(floor(extract(epoch FROM r.read_at))::int8 - $3, 0) / $4, $5 - 1) AS idx,
                count(*) AS n
           FROM group_receipts r
          WHERE r.group_id = $1 AND r.msg_seq = ANY($2) AND r.read_at IS NOT NULL
          GROUP BY 1",
    )
    .bind::<Text, _>(group_id)
    .bind::<Array<BigInt>, _>(&seqs)
    .bind::<BigInt, _>(origin)
    .bind::<BigInt, _>(width)
    .bind::<BigInt, _>(buckets)
    .load(conn)?;
    out.bucket_seconds = width;
    out.histogram = (0..buckets).map(|i| Bucket { start: origin + i * width, reads: 0 }).collect();
    for r in rows {
        if let Some(b) = usize::try_from(r.idx).ok().and_then(|i| out.histogram.get_mut(i)) {
            b.reads += r.n;
        }
    }
    Ok(out)
}

/// `read / eligible` in percent with 2 decimals, rounded half up (0 when nobody is eligible).
pub fn percent(read: i64, eligible: i64) -> f64 {
    if eligible <= 0 {
        return 0.0;
    }
    let hundredths = (read.min(eligible) * 10_000 * 2 + eligible) / (2 * eligible);
    hundredths as f64 / 100.0
}

/// The bucket width for a histogram spanning `span` seconds: the caller's `given` widened to
/// its smallest multiple that needs at most [`MAX_BUCKETS`] buckets, else the smallest of
/// [`NICE_WIDTHS`] (then whole days) that does.
pub fn bucket_width(span: i64, given: Option<i64>) -> i64 {
    let span = span.max(1);
    let fits = |w: i64| (span + w - 1) / w <= MAX_BUCKETS;
    match given {
        Some(b) => {
            let b = b.max(1);
            let k = (span + MAX_BUCKETS * b - 1) / (MAX_BUCKETS * b);
            b * k.max(1)
        }
        None => NICE_WIDTHS.iter().copied().find(|w| fits(*w)).unwrap_or_else(|| {
            let day = 86_400;
            day * ((span + MAX_BUCKETS * day - 1) / (MAX_BUCKETS * day))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_widths_fit_in_a_hundred_buckets() {
        assert_eq!(bucket_width(1, None), 1);
        assert_eq!(bucket_width(100, None), 1);
        assert_eq!(bucket_width(101, None), 2);
        assert_eq!(bucket_width(3_601, None), 60);
        assert_eq!(bucket_width(100 * 86_400 + 1, None), 2 * 86_400);
        assert_eq!(bucket_width(50, Some(7)), 7);
        assert_eq!(bucket_width(701, Some(7)), 14);
        assert_eq!(bucket_width(700, Some(7)), 7);
        for span in [1, 99, 100, 101, 12_345, 9_999_999] {
            for given in [None, Some(1), Some(3), Some(3600)] {
                let w = bucket_width(span, given);
                assert!((span + w - 1) / w <= MAX_BUCKETS, "span {span} given {given:?} -> {w}");
            }
        }
    }

    #[test]
    fn percent_rounds_half_up_to_two_decimals() {
        assert_eq!(percent(2, 3), 66.67);
        assert_eq!(percent(1, 3), 33.33);
        assert_eq!(percent(1, 8), 12.5);
        assert_eq!(percent(1, 200_000), 0.0);
        assert_eq!(percent(1, 20_000), 0.01);
        assert_eq!(percent(0, 0), 0.0);
        assert_eq!(percent(5, 5), 100.0);
    }

    #[test]
    fn ranges_stop_at_the_caps() {
        assert_eq!(within_caps([10, 10, 10].into_iter()), 3);
        assert_eq!(within_caps([60_000, 40_000, 1].into_iter()), 2);
        assert_eq!(within_caps([200_000, 1].into_iter()), 1);
        assert_eq!(within_caps(std::iter::repeat_n(1, 5000)), MAX_RANGE_MESSAGES);
    }
}
