//! Seeding through the public API, with bounded concurrency: accounts, three groups (four with
//! the 100,000-member one), C2C pairs, receipt-requesting messages, and reads in the large
//! groups so their lists are mixed. The 100,000-member group's reads are the one bulk path:
//! when the harness owns the database they are written with one SQL statement (see
//! [`bulk_reads`]), and checked through the API afterwards.

use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use crate::target::Api;

/// Requests in flight while seeding.
const SEED_CONCURRENCY: usize = 8;
/// Receivers per C2C sender: one `batchsendmsg` stores a message for each of them.
pub const RECEIVERS_PER_SENDER: usize = 10;

/// Sizes of the seeded data.
#[derive(Debug, Clone, Serialize)]
pub struct Sizes {
    /// Accounts the scenarios use for C2C and the small groups (the 2,000).
    pub base_accounts: usize,
    /// Members of the large group (accounts are imported for all of them).
    pub large_members: usize,
    /// Members of the webhook group (S6).
    pub small_members: usize,
    /// Members of the group S1 writes to.
    pub medium_members: usize,
    /// Messages in the webhook group.
    pub small_msgs: usize,
    /// Messages in the medium group for single-message receipts (S1a).
    pub medium_single_msgs: usize,
    /// Messages in the medium group for 30-message receipts (S1b), a multiple of 30.
    pub medium_batch_msgs: usize,
    /// Messages in the large group.
    pub large_msgs: usize,
    /// Members of the large group who read a prefix of its messages before the run.
    pub large_readers: usize,
    /// Members of the 100,000-member group (S4/S5 at ten times the size); 0 = not seeded.
    pub huge_members: usize,
    /// Messages in that group.
    pub huge_msgs: usize,
    /// Its members who read a prefix of its messages before the run.
    pub huge_readers: usize,
    /// Messages in the medium group after S1's, for S8's two-process receipts.
    pub medium_multi_msgs: usize,
    /// Messages in the webhook group after S6's, for S8's two-process webhooks.
    pub small_multi_msgs: usize,
    /// C2C senders; each has [`RECEIVERS_PER_SENDER`] receivers, so pairs = senders x 10.
    pub c2c_senders: usize,
    /// Messages per C2C pair.
    pub c2c_msgs_per_pair: usize,
}

impl Sizes {
    /// The data set.
    pub fn full() -> Sizes {
        Sizes {
            base_accounts: 2_000,
            large_members: 10_000,
            small_members: 20,
            medium_members: 200,
            // Sized so that 17 s at the rates this machine reaches (and a few times more)
            // stays within the seeded (message, reader) pairs: every write is new.
            small_msgs: 1_500,
            medium_single_msgs: 900,
            medium_batch_msgs: 4_500,
            large_msgs: 40,
            large_readers: 3_000,
            huge_members: 100_000,
            huge_msgs: 40,
            huge_readers: 30_000,
            medium_multi_msgs: 900,
            small_multi_msgs: 1_000,
            c2c_senders: 100,
            c2c_msgs_per_pair: 100,
        }
    }

    /// A small data set for the smoke test.
    pub fn small() -> Sizes {
        Sizes {
            base_accounts: 200,
            large_members: 300,
            small_members: 20,
            medium_members: 200,
            small_msgs: 300,
            medium_single_msgs: 150,
            medium_batch_msgs: 600,
            large_msgs: 40,
            large_readers: 100,
            huge_members: 1_000,
            huge_msgs: 40,
            huge_readers: 300,
            medium_multi_msgs: 150,
            small_multi_msgs: 300,
            c2c_senders: 10,
            c2c_msgs_per_pair: 5,
        }
    }

    /// Accounts imported: enough for the largest group and the C2C pairs.
    pub fn accounts(&self) -> usize {
        self.large_members.max(self.base_accounts).max(self.huge_members)
    }

    /// C2C conversations.
    pub fn c2c_pairs(&self) -> usize {
        self.c2c_senders * RECEIVERS_PER_SENDER
    }
}

/// Everything the scenarios need to address the seeded rows.
#[derive(Debug, Clone)]
pub struct World {
    pub sizes: Sizes,
    /// `keys[sender][round]`: the MsgKey shared by that sender's round of messages.
    pub c2c_keys: Vec<Vec<String>>,
    /// The webhook group (S6).
    pub small_group: String,
    /// The group S1 writes to.
    pub medium_group: String,
    /// The 10,000-member group (S4, S5).
    pub large_group: String,
    /// The 100,000-member group (S4, S5 at ten times the size), when seeded.
    pub huge_group: Option<String>,
}

/// Group id stems; each run appends its own suffix, so a running server can be benchmarked
/// again without clashing with the groups of an earlier run.
pub const SMALL_GROUP: &str = "bench_g20";
pub const MEDIUM_GROUP: &str = "bench_g200";
pub const LARGE_GROUP: &str = "bench_g10k";
pub const HUGE_GROUP: &str = "bench_g100k";

/// The account with index `i` (`u00000` owns the groups and sends their messages).
pub fn account(i: usize) -> String {
    format!("u{i:05}")
}

/// The C2C sender of pair `p`.
pub fn c2c_sender(p: usize) -> String {
    account(p / RECEIVERS_PER_SENDER)
}

/// The C2C receiver of pair `p` (accounts after the senders).
pub fn c2c_receiver(sizes: &Sizes, p: usize) -> String {
    account(sizes.c2c_senders + p)
}

/// Timing of one seeding step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub what: String,
    pub requests: usize,
    pub seconds: f64,
}

/// Seeds everything; returns the layout and per-step timings. `db` is the server's database
/// when the harness owns it (the bulk path for the 100,000-member group's reads).
pub async fn seed(api: &Api, sizes: &Sizes, db: Option<&str>) -> Result<(World, Vec<Step>)> {
    let run = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let (small, medium, large) =
        (format!("{SMALL_GROUP}_{run}"), format!("{MEDIUM_GROUP}_{run}"), format!("{LARGE_GROUP}_{run}"));
    let huge = (sizes.huge_members > 0).then(|| format!("{HUGE_GROUP}_{run}"));
    let mut steps = Vec::new();
    let mut timed = |what: &str, requests: usize, t: Instant| {
        let s = Step { what: what.to_string(), requests, seconds: t.elapsed().as_secs_f64() };
        eprintln!("[seed] {} ({} requests) in {:.1} s", s.what, s.requests, s.seconds);
        steps.push(s);
    };

    let t = Instant::now();
    let ids: Vec<String> = (0..sizes.accounts()).map(account).collect();
    let chunks: Vec<Vec<String>> = ids.chunks(100).map(<[String]>::to_vec).collect();
    let n = chunks.len();
    run_all(chunks.into_iter().map(|c| {
        let api = api.clone();
        async move { api.call("im_open_login_svc/multiaccount_import", &json!({ "Accounts": c })).await }
    }))
    .await?;
    timed(&format!("{} accounts imported (multiaccount_import, 100 per call)", sizes.accounts()), n, t);

    let t = Instant::now();
    let mut groups = vec![
        (small.as_str(), sizes.small_members),
        (medium.as_str(), sizes.medium_members),
        (large.as_str(), sizes.large_members),
    ];
    if let Some(h) = &huge {
        // Receipts are refused in groups above MaxReceiptGroupMembers (10,000 by default).
        let cfg = api.call("receipt_svc/get_receipt_config", &json!({})).await.map_err(|e| anyhow!(e))?;
        if cfg["MaxReceiptGroupMembers"].as_u64().unwrap_or(0) < sizes.huge_members as u64 {
            let body = json!({"MaxReceiptGroupMembers": sizes.huge_members});
            api.call("receipt_svc/set_receipt_config", &body).await.map_err(|e| anyhow!(e))?;
        }
        groups.push((h.as_str(), sizes.huge_members));
    }
    let n = groups.len();
    let counts = stream::iter(groups.into_iter().map(|(g, members)| create_group(api, g, members)))
        .buffer_unordered(4)
        .try_collect::<Vec<usize>>()
        .await?;
    timed(
        &format!("{n} groups created and filled (create_group + add_group_member, 300 per call)"),
        counts.iter().sum(),
        t,
    );

    let t = Instant::now();
    let mut plan = vec![
        (small.as_str(), sizes.small_msgs + sizes.small_multi_msgs),
        (medium.as_str(), sizes.medium_single_msgs + sizes.medium_batch_msgs + sizes.medium_multi_msgs),
        (large.as_str(), sizes.large_msgs),
    ];
    if let Some(h) = &huge {
        plan.push((h.as_str(), sizes.huge_msgs));
    }
    let total: usize = plan.iter().map(|p| p.1).sum();
    // Sends to one group serialise on its sequence counter; a few in flight hide the HTTP
    // round trip, and the three groups proceed in parallel.
    run_all(plan.iter().flat_map(|&(g, n)| (0..n).map(move |i| (g, i))).map(|(g, i)| {
        let api = api.clone();
        async move {
            let body = json!({
                "GroupId": g, "From_Account": account(0), "Random": i, "NeedReadReceipt": 1,
                "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": format!("bench {i}")}}],
            });
            api.call("group_open_http_svc/send_group_msg", &body).await
        }
    }))
    .await?;
    timed(&format!("{total} group messages sent (send_group_msg, NeedReadReceipt=1)"), total, t);

    let t = Instant::now();
    let mut c2c_keys = vec![Vec::new(); sizes.c2c_senders];
    let sends: Vec<(usize, usize)> =
        (0..sizes.c2c_msgs_per_pair).flat_map(|r| (0..sizes.c2c_senders).map(move |s| (s, r))).collect();
    let n = sends.len();
    let results: Vec<(usize, usize, String)> = stream::iter(sends.into_iter().map(|(s, round)| {
        let api = api.clone();
        let to: Vec<String> =
            (0..RECEIVERS_PER_SENDER).map(|j| c2c_receiver(sizes, s * RECEIVERS_PER_SENDER + j)).collect();
        async move {
            let body = json!({
                "From_Account": account(s), "To_Account": to, "MsgRandom": round, "IsNeedReadReceipt": 1,
                "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": format!("bench {round}")}}],
            });
            let v = api.call("openim/batchsendmsg", &body).await?;
            if v["ErrorList"].as_array().is_some_and(|e| !e.is_empty()) {
                return Err(format!("batchsendmsg refused receivers: {}", v["ErrorList"]));
            }
            let key = v["MsgKey"].as_str().ok_or("batchsendmsg returned no MsgKey")?.to_string();
            Ok((s, round, key))
        }
    }))
    .buffer_unordered(SEED_CONCURRENCY * 2)
    .try_collect()
    .await
    .map_err(|e: String| anyhow!(e))?;
    for (s, round, key) in results {
        let keys = &mut c2c_keys[s];
        if keys.len() <= round {
            keys.resize(round + 1, String::new());
        }
        keys[round] = key;
    }
    timed(
        &format!(
            "{} C2C messages in {} pairs (batchsendmsg to {RECEIVERS_PER_SENDER} receivers, IsNeedReadReceipt=1)",
            sizes.c2c_pairs() * sizes.c2c_msgs_per_pair,
            sizes.c2c_pairs()
        ),
        n,
        t,
    );

    let t = Instant::now();
    run_all((1..=sizes.large_readers).map(|i| {
        let api = api.clone();
        let body = json!({"GroupId": large, "Member_Account": account(i), "MsgSeq": read_upto(sizes.large_msgs, i)});
        async move { api.call("receipt_svc/group_msg_read_report", &body).await }
    }))
    .await?;
    timed(
        &format!("{} members of {large} read a prefix of its messages (group_msg_read_report)", sizes.large_readers),
        sizes.large_readers,
        t,
    );
    if let Some(h) = &huge {
        let t = Instant::now();
        let (readers, msgs) = (sizes.huge_readers, sizes.huge_msgs);
        let (how, requests) = match db {
            Some(url) => {
                // Off the runtime's thread: its HTTP connections must notice the server closing
                // idle ones meanwhile, or the next call picks a dead one.
                let (url, group) = (url.to_string(), h.clone());
                let rows = tokio::task::spawn_blocking(move || bulk_reads(&url, &group, readers, msgs))
                    .await?
                    .context("bulk reads in the 100,000-member group")?;
                (format!("{rows} receipt rows in one SQL statement (bulk path)"), 0)
            }
            None => {
                run_all((1..=readers).map(|i| {
                    let api = api.clone();
                    let body = json!({"GroupId": h, "Member_Account": account(i), "MsgSeq": read_upto(msgs, i)});
                    async move { api.call("receipt_svc/group_msg_read_report", &body).await }
                }))
                .await?;
                ("group_msg_read_report".into(), readers)
            }
        };
        check_counts(api, h, sizes.huge_members, readers, msgs).await?;
        timed(
            &format!("{readers} members of {h} read a prefix of its messages ({how}; counts checked through the API)"),
            requests,
            t,
        );
    }
    let world = World {
        sizes: sizes.clone(),
        c2c_keys,
        small_group: small,
        medium_group: medium,
        large_group: large,
        huge_group: huge,
    };
    Ok((world, steps))
}

/// The MsgSeq reader `i` of a large group with `msgs` messages reads up to: spread evenly, so
/// message S has `readers * (msgs - S + 1) / msgs` readers (exactly, for a multiple of `msgs`).
pub fn read_upto(msgs: usize, i: usize) -> usize {
    1 + i % msgs
}

/// Readers of message `seq` when readers 1..=`readers` read up to [`read_upto`].
fn readers_of(readers: usize, msgs: usize, seq: usize) -> usize {
    (1..=readers).filter(|&i| read_upto(msgs, i) >= seq).count()
}

/// The bulk path: the reads [`read_upto`] describes, written straight into the server's tables
/// in one transaction (receipt rows read and delivered now, and the messages' counters), as
/// `group_msg_read_report` would leave them apart from the members' `read_seq` and the
/// senders' notifications, which S4 and S5 do not read. Through the API the 30,000 reports
/// take minutes: every reader's report locks the counters of message 1, so they serialise.
/// Returns the rows written.
fn bulk_reads(url: &str, group: &str, readers: usize, msgs: usize) -> Result<usize> {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};
    let mut conn = PgConnection::establish(url).context("connecting to the bench database")?;
    conn.transaction(|c| {
        // Account ids as `account` formats them: at least five digits.
        let rows = diesel::sql_query(
            "INSERT INTO group_receipts (group_id, msg_seq, reader, delivered_at, read_at)
             SELECT $1, s, 'u' || lpad(i::text, greatest(5, length(i::text)), '0'), now(), now()
               FROM generate_series(1, $2) AS i, generate_series(1, 1 + i % $3) AS s",
        )
        .bind::<Text, _>(group)
        .bind::<BigInt, _>(readers as i64)
        .bind::<BigInt, _>(msgs as i64)
        .execute(c)?;
        diesel::sql_query(
            "UPDATE group_messages m SET read_count = n.n, delivered_count = n.n
               FROM (SELECT msg_seq, count(*)::int AS n FROM group_receipts WHERE group_id = $1 GROUP BY msg_seq) n
              WHERE m.group_id = $1 AND m.msg_seq = n.msg_seq",
        )
        .bind::<Text, _>(group)
        .execute(c)?;
        c.batch_execute("ANALYZE group_receipts")?;
        Ok(rows)
    })
}

/// Checks through the API that every message of `group` counts the readers the seed gave it.
async fn check_counts(api: &Api, group: &str, members: usize, readers: usize, msgs: usize) -> Result<()> {
    for first in (1..=msgs).step_by(crate::scenarios::S4_SEQS) {
        let seqs: Vec<usize> = (first..=msgs.min(first + crate::scenarios::S4_SEQS - 1)).collect();
        let list: Vec<Value> = seqs.iter().map(|s| json!({"MsgSeq": s})).collect();
        let v = api
            .call("group_open_http_svc/get_group_msg_receipt", &json!({"GroupId": group, "MsgSeqList": list}))
            .await
            .map_err(|e| anyhow!(e))?;
        for (seq, item) in seqs.iter().zip(v["GroupMsgReceiptList"].as_array().into_iter().flatten()) {
            let read = readers_of(readers, msgs, *seq) as u64;
            let unread = (members - 1) as u64 - read;
            if item["ReadNum"].as_u64() != Some(read) || item["UnreadNum"].as_u64() != Some(unread) {
                bail!("{group} MsgSeq {seq}: expected ReadNum {read} and UnreadNum {unread} after seeding, the API says {item}");
            }
        }
    }
    Ok(())
}

/// Creates `group` owned by account 0 with members 1..n, adding the rest 300 at a time.
async fn create_group(api: &Api, group: &str, members: usize) -> Result<usize> {
    let first: Vec<Value> = (1..members.min(100)).map(|i| json!({"Member_Account": account(i)})).collect();
    let body = json!({
        "Type": "Public", "Name": group, "GroupId": group, "Owner_Account": account(0), "MemberList": first,
    });
    api.call("group_open_http_svc/create_group", &body).await.map_err(|e| anyhow!(e))?;
    let mut calls = 1;
    let mut next = members.min(100);
    while next < members {
        let end = (next + 300).min(members);
        let list: Vec<Value> = (next..end).map(|i| json!({"Member_Account": account(i)})).collect();
        let v = api
            .call("group_open_http_svc/add_group_member", &json!({"GroupId": group, "MemberList": list}))
            .await
            .map_err(|e| anyhow!(e))?;
        if let Some(bad) = v["MemberList"].as_array().and_then(|l| l.iter().find(|m| m["Result"] != 1)) {
            return Err(anyhow!("add_group_member did not add {bad}"));
        }
        calls += 1;
        next = end;
    }
    Ok(calls)
}

/// Runs the calls with [`SEED_CONCURRENCY`] in flight; the first failure aborts the seed.
async fn run_all<I, F>(calls: I) -> Result<()>
where
    I: IntoIterator<Item = F>,
    F: std::future::Future<Output = Result<Value, String>>,
{
    stream::iter(calls)
        .buffer_unordered(SEED_CONCURRENCY)
        .try_for_each(|_| async { Ok(()) })
        .await
        .map_err(|e| anyhow!("seeding failed: {e}"))
}
