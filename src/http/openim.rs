//! `openim`: C2C messages, history and C2C receipts.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use super::auth::Caller;
use crate::domain::c2c::{self, Ack, MsgRef};
use crate::domain::messages::{self, C2cSend};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Accepts an integer or a numeric string (clients send both for some fields).
pub fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Str(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Int(i)) => Ok(Some(i)),
        Some(Raw::Str(s)) if s.trim().is_empty() => Ok(None),
        Some(Raw::Str(s)) => {
            s.trim().parse().map(Some).map_err(|_| serde::de::Error::custom(format!("{s:?} is not an integer")))
        }
    }
}

fn flag(v: Option<i64>, field: &str) -> ApiResult<bool> {
    match v.unwrap_or(0) {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(ApiError::invalid(format!("{field} must be 0 or 1, got {other}"))),
    }
}

fn u32_field(v: i64, field: &str) -> ApiResult<i64> {
    if (0..=u32::MAX as i64).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::invalid(format!("{field} must be a 32-bit unsigned integer, got {v}")))
    }
}

#[derive(Deserialize)]
pub struct SendMsgRequest {
    #[serde(rename = "From_Account")]
    from_account: Option<String>,
    #[serde(rename = "To_Account")]
    to_account: Value,
    #[serde(rename = "MsgSeq")]
    msg_seq: Option<i64>,
    #[serde(rename = "MsgRandom")]
    msg_random: i64,
    #[serde(rename = "MsgBody")]
    msg_body: Value,
    #[serde(rename = "CloudCustomData", default)]
    cloud_custom_data: String,
    #[serde(rename = "SendMsgControl", default)]
    send_msg_control: Vec<String>,
    #[serde(rename = "IsNeedReadReceipt")]
    is_need_read_receipt: Option<i64>,
}

struct Prepared {
    from: String,
    to: Vec<String>,
    seq: i64,
    random: i64,
    body: Value,
    custom: String,
    need_receipt: bool,
    counts_unread: bool,
}

fn prepare(caller: &Caller, req: SendMsgRequest, batch: bool) -> ApiResult<Prepared> {
    let to: Vec<String> = match (&req.to_account, batch) {
        (Value::String(s), false) => vec![s.clone()],
        (Value::Array(items), true) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| ApiError::invalid("To_Account must be an array of UserIDs"))?,
        (_, false) => return Err(ApiError::invalid("To_Account must be a UserID string")),
        (_, true) => return Err(ApiError::invalid("To_Account must be an array of UserIDs")),
    };
    if to.is_empty() || to.len() > 500 {
        return Err(ApiError::invalid(format!("To_Account must name 1 to 500 accounts, got {}", to.len())));
    }
    Ok(Prepared {
        from: req.from_account.unwrap_or_else(|| caller.identifier.clone()),
        to,
        seq: u32_field(req.msg_seq.unwrap_or_else(|| rand::random::<u32>().into()), "MsgSeq")?,
        random: u32_field(req.msg_random, "MsgRandom")?,
        body: req.msg_body,
        custom: req.cloud_custom_data,
        need_receipt: flag(req.is_need_read_receipt, "IsNeedReadReceipt")?,
        counts_unread: !req.send_msg_control.iter().any(|c| c == "NoUnread"),
    })
}

async fn send(state: &AppState, p: Prepared) -> ApiResult<messages::C2cSent> {
    state
        .tx(move |c| {
            messages::send_c2c(
                c,
                &C2cSend {
                    from: &p.from,
                    to: &p.to,
                    msg_seq: p.seq,
                    msg_random: p.random,
                    body: &p.body,
                    cloud_custom_data: &p.custom,
                    need_receipt: p.need_receipt,
                    counts_unread: p.counts_unread,
                },
            )
        })
        .await
}

#[derive(Serialize)]
pub struct SendMsgResponse {
    #[serde(rename = "MsgTime")]
    msg_time: i64,
    #[serde(rename = "MsgKey")]
    msg_key: String,
}

pub async fn sendmsg(state: AppState, caller: Caller, req: SendMsgRequest) -> ApiResult<SendMsgResponse> {
    let sent = send(&state, prepare(&caller, req, false)?).await?;
    if let Some((to, _)) = sent.failed.first() {
        return Err(ApiError::Service(90003, format!("To_Account {to:?} is not imported")));
    }
    Ok(SendMsgResponse { msg_time: sent.msg_time, msg_key: sent.msg_key })
}

pub async fn batchsendmsg(state: AppState, caller: Caller, req: SendMsgRequest) -> ApiResult<Value> {
    let sent = send(&state, prepare(&caller, req, true)?).await?;
    let errors: Vec<Value> =
        sent.failed.iter().map(|(to, code)| json!({"To_Account": to, "ErrorCode": code})).collect();
    Ok(json!({"MsgKey": sent.msg_key, "MsgTime": sent.msg_time, "ErrorList": errors}))
}

#[derive(Deserialize)]
pub struct RoamRequest {
    #[serde(rename = "Operator_Account")]
    operator_account: String,
    #[serde(rename = "Peer_Account")]
    peer_account: String,
    #[serde(rename = "MaxCnt")]
    max_cnt: i64,
    #[serde(rename = "MinTime")]
    min_time: i64,
    #[serde(rename = "MaxTime")]
    max_time: i64,
    #[serde(rename = "LastMsgKey")]
    last_msg_key: Option<String>,
}

pub async fn admin_getroammsg(state: AppState, _: Caller, req: RoamRequest) -> ApiResult<Value> {
    if !(1..=1000).contains(&req.max_cnt) {
        return Err(ApiError::invalid(format!("MaxCnt must be between 1 and 1000, got {}", req.max_cnt)));
    }
    if req.min_time > req.max_time {
        return Err(ApiError::invalid("MinTime must not be greater than MaxTime"));
    }
    let page = state
        .db(move |c| {
            messages::roam(
                c,
                &req.operator_account,
                &req.peer_account,
                req.max_cnt,
                req.min_time,
                req.max_time,
                req.last_msg_key.as_deref(),
            )
        })
        .await?;
    let last = page.messages.last();
    let list: Vec<Value> = page
        .messages
        .iter()
        .map(|m| {
            json!({
                "From_Account": m.from_account, "To_Account": m.to_account, "MsgSeq": m.msg_seq,
                "MsgRandom": m.msg_random, "MsgTimeStamp": m.msg_time, "MsgFlagBits": 0,
                "IsPeerRead": i32::from(m.peer_read_at.is_some()),
                "ReadTime": m.peer_read_at.map(|t| t.timestamp()).unwrap_or(0),
                "IsDelivered": i32::from(m.delivered_at.is_some()),
                "NeedReadReceipt": i32::from(m.need_receipt),
                "MsgKey": m.msg_key, "MsgBody": m.msg_body, "CloudCustomData": m.cloud_custom_data,
            })
        })
        .collect();
    Ok(json!({
        "Complete": i32::from(page.complete),
        "MsgCnt": list.len(),
        "LastMsgTime": last.map(|m| m.msg_time).unwrap_or(0),
        "LastMsgKey": last.map(|m| m.msg_key.clone()).unwrap_or_default(),
        "MsgList": list,
    }))
}

#[derive(Deserialize)]
pub struct SetMsgReadRequest {
    #[serde(rename = "Report_Account")]
    report_account: String,
    #[serde(rename = "Peer_Account")]
    peer_account: String,
    #[serde(rename = "MsgReadTime", default, deserialize_with = "int_or_string")]
    msg_read_time: Option<i64>,
}

pub async fn admin_set_msg_read(state: AppState, caller: Caller, req: SetMsgReadRequest) -> ApiResult<Value> {
    caller.may_act_as(&req.report_account, "Report_Account")?;
    let t = state.tx(move |c| c2c::set_read(c, &req.report_account, &req.peer_account, req.msg_read_time)).await?;
    Ok(json!({ "MsgReadTime": t }))
}

#[derive(Deserialize, Clone)]
pub struct MsgInfo {
    #[serde(rename = "From_Account")]
    from_account: String,
    #[serde(rename = "To_Account")]
    to_account: String,
    #[serde(rename = "MsgKey")]
    msg_key: String,
}

impl From<MsgInfo> for MsgRef {
    fn from(m: MsgInfo) -> MsgRef {
        MsgRef { from: m.from_account, to: m.to_account, key: m.msg_key }
    }
}

#[derive(Deserialize)]
pub struct C2cReceiptRequest {
    #[serde(rename = "Operator_Account")]
    operator_account: String,
    #[serde(rename = "Peer_Account")]
    peer_account: String,
    #[serde(rename = "C2CMsgInfo")]
    c2c_msg_info: Vec<MsgInfo>,
}

impl C2cReceiptRequest {
    /// Builds a request from its parts (used by `receipt_svc/msg_delivered`).
    pub fn new(operator_account: String, peer_account: String, c2c_msg_info: Vec<MsgInfo>) -> Self {
        C2cReceiptRequest { operator_account, peer_account, c2c_msg_info }
    }
}

/// Shared by `c2c_msg_read_receipt` and `receipt_svc/msg_delivered`.
pub async fn c2c_ack(state: &AppState, caller: &Caller, req: C2cReceiptRequest, ack: Ack) -> ApiResult<Vec<String>> {
    caller.may_act_as(&req.operator_account, "Operator_Account")?;
    let items: Vec<MsgRef> = req.c2c_msg_info.into_iter().map(Into::into).collect();
    state.tx(move |c| c2c::acknowledge(c, &req.operator_account, &req.peer_account, &items, ack)).await
}

pub async fn c2c_msg_read_receipt(state: AppState, caller: Caller, req: C2cReceiptRequest) -> ApiResult<Value> {
    let changed = c2c_ack(&state, &caller, req, Ack::Read).await?;
    Ok(json!({ "NewlyReadNum": changed.len() }))
}

#[derive(Deserialize)]
pub struct UnreadRequest {
    #[serde(rename = "To_Account")]
    to_account: String,
    #[serde(rename = "Peer_Account", default)]
    peer_account: Vec<String>,
}

pub async fn get_c2c_unread_msg_num(state: AppState, caller: Caller, req: UnreadRequest) -> ApiResult<Value> {
    caller.may_act_as(&req.to_account, "To_Account")?;
    let counts = state.db(move |c| c2c::unread_counts(c, &req.to_account, &req.peer_account)).await?;
    let mut out = json!({ "AllC2CUnreadMsgNum": counts.total });
    if !counts.per_peer.is_empty() {
        out["C2CUnreadMsgNumList"] =
            counts.per_peer.iter().map(|(p, n)| json!({"Peer_Account": p, "C2CUnreadMsgNum": n})).collect();
    }
    if !counts.errors.is_empty() {
        out["ErrorList"] =
            counts.errors.iter().map(|(p, code)| json!({"Peer_Account": p, "ErrorCode": code})).collect();
    }
    Ok(out)
}
