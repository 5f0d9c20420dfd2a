//! `openim`: C2C messages, history, recall, import and C2C receipts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::Caller;
use super::wire::{self, flag, int_flag, int_or_string, u32_field, AccountError, Empty, KeyError, MsgInfo};
use crate::domain::c2c::{self, Ack};
use crate::domain::c2c_acks;
use crate::domain::import::{self, C2cImport};
use crate::domain::messages::{self, C2cSend, StoredBody};
use crate::domain::read_deadlines;
use crate::domain::recall;
use crate::error::{ApiError, ApiResult, Service};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct SendMsgRequest {
    #[serde(rename = "From_Account")]
    from_account: Option<String>,
    #[serde(rename = "To_Account")]
    to_account: Value,
    #[serde(rename = "MsgSeq", default, deserialize_with = "int_or_string")]
    msg_seq: Option<i64>,
    #[serde(rename = "MsgRandom", deserialize_with = "int_or_string")]
    msg_random: Option<i64>,
    #[serde(rename = "MsgBody")]
    msg_body: Value,
    #[serde(rename = "CloudCustomData", default)]
    cloud_custom_data: String,
    #[serde(rename = "SendMsgControl", default)]
    send_msg_control: Option<Vec<String>>,
    #[serde(rename = "IsNeedReadReceipt", default, deserialize_with = "int_or_string")]
    is_need_read_receipt: Option<i64>,
    #[serde(rename = "ReadDeadlineSeconds", default, deserialize_with = "int_or_string")]
    read_deadline_seconds: Option<i64>,
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
    read_deadline: Option<i32>,
    origin: crate::webhooks::outbox::Origin,
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
    wire::check_len(&to, 1, 500, "To_Account")?;
    let random = req.msg_random.ok_or_else(|| ApiError::invalid("MsgRandom (a uint32) is required"))?;
    wire::check_len(req.send_msg_control.as_deref().unwrap_or_default(), 0, 8, "SendMsgControl")?;
    let need_receipt = flag(req.is_need_read_receipt, "IsNeedReadReceipt")?;
    let read_deadline = read_deadlines::requested(req.read_deadline_seconds, need_receipt, "IsNeedReadReceipt")?;
    Ok(Prepared {
        from: req.from_account.unwrap_or_else(|| caller.identifier.clone()),
        to,
        seq: u32_field(req.msg_seq.unwrap_or_else(|| rand::random::<u32>().into()), "MsgSeq")?,
        random: u32_field(random, "MsgRandom")?,
        body: req.msg_body,
        custom: req.cloud_custom_data,
        need_receipt,
        counts_unread: !req.send_msg_control.unwrap_or_default().iter().any(|c| c == "NoUnread"),
        read_deadline,
        origin: caller.origin.clone(),
    })
}

async fn send(state: &AppState, p: Prepared) -> ApiResult<messages::C2cSent> {
    let window = state.c2c_dedup_secs;
    state
        .tx(move |c| {
            let sent = messages::send_c2c(
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
                    dedup_window: window,
                },
            )?;
            if let Some(secs) = p.read_deadline {
                read_deadlines::schedule_c2c(c, &p.origin, &p.from, &p.to, &sent.msg_key, secs)?;
            }
            Ok(sent)
        })
        .await
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMsgResponse {
    msg_time: i64,
    msg_key: String,
    msg_id: String,
}

pub async fn sendmsg(state: AppState, caller: Caller, req: SendMsgRequest) -> ApiResult<SendMsgResponse> {
    let sent = send(&state, prepare(&caller, req, false)?).await?;
    if let Some((_, e)) = sent.failed.into_iter().next() {
        return Err(e);
    }
    Ok(SendMsgResponse { msg_time: sent.msg_time, msg_id: c2c::msg_id(&sent.msg_key), msg_key: sent.msg_key })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchSendMsgResponse {
    msg_key: String,
    msg_id: String,
    msg_time: i64,
    error_list: Vec<AccountError>,
}

pub async fn batchsendmsg(state: AppState, caller: Caller, req: SendMsgRequest) -> ApiResult<BatchSendMsgResponse> {
    let sent = send(&state, prepare(&caller, req, true)?).await?;
    let error_list = sent
        .failed
        .iter()
        .map(|(to, e)| AccountError { to_account: to.clone(), error_code: e.code(Service::OpenIm) })
        .collect();
    Ok(BatchSendMsgResponse {
        msg_id: c2c::msg_id(&sent.msg_key),
        msg_key: sent.msg_key,
        msg_time: sent.msg_time,
        error_list,
    })
}

/// Accepts today's `Operator_Account`/`Peer_Account` and the older `From_Account`/`To_Account`
/// (still sent by the Go and Python SDKs and by Java before v0.4.0).
#[derive(Deserialize)]
pub struct RoamRequest {
    #[serde(rename = "Operator_Account", alias = "From_Account")]
    operator_account: String,
    #[serde(rename = "Peer_Account", alias = "To_Account")]
    peer_account: String,
    #[serde(rename = "MaxCnt", deserialize_with = "int_or_string")]
    max_cnt: Option<i64>,
    #[serde(rename = "MinTime", deserialize_with = "int_or_string")]
    min_time: Option<i64>,
    #[serde(rename = "MaxTime", deserialize_with = "int_or_string")]
    max_time: Option<i64>,
    #[serde(rename = "LastMsgKey")]
    last_msg_key: Option<String>,
}

/// Tencent's `MsgFlagBits` of a recalled message.
const MSG_FLAG_RECALLED: i32 = 8;

#[derive(Serialize)]
pub struct RoamItem {
    #[serde(rename = "From_Account")]
    from_account: String,
    #[serde(rename = "To_Account")]
    to_account: String,
    #[serde(rename = "MsgSeq")]
    msg_seq: i64,
    #[serde(rename = "MsgRandom")]
    msg_random: i64,
    #[serde(rename = "MsgTimeStamp")]
    msg_time_stamp: i64,
    #[serde(rename = "MsgFlagBits")]
    msg_flag_bits: i32,
    #[serde(rename = "IsPeerRead")]
    is_peer_read: i32,
    #[serde(rename = "ReadTime")]
    read_time: i64,
    #[serde(rename = "IsDelivered")]
    is_delivered: i32,
    #[serde(rename = "NeedReadReceipt")]
    need_read_receipt: i32,
    #[serde(rename = "MsgKey")]
    msg_key: String,
    #[serde(rename = "MsgBody")]
    msg_body: StoredBody,
    #[serde(rename = "CloudCustomData")]
    cloud_custom_data: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoamResponse {
    complete: i32,
    msg_cnt: usize,
    last_msg_time: i64,
    last_msg_key: String,
    msg_list: Vec<RoamItem>,
}

/// Largest `admin_getroammsg` answer, in bytes of message bodies and fields, before the page
/// is cut: one call never builds more than about a MiB, however large `MaxCnt`.
const MAX_ROAM_BYTES: usize = 1024 * 1024;
/// Bytes of the fields of one roaming item besides its body and custom data.
const ROAM_ITEM_OVERHEAD: usize = 300;

pub async fn admin_getroammsg(state: AppState, _: Caller, req: RoamRequest) -> ApiResult<RoamResponse> {
    let max_cnt = req.max_cnt.ok_or_else(|| ApiError::invalid("MaxCnt is required"))?;
    let (min_time, max_time) = match (req.min_time, req.max_time) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(ApiError::invalid("MinTime and MaxTime (unix seconds) are required")),
    };
    if !(1..=1000).contains(&max_cnt) {
        return Err(ApiError::invalid(format!("MaxCnt must be between 1 and 1000, got {max_cnt}")));
    }
    if min_time > max_time {
        return Err(ApiError::invalid("MinTime must not be greater than MaxTime"));
    }
    let page = state
        .db(move |c| {
            messages::roam(
                c,
                &req.operator_account,
                &req.peer_account,
                max_cnt,
                min_time,
                max_time,
                req.last_msg_key.as_deref(),
            )
        })
        .await?;
    // As Tencent does, a page is cut (Complete 0) before its answer grows past a size budget;
    // the page is oldest first and continues before its oldest message, so the oldest go.
    let mut page = page;
    let mut size = 0;
    let keep_from = page
        .messages
        .iter()
        .rposition(|m| {
            size += m.msg.msg_body.len() + m.msg.cloud_custom_data.len() + ROAM_ITEM_OVERHEAD;
            size > MAX_ROAM_BYTES
        })
        .map_or(0, |i| (i + 1).min(page.messages.len() - 1));
    if keep_from > 0 {
        page.messages.drain(..keep_from);
        page.complete = false;
    }
    // The next page continues before this page's first (oldest) message.
    let oldest = page.messages.first().map(|m| (m.msg.msg_time, m.msg.msg_key.clone()));
    let msg_list: Vec<RoamItem> = page
        .messages
        .into_iter()
        .map(|r| {
            let m = r.msg;
            let recalled = m.recalled_at.is_some();
            RoamItem {
                from_account: m.from_account,
                to_account: m.to_account,
                msg_seq: m.msg_seq,
                msg_random: m.msg_random,
                msg_time_stamp: m.msg_time,
                msg_flag_bits: if recalled { MSG_FLAG_RECALLED } else { 0 },
                is_peer_read: int_flag(r.peer_read_time.is_some()),
                read_time: r.peer_read_time.unwrap_or(0),
                is_delivered: int_flag(m.delivered_at.is_some() || r.peer_read_time.is_some()),
                need_read_receipt: int_flag(m.need_receipt),
                msg_key: m.msg_key,
                msg_body: if recalled { StoredBody::empty() } else { m.msg_body },
                cloud_custom_data: if recalled { String::new() } else { m.cloud_custom_data },
            }
        })
        .collect();
    let (last_msg_time, last_msg_key) = oldest.unwrap_or_default();
    Ok(RoamResponse {
        complete: int_flag(page.complete),
        msg_cnt: msg_list.len(),
        last_msg_time,
        last_msg_key,
        msg_list,
    })
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

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetMsgReadResponse {
    msg_read_time: i64,
}

pub async fn admin_set_msg_read(
    state: AppState,
    caller: Caller,
    req: SetMsgReadRequest,
) -> ApiResult<SetMsgReadResponse> {
    caller.may_act_as(&req.report_account, "Report_Account")?;
    let origin = caller.origin;
    let own = !caller.is_admin;
    let t = state
        .tx(move |c| c2c::set_read(c, &origin, &req.report_account, &req.peer_account, req.msg_read_time, own))
        .await?;
    Ok(SetMsgReadResponse { msg_read_time: t })
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

/// Shared by `c2c_msg_read_receipt` and `receipt_svc/msg_delivered`: the changed keys and the
/// refused items.
pub async fn c2c_ack(
    state: &AppState,
    caller: &Caller,
    req: C2cReceiptRequest,
    ack: Ack,
    service: Service,
) -> ApiResult<(usize, Vec<KeyError>)> {
    caller.may_act_as(&req.operator_account, "Operator_Account")?;
    let call = c2c_acks::Call {
        reader: req.operator_account,
        sender: req.peer_account,
        items: req.c2c_msg_info.into_iter().map(Into::into).collect(),
        origin: caller.origin.clone(),
    };
    c2c_acks::check_call(&call)?;
    let out = state.writers.c2c(ack).submit(state, call).await?;
    Ok((out.changed.len(), out.errors.into_iter().map(|(k, e)| KeyError::new(k, &e, service)).collect()))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct C2cReceiptResponse {
    newly_read_num: usize,
    error_list: Vec<KeyError>,
}

pub async fn c2c_msg_read_receipt(
    state: AppState,
    caller: Caller,
    req: C2cReceiptRequest,
) -> ApiResult<C2cReceiptResponse> {
    let (n, error_list) = c2c_ack(&state, &caller, req, Ack::Read, Service::OpenIm).await?;
    Ok(C2cReceiptResponse { newly_read_num: n, error_list })
}

#[derive(Deserialize)]
pub struct UnreadRequest {
    #[serde(rename = "To_Account")]
    to_account: String,
    #[serde(rename = "Peer_Account", default)]
    peer_account: Option<Vec<String>>,
}

#[derive(Serialize)]
pub struct PeerUnread {
    #[serde(rename = "Peer_Account")]
    peer_account: String,
    #[serde(rename = "C2CUnreadMsgNum")]
    c2c_unread_msg_num: i64,
}

#[derive(Serialize)]
pub struct PeerError {
    #[serde(rename = "Peer_Account")]
    peer_account: String,
    #[serde(rename = "ErrorCode")]
    error_code: u32,
}

#[derive(Serialize)]
pub struct UnreadResponse {
    #[serde(rename = "AllC2CUnreadMsgNum")]
    all_c2c_unread_msg_num: i64,
    #[serde(rename = "C2CUnreadMsgNumList", skip_serializing_if = "Vec::is_empty")]
    c2c_unread_msg_num_list: Vec<PeerUnread>,
    #[serde(rename = "ErrorList", skip_serializing_if = "Vec::is_empty")]
    error_list: Vec<PeerError>,
}

pub async fn get_c2c_unread_msg_num(state: AppState, caller: Caller, req: UnreadRequest) -> ApiResult<UnreadResponse> {
    caller.may_act_as(&req.to_account, "To_Account")?;
    let peers = req.peer_account.unwrap_or_default();
    let counts = state.db(move |c| c2c::unread_counts(c, &req.to_account, &peers)).await?;
    Ok(UnreadResponse {
        all_c2c_unread_msg_num: counts.total,
        c2c_unread_msg_num_list: counts
            .per_peer
            .into_iter()
            .map(|(p, n)| PeerUnread { peer_account: p, c2c_unread_msg_num: n })
            .collect(),
        error_list: counts
            .errors
            .into_iter()
            .map(|(p, e)| PeerError { peer_account: p, error_code: e.code(Service::OpenIm) })
            .collect(),
    })
}

#[derive(Deserialize)]
pub struct WithdrawRequest {
    #[serde(rename = "From_Account")]
    from_account: String,
    #[serde(rename = "To_Account")]
    to_account: String,
    #[serde(rename = "MsgKey")]
    msg_key: String,
}

pub async fn admin_msgwithdraw(state: AppState, caller: Caller, req: WithdrawRequest) -> ApiResult<Empty> {
    let origin = caller.origin;
    state.tx(move |c| recall::withdraw_c2c(c, &origin, &req.from_account, &req.to_account, &req.msg_key)).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
pub struct ImportMsgRequest {
    #[serde(rename = "SyncFromOldSystem", deserialize_with = "int_or_string")]
    sync_from_old_system: Option<i64>,
    #[serde(rename = "From_Account")]
    from_account: String,
    #[serde(rename = "To_Account")]
    to_account: String,
    #[serde(rename = "MsgSeq", default, deserialize_with = "int_or_string")]
    msg_seq: Option<i64>,
    #[serde(rename = "MsgRandom", deserialize_with = "int_or_string")]
    msg_random: Option<i64>,
    #[serde(rename = "MsgTimeStamp", deserialize_with = "int_or_string")]
    msg_time_stamp: Option<i64>,
    #[serde(rename = "MsgBody")]
    msg_body: Value,
    #[serde(rename = "CloudCustomData", default)]
    cloud_custom_data: String,
    #[serde(rename = "IsNeedReadReceipt", default, deserialize_with = "int_or_string")]
    is_need_read_receipt: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportMsgResponse {
    msg_key: String,
}

pub async fn importmsg(state: AppState, _: Caller, req: ImportMsgRequest) -> ApiResult<ImportMsgResponse> {
    let sync = req.sync_from_old_system.ok_or_else(|| {
        ApiError::invalid("SyncFromOldSystem (2 = history, 5 = real-time; 1 = legacy real-time) is required")
    })?;
    let random = u32_field(req.msg_random.ok_or_else(|| ApiError::invalid("MsgRandom is required"))?, "MsgRandom")?;
    let time = req.msg_time_stamp.ok_or_else(|| ApiError::invalid("MsgTimeStamp (unix seconds) is required"))?;
    let seq = u32_field(req.msg_seq.unwrap_or(0), "MsgSeq")?;
    let need_receipt = flag(req.is_need_read_receipt, "IsNeedReadReceipt")?;
    let msg_key = state
        .tx(move |c| {
            import::import_c2c(
                c,
                &C2cImport {
                    sync_from_old_system: sync,
                    from: &req.from_account,
                    to: &req.to_account,
                    msg_seq: seq,
                    msg_random: random,
                    msg_time: time,
                    body: &req.msg_body,
                    cloud_custom_data: &req.cloud_custom_data,
                    need_receipt,
                },
            )
        })
        .await?;
    Ok(ImportMsgResponse { msg_key })
}
