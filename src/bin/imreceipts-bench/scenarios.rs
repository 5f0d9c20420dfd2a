//! S1-S5: receipt writes and reads driven through the API. Each maps the call index to rows
//! so that concurrent calls touch different messages and (until the seeded space runs out)
//! every write is a new receipt.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use crate::load::{closed_loop, Measured, Outcome, Plan};
use crate::seed::{self, account, c2c_receiver, c2c_sender, World};
use crate::target::Api;

/// Messages per call in S1b (Tencent clients report up to 30 at a time).
pub const BATCH: usize = 30;
/// Messages per S4 query.
pub const S4_SEQS: usize = 30;
/// Page size of the S5 walk (Tencent's default `Count`).
pub const S5_PAGE: usize = 100;

fn newly_read(v: &Value) -> u64 {
    v["NewlyReadNum"].as_u64().unwrap_or(0)
}

/// S1a: one message per `group_msg_receipt` call in the 200-member group.
pub async fn s1_single(api: &Api, world: &World, plan: &Plan) -> Measured {
    let msgs = Span { first: 1, count: world.sizes.medium_single_msgs as u64 };
    single_receipts(vec![api.clone()], world, msgs, plan).await
}

/// Consecutive messages of a group: MsgSeq `first..first + count`.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub first: u64,
    pub count: u64,
}

/// One message per `group_msg_receipt` call in the 200-member group, on messages `msgs`;
/// call i goes to server `apis[i % apis.len()]` (S1a with one, S8a with two).
pub async fn single_receipts(apis: Vec<Api>, world: &World, span: Span, plan: &Plan) -> Measured {
    let (sizes, group) = (world.sizes.clone(), world.medium_group.clone());
    let msgs = span.count;
    let readers = sizes.medium_members as u64 - 1;
    closed_loop(plan, move |i| {
        let api = apis[i as usize % apis.len()].clone();
        // Consecutive calls go to consecutive messages, so concurrent calls lock different
        // counter rows; each (message, reader) comes up once per `msgs * readers` calls.
        let k = i % (msgs * readers);
        let seq = span.first + k % msgs;
        let reader = account(1 + (k / msgs) as usize);
        let group = group.clone();
        async move {
            let body = json!({"GroupId": group, "From_Account": reader, "MsgSeqList": [{"MsgSeq": seq}]});
            let v = api.call("group_open_http_svc/group_msg_receipt", &body).await?;
            Ok(Outcome { items: 1, new_items: newly_read(&v), sub: Vec::new() })
        }
    })
    .await
}

/// S1b: 30 messages per `group_msg_receipt` call in the 200-member group.
pub async fn s1_batch(api: &Api, world: &World, plan: &Plan) -> Measured {
    let (api, sizes, group) = (api.clone(), world.sizes.clone(), world.medium_group.clone());
    let chunks = (sizes.medium_batch_msgs / BATCH) as u64;
    let first = sizes.medium_single_msgs as u64 + 1;
    let readers = sizes.medium_members as u64 - 1;
    closed_loop(plan, move |i| {
        let api = api.clone();
        let k = i % (chunks * readers);
        let start = first + (k % chunks) * BATCH as u64;
        let reader = account(1 + (k / chunks) as usize);
        let group = group.clone();
        async move {
            let list: Vec<Value> = (start..start + BATCH as u64).map(|s| json!({"MsgSeq": s})).collect();
            let body = json!({"GroupId": group, "From_Account": reader, "MsgSeqList": list});
            let v = api.call("group_open_http_svc/group_msg_receipt", &body).await?;
            Ok(Outcome { items: BATCH as u64, new_items: newly_read(&v), sub: Vec::new() })
        }
    })
    .await
}

/// S2: one message per `c2c_msg_read_receipt` call, cycling over the pairs.
pub async fn s2_c2c(api: &Api, world: &World, plan: &Plan) -> Measured {
    let api = api.clone();
    let world = Arc::new(world.clone());
    let pairs = world.sizes.c2c_pairs() as u64;
    let rounds = world.sizes.c2c_msgs_per_pair as u64;
    closed_loop(plan, move |i| {
        let (api, world) = (api.clone(), world.clone());
        async move {
            let k = i % (pairs * rounds);
            let p = (k % pairs) as usize;
            let round = (k / pairs) as usize;
            let (from, to) = (c2c_sender(p), c2c_receiver(&world.sizes, p));
            let key = &world.c2c_keys[p / seed::RECEIVERS_PER_SENDER][round];
            let body = json!({
                "Operator_Account": to, "Peer_Account": from,
                "C2CMsgInfo": [{"From_Account": from, "To_Account": to, "MsgKey": key}],
            });
            let v = api.call("openim/c2c_msg_read_receipt", &body).await?;
            Ok(Outcome { items: 1, new_items: newly_read(&v), sub: Vec::new() })
        }
    })
    .await
}

/// S3: `admin_set_msg_read` (conversation read up to now), cycling over the pairs.
pub async fn s3_set_read(api: &Api, world: &World, plan: &Plan) -> Measured {
    let (api, sizes) = (api.clone(), world.sizes.clone());
    let pairs = sizes.c2c_pairs() as u64;
    closed_loop(plan, move |i| {
        let api = api.clone();
        let p = (i % pairs) as usize;
        let body = json!({"Report_Account": c2c_receiver(&sizes, p), "Peer_Account": c2c_sender(p)});
        async move {
            api.call("openim/admin_set_msg_read", &body).await?;
            // An upsert of the conversation's read time: always a write, never a no-op.
            Ok(Outcome { items: 1, new_items: 1, sub: Vec::new() })
        }
    })
    .await
}

/// A group S4 and S5 read: its id, members and messages (all from its owner, read as
/// [`seed::read_upto`] says).
#[derive(Debug, Clone)]
pub struct ReadGroup {
    pub id: String,
    pub members: usize,
    pub msgs: usize,
}

/// S4: counts of 30 messages of `group` per `get_group_msg_receipt` call.
pub async fn s4_counts(api: &Api, group: &ReadGroup, plan: &Plan) -> Measured {
    let (api, windows) = (api.clone(), (group.msgs.saturating_sub(S4_SEQS) + 1) as u64);
    let group = group.id.clone();
    closed_loop(plan, move |i| {
        let (api, group) = (api.clone(), group.clone());
        let start = 1 + i % windows;
        async move {
            let list: Vec<Value> = (start..start + S4_SEQS as u64).map(|s| json!({"MsgSeq": s})).collect();
            let v = api
                .call("group_open_http_svc/get_group_msg_receipt", &json!({"GroupId": group, "MsgSeqList": list}))
                .await?;
            let items = v["GroupMsgReceiptList"].as_array().map_or(0, Vec::len) as u64;
            if items != S4_SEQS as u64 {
                return Err(format!("get_group_msg_receipt answered {items} items for {S4_SEQS} seqs"));
            }
            Ok(Outcome { items, new_items: items, sub: Vec::new() })
        }
    })
    .await
}

/// S5: full walks of the read and then the unread list of one message of `group`, 100 per
/// page; checks that the two lists add up to the message's eligible readers.
pub async fn s5_walk(api: &Api, group: &ReadGroup, plan: &Plan) -> Measured {
    let api = api.clone();
    // Messages in the middle of the group: about half its seeded readers read them.
    let msgs = group.msgs as u64;
    let (lo, hi) = (msgs / 4 + 1, 3 * msgs / 4);
    let eligible = group.members as u64 - 1;
    let group = group.id.clone();
    closed_loop(plan, move |i| {
        let (api, group) = (api.clone(), group.clone());
        let seq = lo + i % (hi - lo + 1);
        async move {
            let mut pages = Vec::new();
            let mut listed = 0u64;
            for filter in [0, 1] {
                let mut cursor = String::new();
                loop {
                    let body = json!({
                        "GroupId": group, "MsgSeq": seq, "Filter": filter, "Cursor": cursor, "Count": S5_PAGE,
                    });
                    let t = Instant::now();
                    let v = api.call("group_open_http_svc/get_group_msg_receipt_detail", &body).await?;
                    pages.push(t.elapsed());
                    let list = if filter == 0 { &v["ReadList"] } else { &v["UnreadList"] };
                    listed += list.as_array().map_or(0, Vec::len) as u64;
                    if v["IsFinished"] == 1 {
                        break;
                    }
                    cursor = v["Cursor"].as_str().unwrap_or_default().to_string();
                    if cursor.is_empty() {
                        return Err("an unfinished page came without a Cursor".into());
                    }
                }
            }
            if listed != eligible {
                return Err(format!("MsgSeq {seq}: read + unread lists hold {listed} members, expected {eligible}"));
            }
            Ok(Outcome { items: listed, new_items: listed, sub: pages })
        }
    })
    .await
}
