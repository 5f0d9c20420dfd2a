//! `group_open_http_svc`: group messages, history, recall, import and group receipts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::Caller;
use super::wire::{self, flag, int_flag, int_or_string, u32_field, SeqError, SeqItem};
use crate::domain::config;
use crate::domain::group_receipts::{self, ListFilter};
use crate::domain::import::{self, GroupMsgImport};
use crate::domain::messages::{self, GroupSend, StoredBody};
use crate::domain::read_deadlines;
use crate::domain::recall;
use crate::error::{ApiError, ApiResult, Service};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct SendGroupMsgRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Random", deserialize_with = "int_or_string")]
    random: Option<i64>,
    #[serde(rename = "MsgBody")]
    msg_body: Value,
    #[serde(rename = "From_Account")]
    from_account: Option<String>,
    #[serde(rename = "CloudCustomData", default)]
    cloud_custom_data: String,
    #[serde(rename = "NeedReadReceipt", default, deserialize_with = "int_or_string")]
    need_read_receipt: Option<i64>,
    #[serde(rename = "MsgPriority")]
    msg_priority: Option<Value>,
    #[serde(rename = "ReadThresholdPercent", default, deserialize_with = "int_or_string")]
    read_threshold_percent: Option<i64>,
    #[serde(rename = "ReadDeadlineSeconds", default, deserialize_with = "int_or_string")]
    read_deadline_seconds: Option<i64>,
}

/// `MsgPriority` of a send: a name (what SDKs send) or its number; absent = Normal.
fn priority(v: Option<&Value>) -> ApiResult<i16> {
    let found = match v {
        None | Some(Value::Null) => return Ok(2),
        Some(Value::String(name)) => messages::PRIORITIES.iter().find(|(n, _)| n == name).map(|(_, p)| *p),
        Some(Value::Number(n)) => n.as_i64().filter(|p| (1..=4).contains(p)).map(|p| p as i16),
        _ => None,
    };
    found.ok_or_else(|| ApiError::invalid("MsgPriority must be High, Normal, Low or Lowest (or 1 to 4)"))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendGroupMsgResponse {
    msg_seq: i64,
    msg_time: i64,
}

pub async fn send_group_msg(
    state: AppState,
    caller: Caller,
    req: SendGroupMsgRequest,
) -> ApiResult<SendGroupMsgResponse> {
    let need_receipt = flag(req.need_read_receipt, "NeedReadReceipt")?;
    let deadline = read_deadlines::requested(req.read_deadline_seconds, need_receipt, "NeedReadReceipt")?;
    let origin = caller.origin.clone();
    let priority = priority(req.msg_priority.as_ref())?;
    let random = u32_field(req.random.ok_or_else(|| ApiError::invalid("Random (a uint32) is required"))?, "Random")?;
    let admin = caller.identifier.clone();
    let window = state.group_dedup_secs;
    let sent = state
        .tx(move |c| {
            let cfg = config::load(c)?;
            let sent = messages::send_group(
                c,
                &cfg,
                &GroupSend {
                    group_id: &req.group_id,
                    from: req.from_account.as_deref(),
                    sender_name: req.from_account.as_deref().unwrap_or(&admin),
                    msg_random: random,
                    body: &req.msg_body,
                    cloud_custom_data: &req.cloud_custom_data,
                    need_receipt,
                    priority,
                    dedup_window: window,
                    read_threshold: req.read_threshold_percent,
                },
            )?;
            // A retried send is the same message: its deadline (if any) is already stored.
            if need_receipt && !sent.duplicate {
                read_deadlines::schedule_group(c, &cfg, &origin, &req.group_id, sent.msg_seq, deadline)?;
            }
            Ok(sent)
        })
        .await?;
    Ok(SendGroupMsgResponse { msg_seq: sent.msg_seq, msg_time: sent.msg_time })
}

#[derive(Deserialize)]
pub struct HistoryRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "ReqMsgNumber", deserialize_with = "int_or_string")]
    req_msg_number: Option<i64>,
    #[serde(rename = "ReqMsgSeq", default, deserialize_with = "int_or_string")]
    req_msg_seq: Option<i64>,
    #[serde(rename = "WithRecalledMsg", default, deserialize_with = "int_or_string")]
    with_recalled_msg: Option<i64>,
}

/// `IsPlaceMsg` of a recalled message (1 is a deleted or expired one).
const PLACE_MSG_RECALLED: i32 = 2;

#[derive(Serialize)]
pub struct HistoryItem {
    #[serde(rename = "From_Account")]
    from_account: String,
    #[serde(rename = "IsPlaceMsg")]
    is_place_msg: i32,
    #[serde(rename = "IsSystemMsg")]
    is_system_msg: i32,
    #[serde(rename = "MsgBody")]
    msg_body: StoredBody,
    #[serde(rename = "MsgPriority")]
    msg_priority: i16,
    #[serde(rename = "MsgRandom")]
    msg_random: i64,
    #[serde(rename = "MsgSeq")]
    msg_seq: i64,
    #[serde(rename = "MsgTimeStamp")]
    msg_time_stamp: i64,
    #[serde(rename = "CloudCustomData")]
    cloud_custom_data: String,
    #[serde(rename = "MsgKey")]
    msg_key: String,
    #[serde(rename = "NeedReadReceipt")]
    need_read_receipt: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryResponse {
    group_id: String,
    is_finished: i32,
    rsp_msg_list: Vec<HistoryItem>,
}

pub async fn group_msg_get_simple(state: AppState, _: Caller, req: HistoryRequest) -> ApiResult<HistoryResponse> {
    let n = req.req_msg_number.ok_or_else(|| ApiError::invalid("ReqMsgNumber (1 to 20) is required"))?;
    if !(1..=20).contains(&n) {
        return Err(ApiError::invalid(format!("ReqMsgNumber must be 1 to 20, got {n}")));
    }
    // Go SDKs always send ReqMsgSeq, 0 meaning "from the newest".
    let max_seq = req.req_msg_seq.filter(|s| *s > 0);
    let with_recalled = flag(req.with_recalled_msg, "WithRecalledMsg")?;
    let gid = req.group_id.clone();
    let (rows, finished) = state.db(move |c| messages::group_history(c, &gid, n, max_seq, with_recalled)).await?;
    let rsp_msg_list = rows
        .into_iter()
        .map(|m| {
            let recalled = m.recalled_at.is_some();
            HistoryItem {
                msg_key: format!("{}_{}_{}", m.msg_seq, m.msg_random, m.msg_time),
                from_account: m.from_account,
                is_place_msg: if recalled { PLACE_MSG_RECALLED } else { 0 },
                is_system_msg: 0,
                msg_body: if recalled { StoredBody::empty() } else { m.msg_body },
                msg_priority: m.msg_priority,
                msg_random: m.msg_random,
                msg_seq: m.msg_seq,
                msg_time_stamp: m.msg_time,
                cloud_custom_data: if recalled { String::new() } else { m.cloud_custom_data },
                need_read_receipt: int_flag(m.need_receipt),
            }
        })
        .collect();
    Ok(HistoryResponse { group_id: req.group_id, is_finished: int_flag(finished), rsp_msg_list })
}

#[derive(Deserialize)]
pub struct GroupReceiptRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "From_Account")]
    from_account: Option<String>,
    #[serde(rename = "MsgSeqList")]
    msg_seq_list: Vec<SeqItem>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupReceiptResponse {
    newly_read_num: usize,
    error_list: Vec<SeqError>,
}

/// Item by item: good seqs are recorded, bad ones listed in `ErrorList`; when no item is good
/// the call fails with the first item's code.
pub async fn group_msg_receipt(
    state: AppState,
    caller: Caller,
    req: GroupReceiptRequest,
) -> ApiResult<GroupReceiptResponse> {
    let reader = caller.acting(req.from_account.as_deref(), "From_Account")?;
    let items: Vec<(i64, Option<String>)> = req.msg_seq_list.into_iter().map(|i| (i.msg_seq, i.ack_content)).collect();
    let origin = caller.origin;
    let call = group_receipts::receipt_call(&origin, &req.group_id, &reader, &items)?;
    let out = state.writers.group_read.submit(&state, call).await?;
    Ok(GroupReceiptResponse {
        newly_read_num: out.changed.len(),
        error_list: out.errors.iter().map(|(s, e)| SeqError::new(*s, e, Service::Group)).collect(),
    })
}

/// Non-admins may read receipt data only of groups they belong to: they are the viewer.
fn viewer(caller: &Caller) -> Option<String> {
    (!caller.is_admin).then(|| caller.identifier.clone())
}

#[derive(Deserialize)]
pub struct GetReceiptRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "MsgSeqList")]
    msg_seq_list: Vec<SeqItem>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptCount {
    msg_seq: i64,
    read_num: i64,
    unread_num: i64,
    delivered_num: i64,
    code: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetReceiptResponse {
    group_msg_receipt_list: Vec<ReceiptCount>,
}

pub async fn get_group_msg_receipt(
    state: AppState,
    caller: Caller,
    req: GetReceiptRequest,
) -> ApiResult<GetReceiptResponse> {
    let seqs: Vec<i64> = req.msg_seq_list.iter().map(|i| i.msg_seq).collect();
    let counts =
        state.db(move |c| group_receipts::query_counts(c, &req.group_id, viewer(&caller).as_deref(), &seqs)).await?;
    let not_found = ApiError::ReceiptNotFound(String::new()).code(Service::Group);
    Ok(GetReceiptResponse {
        group_msg_receipt_list: counts
            .into_iter()
            .map(|k| ReceiptCount {
                msg_seq: k.msg_seq,
                read_num: k.read,
                unread_num: k.unread,
                delivered_num: k.delivered,
                code: if k.found { 0 } else { not_found },
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub struct DetailRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "MsgSeq", deserialize_with = "int_or_string")]
    msg_seq: Option<i64>,
    #[serde(rename = "Filter", default, deserialize_with = "int_or_string")]
    filter: Option<i64>,
    #[serde(rename = "Flag", default, deserialize_with = "int_or_string")]
    flag: Option<i64>,
    #[serde(rename = "Cursor", default)]
    cursor: Option<String>,
    #[serde(rename = "Count", default, deserialize_with = "int_or_string")]
    count: Option<i64>,
    #[serde(rename = "Num", default, deserialize_with = "int_or_string")]
    num: Option<i64>,
}

#[derive(Serialize)]
pub struct ReadItem {
    #[serde(rename = "Read_Account")]
    read_account: String,
    #[serde(rename = "ReadTime")]
    read_time: i64,
    #[serde(rename = "AckContent")]
    ack_content: String,
    /// 1 for a private read (only the App admin and the reader see those); absent otherwise.
    #[serde(rename = "Private", skip_serializing_if = "Option::is_none")]
    private: Option<i32>,
}

#[derive(Serialize)]
pub struct UnreadItem {
    #[serde(rename = "Unread_Account")]
    unread_account: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DetailResponse {
    group_id: String,
    msg_seq: i64,
    cursor: String,
    is_finish: i32,
    is_finished: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_list: Option<Vec<ReadItem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unread_list: Option<Vec<UnreadItem>>,
}

pub async fn get_group_msg_receipt_detail(
    state: AppState,
    caller: Caller,
    req: DetailRequest,
) -> ApiResult<DetailResponse> {
    let filter = match req.filter.or(req.flag) {
        Some(0) => ListFilter::Read,
        Some(1) => ListFilter::Unread,
        Some(other) => {
            return Err(ApiError::invalid(format!("Filter must be 0 (read list) or 1 (unread list), got {other}")))
        }
        None => return Err(ApiError::invalid("Filter (or legacy Flag) is required: 0 = read list, 1 = unread list")),
    };
    let seq = req.msg_seq.ok_or_else(|| ApiError::invalid("MsgSeq is required"))?;
    let count = req.count.or(req.num).unwrap_or(100);
    if count < 1 {
        return Err(ApiError::invalid(format!("Count must be at least 1, got {count}")));
    }
    let gid = req.group_id.clone();
    let cursor = req.cursor.unwrap_or_default();
    let page = state
        .db(move |c| group_receipts::list(c, &gid, viewer(&caller).as_deref(), seq, filter, &cursor, count))
        .await?;
    let finished = int_flag(page.finished);
    let (read_list, unread_list) = match filter {
        ListFilter::Read => (
            Some(
                page.read
                    .into_iter()
                    .map(|r| ReadItem {
                        read_account: r.account,
                        read_time: r.read_time,
                        ack_content: r.ack_content.unwrap_or_default(),
                        private: r.private.then_some(1),
                    })
                    .collect(),
            ),
            None,
        ),
        ListFilter::Unread => (None, Some(page.unread.into_iter().map(|u| UnreadItem { unread_account: u }).collect())),
    };
    Ok(DetailResponse {
        group_id: req.group_id,
        msg_seq: seq,
        cursor: page.cursor,
        is_finish: finished,
        is_finished: finished,
        read_list,
        unread_list,
    })
}

#[derive(Deserialize)]
pub struct SeqOnly {
    #[serde(rename = "MsgSeq", deserialize_with = "int_or_string")]
    msg_seq: Option<i64>,
}

#[derive(Deserialize)]
pub struct RecallRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "MsgSeqList")]
    msg_seq_list: Vec<SeqOnly>,
    #[serde(rename = "Reason")]
    reason: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecallResult {
    msg_seq: i64,
    ret_code: u32,
}

/// Tencent documents `RecallRetList`; the Go SDK reads `Results`: both carry the same list.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecallResponse {
    recall_ret_list: Vec<RecallResult>,
    results: Vec<RecallResult>,
}

pub async fn group_msg_recall(state: AppState, caller: Caller, req: RecallRequest) -> ApiResult<RecallResponse> {
    let seqs = req
        .msg_seq_list
        .iter()
        .map(|i| {
            i.msg_seq
                .filter(|s| *s > 0)
                .ok_or_else(|| ApiError::invalid("every MsgSeqList item needs a positive MsgSeq"))
        })
        .collect::<ApiResult<Vec<i64>>>()?;
    wire::check_len(&seqs, 1, recall::MAX_GROUP_RECALL, "MsgSeqList")?;
    if req.reason.as_ref().is_some_and(|r| r.len() > 100) {
        return Err(ApiError::invalid("Reason must be at most 100 bytes"));
    }
    let (origin, operator) = (caller.origin, caller.identifier);
    let results = state.tx(move |c| recall::recall_group(c, &origin, &operator, &req.group_id, &seqs)).await?;
    let list = || {
        results
            .iter()
            .map(|(seq, e)| RecallResult { msg_seq: *seq, ret_code: e.as_ref().map_or(0, |e| e.code(Service::Group)) })
            .collect()
    };
    Ok(RecallResponse { recall_ret_list: list(), results: list() })
}

#[derive(Deserialize)]
pub struct ImportMsgItem {
    #[serde(rename = "From_Account")]
    from_account: String,
    #[serde(rename = "SendTime", deserialize_with = "int_or_string")]
    send_time: Option<i64>,
    #[serde(rename = "Random", default, deserialize_with = "int_or_string")]
    random: Option<i64>,
    #[serde(rename = "MsgBody")]
    msg_body: Value,
    #[serde(rename = "MsgSeq", default, deserialize_with = "int_or_string")]
    msg_seq: Option<i64>,
    #[serde(rename = "NeedReadReceipt", default, deserialize_with = "int_or_string")]
    need_read_receipt: Option<i64>,
}

#[derive(Deserialize)]
pub struct ImportGroupMsgRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "MsgList")]
    msg_list: Vec<ImportMsgItem>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportResult {
    msg_seq: i64,
    msg_time: i64,
    result: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportGroupMsgResponse {
    import_msg_result: Vec<ImportResult>,
}

pub async fn import_group_msg(
    state: AppState,
    _: Caller,
    req: ImportGroupMsgRequest,
) -> ApiResult<ImportGroupMsgResponse> {
    let msgs = req
        .msg_list
        .into_iter()
        .map(|m| {
            Ok(GroupMsgImport {
                send_time: m
                    .send_time
                    .ok_or_else(|| ApiError::invalid("every MsgList item needs SendTime (unix seconds)"))?,
                random: u32_field(m.random.unwrap_or_else(|| rand::random::<u32>().into()), "Random")?,
                from: m.from_account,
                body: m.msg_body,
                msg_seq: m.msg_seq.map(|s| u32_field(s, "MsgSeq")).transpose()?,
                need_receipt: flag(m.need_read_receipt, "NeedReadReceipt")?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let window = state.group_dedup_secs;
    let results = state
        .tx(move |c| {
            let cfg = config::load(c)?;
            import::import_group_msgs(c, &cfg, &req.group_id, &msgs, window)
        })
        .await?;
    Ok(ImportGroupMsgResponse {
        import_msg_result: results
            .into_iter()
            .map(|(msg_seq, msg_time, e)| ImportResult {
                msg_seq,
                msg_time,
                result: e.map_or(0, |e| e.code(Service::Group)),
            })
            .collect(),
    })
}
