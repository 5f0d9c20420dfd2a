//! S9: `receipt_svc/get_read_stats` on the 10,000-member group: one message read by every
//! member (about 10,000 receipts) and a range over all the group's messages (cut by the
//! server's caps, so it shows the bounded cost of a range).

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::load::{closed_loop, Measured, Outcome, Plan};
use crate::scenarios::ReadGroup;
use crate::target::Api;

/// The message S9 reads the stats of.
pub const SEQ: u64 = 1;

/// Makes message [`SEQ`] of `group` read by every member, with read times spread over the hour
/// after its send time (so the percentiles and the histogram have something to sort), in one
/// transaction of the bench database; then checks the count through the API. Returns ReadNum.
pub async fn prepare(api: &Api, db: Option<&str>, group: &ReadGroup) -> Result<u64> {
    if let Some(url) = db {
        let (url, gid, members) = (url.to_string(), group.id.clone(), group.members);
        tokio::task::spawn_blocking(move || bulk_read_all(&url, &gid, members)).await??;
    }
    let body = json!({"GroupId": group.id, "MsgSeqList": [{"MsgSeq": SEQ}]});
    let v = api.call("group_open_http_svc/get_group_msg_receipt", &body).await.map_err(anyhow::Error::msg)?;
    v["GroupMsgReceiptList"][0]["ReadNum"].as_u64().context("get_group_msg_receipt answered no ReadNum")
}

/// Receipts of every member (`u00001`..) for [`SEQ`], read 0-3600 s after the send time.
fn bulk_read_all(url: &str, group: &str, members: usize) -> Result<()> {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};
    let mut conn = PgConnection::establish(url).context("connecting to the bench database")?;
    conn.transaction(|c| {
        diesel::sql_query(
            "INSERT INTO group_receipts (group_id, msg_seq, reader, delivered_at, read_at)
             SELECT $1, $2, 'u' || lpad(i::text, greatest(5, length(i::text)), '0'), now(), now()
               FROM generate_series(1, $3 - 1) AS i
             ON CONFLICT (group_id, msg_seq, reader) DO UPDATE SET read_at = coalesce(group_receipts.read_at, now())",
        )
        .bind::<Text, _>(group)
        .bind::<BigInt, _>(SEQ as i64)
        .bind::<BigInt, _>(members as i64)
        .execute(c)?;
        // Deterministic spread: reader i reads (i * 7919 mod 3600) s and (i mod 1000) ms late.
        diesel::sql_query(
            "UPDATE group_receipts r
                SET read_at = to_timestamp(m.msg_time + (substr(r.reader, 2)::int8 * 7919 % 3600)
                                           + (substr(r.reader, 2)::int8 % 1000) / 1000.0)
               FROM group_messages m
              WHERE m.group_id = r.group_id AND m.msg_seq = r.msg_seq AND r.group_id = $1 AND r.msg_seq = $2",
        )
        .bind::<Text, _>(group)
        .bind::<BigInt, _>(SEQ as i64)
        .execute(c)?;
        diesel::sql_query(
            "UPDATE group_messages m SET read_count = n.n, delivered_count = n.n
               FROM (SELECT count(*)::int AS n FROM group_receipts WHERE group_id = $1 AND msg_seq = $2) n
              WHERE m.group_id = $1 AND m.msg_seq = $2",
        )
        .bind::<Text, _>(group)
        .bind::<BigInt, _>(SEQ as i64)
        .execute(c)?;
        c.batch_execute("ANALYZE group_receipts")?;
        Ok(())
    })
}

/// Checks a stats answer and reports the reads it covered as the op's items.
fn outcome(v: &Value) -> Result<Outcome, String> {
    let read = v["ReadNum"].as_u64().ok_or_else(|| format!("get_read_stats answered no ReadNum: {v}"))?;
    if read > 0 && v["TimeToReadP99Ms"].as_i64().is_none() {
        return Err(format!("reads without percentiles: {v}"));
    }
    if v["Histogram"].as_array().map_or(0, Vec::len) > 100 {
        return Err("more than 100 histogram buckets".into());
    }
    Ok(Outcome { items: read, new_items: read, sub: Vec::new() })
}

/// S9: the stats of message [`SEQ`] of `group`, back to back.
pub async fn s9_message(api: &Api, group: &ReadGroup, plan: &Plan) -> Measured {
    let (api, body) = (api.clone(), json!({"GroupId": group.id, "MsgSeq": SEQ}));
    closed_loop(plan, move |_| {
        let (api, body) = (api.clone(), body.clone());
        async move { outcome(&api.call("receipt_svc/get_read_stats", &body).await?) }
    })
    .await
}

/// S9 range: the stats of every message of `group` (sent in the last day), back to back.
pub async fn s9_range(api: &Api, group: &ReadGroup, plan: &Plan) -> Measured {
    let now = chrono::Utc::now().timestamp();
    let body = json!({"GroupId": group.id, "StartTime": now - 86_400, "EndTime": now + 86_400});
    let api = api.clone();
    closed_loop(plan, move |_| {
        let (api, body) = (api.clone(), body.clone());
        async move { outcome(&api.call("receipt_svc/get_read_stats", &body).await?) }
    })
    .await
}
