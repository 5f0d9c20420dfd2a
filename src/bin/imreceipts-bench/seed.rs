//! Seeding through the public API, with bounded concurrency: accounts, three groups, C2C
//! pairs, receipt-requesting messages, and reads in the large group so its lists are mixed.

use std::time::Instant;

use anyhow::{anyhow, Result};
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
            c2c_senders: 10,
            c2c_msgs_per_pair: 5,
        }
    }

    /// Accounts imported: enough for the largest group and the C2C pairs.
    pub fn accounts(&self) -> usize {
        self.large_members.max(self.base_accounts)
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
}

/// Group id stems; each run appends its own suffix, so a running server can be benchmarked
/// again without clashing with the groups of an earlier run.
pub const SMALL_GROUP: &str = "bench_g20";
pub const MEDIUM_GROUP: &str = "bench_g200";
pub const LARGE_GROUP: &str = "bench_g10k";

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

/// Seeds everything; returns the layout and per-step timings.
pub async fn seed(api: &Api, sizes: &Sizes) -> Result<(World, Vec<Step>)> {
    let run = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let (small, medium, large) =
        (format!("{SMALL_GROUP}_{run}"), format!("{MEDIUM_GROUP}_{run}"), format!("{LARGE_GROUP}_{run}"));
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
    let groups = [
        (small.as_str(), sizes.small_members),
        (medium.as_str(), sizes.medium_members),
        (large.as_str(), sizes.large_members),
    ];
    let counts = stream::iter(groups.map(|(g, members)| create_group(api, g, members)))
        .buffer_unordered(3)
        .try_collect::<Vec<usize>>()
        .await?;
    timed("3 groups created and filled (create_group + add_group_member, 300 per call)", counts.iter().sum(), t);

    let t = Instant::now();
    let plan = [
        (small.as_str(), sizes.small_msgs),
        (medium.as_str(), sizes.medium_single_msgs + sizes.medium_batch_msgs),
        (large.as_str(), sizes.large_msgs),
    ];
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
        let body = json!({"GroupId": large, "Member_Account": account(i), "MsgSeq": read_upto(sizes, i)});
        async move { api.call("receipt_svc/group_msg_read_report", &body).await }
    }))
    .await?;
    timed(
        &format!("{} members of {large} read a prefix of its messages (group_msg_read_report)", sizes.large_readers),
        sizes.large_readers,
        t,
    );
    let world = World { sizes: sizes.clone(), c2c_keys, small_group: small, medium_group: medium, large_group: large };
    Ok((world, steps))
}

/// The MsgSeq reader `i` of the large group reads up to: spread evenly, so message S has
/// about `large_readers * (large_msgs - S + 1) / large_msgs` readers.
pub fn read_upto(sizes: &Sizes, i: usize) -> usize {
    1 + i % sizes.large_msgs
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
