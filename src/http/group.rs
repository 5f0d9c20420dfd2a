//! `group_open_http_svc`: groups, members, group messages and group receipts.

use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::openim::int_or_string;
use crate::domain::config;
use crate::domain::group_receipts::{self, ListFilter};
use crate::domain::groups::{self, NewGroup};
use crate::domain::messages::{self, GroupSend};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct MemberItem {
    #[serde(rename = "Member_Account")]
    member_account: String,
    #[serde(rename = "Role")]
    role: Option<String>,
}

#[derive(Deserialize)]
pub struct CreateGroupRequest {
    #[serde(rename = "Type")]
    group_type: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Owner_Account")]
    owner_account: Option<String>,
    #[serde(rename = "GroupId")]
    group_id: Option<String>,
    #[serde(rename = "Introduction")]
    introduction: Option<String>,
    #[serde(rename = "Notification")]
    notification: Option<String>,
    #[serde(rename = "FaceUrl")]
    face_url: Option<String>,
    #[serde(rename = "MaxMemberCount")]
    max_member_count: Option<i32>,
    #[serde(rename = "ApplyJoinOption")]
    apply_join_option: Option<String>,
    #[serde(rename = "MemberList", default)]
    member_list: Vec<MemberItem>,
}

pub async fn create_group(state: AppState, _: Caller, req: CreateGroupRequest) -> ApiResult<Value> {
    let (id, gtype) = state
        .tx(move |c| {
            groups::create(
                c,
                NewGroup {
                    group_id: req.group_id.clone(),
                    group_type: req.group_type.clone(),
                    name: req.name.clone(),
                    owner: req.owner_account.clone(),
                    introduction: req.introduction.clone(),
                    notification: req.notification.clone(),
                    face_url: req.face_url.clone(),
                    max_member_count: req.max_member_count,
                    apply_join_option: req.apply_join_option.clone(),
                    members: req.member_list.iter().map(|m| (m.member_account.clone(), m.role.clone())).collect(),
                },
            )
        })
        .await?;
    Ok(json!({ "GroupId": id, "Type": gtype }))
}

#[derive(Deserialize)]
pub struct GroupIdList {
    #[serde(rename = "GroupIdList")]
    group_id_list: Vec<String>,
}

pub async fn get_group_info(state: AppState, _: Caller, req: GroupIdList) -> ApiResult<Value> {
    if req.group_id_list.is_empty() || req.group_id_list.len() > 50 {
        return Err(ApiError::invalid(format!("GroupIdList must have 1 to 50 ids, got {}", req.group_id_list.len())));
    }
    let infos = state
        .db(move |c| {
            req.group_id_list
                .iter()
                .map(|id| match groups::get(c, id) {
                    Ok(g) => Ok(json!({
                        "GroupId": g.group_id, "ErrorCode": 0, "ErrorInfo": "", "Type": g.group_type,
                        "Name": g.name, "Owner_Account": g.owner_account.unwrap_or_default(),
                        "Introduction": g.introduction, "Notification": g.notification, "FaceUrl": g.face_url,
                        "CreateTime": g.created_at.timestamp(), "MemberNum": g.member_count,
                        "MaxMemberNum": g.max_member_count, "ApplyJoinOption": g.apply_join_option,
                        "NextMsgSeq": g.last_seq + 1,
                    })),
                    Err(e @ ApiError::GroupNotFound(_)) => {
                        Ok(json!({"GroupId": id, "ErrorCode": 10010, "ErrorInfo": e.to_string()}))
                    }
                    Err(e) => Err(e),
                })
                .collect::<ApiResult<Vec<Value>>>()
        })
        .await?;
    Ok(json!({ "GroupInfo": infos }))
}

#[derive(Deserialize)]
pub struct GroupIdRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
}

pub async fn destroy_group(state: AppState, _: Caller, req: GroupIdRequest) -> ApiResult<Value> {
    state.tx(move |c| groups::destroy(c, &req.group_id)).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
pub struct AddMemberRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "MemberList")]
    member_list: Vec<MemberItem>,
}

pub async fn add_group_member(state: AppState, _: Caller, req: AddMemberRequest) -> ApiResult<Value> {
    let users: Vec<String> = req.member_list.into_iter().map(|m| m.member_account).collect();
    let results = state.tx(move |c| groups::add_members(c, &req.group_id, &users)).await?;
    let list: Vec<Value> = results.into_iter().map(|(u, r)| json!({"Member_Account": u, "Result": r})).collect();
    Ok(json!({ "MemberList": list }))
}

#[derive(Deserialize)]
pub struct DeleteMemberRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "MemberToDel_Account")]
    member_to_del_account: Vec<String>,
}

pub async fn delete_group_member(state: AppState, _: Caller, req: DeleteMemberRequest) -> ApiResult<Value> {
    let n = req.member_to_del_account.len();
    if n == 0 || n > 100 {
        return Err(ApiError::invalid(format!("MemberToDel_Account must have 1 to 100 accounts, got {n}")));
    }
    state
        .tx(move |c| {
            let g = groups::get(c, &req.group_id)?;
            if let Some(owner) = g.owner_account.filter(|o| req.member_to_del_account.contains(o)) {
                return Err(ApiError::forbidden(format!(
                    "{owner:?} is the owner of {:?} and cannot be removed",
                    req.group_id
                )));
            }
            groups::remove_members(c, &req.group_id, &req.member_to_del_account)
        })
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
pub struct ModifyMemberRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Member_Account")]
    member_account: String,
    #[serde(rename = "Role")]
    role: Option<String>,
}

pub async fn modify_group_member_info(state: AppState, _: Caller, req: ModifyMemberRequest) -> ApiResult<Value> {
    if let Some(role) = req.role {
        state.tx(move |c| groups::set_role(c, &req.group_id, &req.member_account, &role)).await?;
    } else {
        state
            .db(move |c| {
                groups::get(c, &req.group_id)?;
                groups::require_member(c, &req.group_id, &req.member_account).map(|_| ())
            })
            .await?;
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
pub struct MemberInfoRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Limit")]
    limit: Option<i64>,
    #[serde(rename = "Offset")]
    offset: Option<i64>,
}

pub async fn get_group_member_info(state: AppState, _: Caller, req: MemberInfoRequest) -> ApiResult<Value> {
    let limit = req.limit.unwrap_or(100);
    let offset = req.offset.unwrap_or(0);
    if !(1..=10_000).contains(&limit) || offset < 0 {
        return Err(ApiError::invalid("Limit must be 1 to 10000 and Offset must not be negative"));
    }
    let (total, members) = state.db(move |c| groups::members(c, &req.group_id, limit, offset)).await?;
    let list: Vec<Value> = members
        .into_iter()
        .map(|m| json!({"Member_Account": m.user_id, "Role": m.role, "JoinTime": m.joined_at.timestamp(), "MsgSeq": m.read_seq, "ShutUpUntil": 0}))
        .collect();
    Ok(json!({ "MemberNum": total, "MemberList": list }))
}

#[derive(Deserialize)]
pub struct SendGroupMsgRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Random")]
    random: i64,
    #[serde(rename = "MsgBody")]
    msg_body: Value,
    #[serde(rename = "From_Account")]
    from_account: Option<String>,
    #[serde(rename = "CloudCustomData", default)]
    cloud_custom_data: String,
    #[serde(rename = "NeedReadReceipt")]
    need_read_receipt: Option<i64>,
}

pub async fn send_group_msg(state: AppState, caller: Caller, req: SendGroupMsgRequest) -> ApiResult<Value> {
    let need_receipt = match req.need_read_receipt.unwrap_or(0) {
        0 => false,
        1 => true,
        other => return Err(ApiError::invalid(format!("NeedReadReceipt must be 0 or 1, got {other}"))),
    };
    if !(0..=u32::MAX as i64).contains(&req.random) {
        return Err(ApiError::invalid("Random must be a 32-bit unsigned integer"));
    }
    let admin = caller.identifier.clone();
    let (seq, time) = state
        .tx(move |c| {
            let cfg = config::load(c)?;
            messages::send_group(
                c,
                &cfg,
                &GroupSend {
                    group_id: &req.group_id,
                    from: req.from_account.as_deref(),
                    sender_name: req.from_account.as_deref().unwrap_or(&admin),
                    msg_random: req.random,
                    body: &req.msg_body,
                    cloud_custom_data: &req.cloud_custom_data,
                    need_receipt,
                },
            )
        })
        .await?;
    Ok(json!({ "MsgSeq": seq, "MsgTime": time }))
}

#[derive(Deserialize)]
pub struct HistoryRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "ReqMsgNumber")]
    req_msg_number: i64,
    #[serde(rename = "ReqMsgSeq")]
    req_msg_seq: Option<i64>,
}

pub async fn group_msg_get_simple(state: AppState, _: Caller, req: HistoryRequest) -> ApiResult<Value> {
    if !(1..=20).contains(&req.req_msg_number) {
        return Err(ApiError::invalid(format!("ReqMsgNumber must be 1 to 20, got {}", req.req_msg_number)));
    }
    let gid = req.group_id.clone();
    let (rows, finished) =
        state.db(move |c| messages::group_history(c, &gid, req.req_msg_number, req.req_msg_seq)).await?;
    let list: Vec<Value> = rows
        .into_iter()
        .map(|m| {
            json!({
                "From_Account": m.from_account, "IsPlaceMsg": 0, "IsSystemMsg": 0, "MsgBody": m.msg_body,
                "MsgPriority": "Normal", "MsgRandom": m.msg_random, "MsgSeq": m.msg_seq,
                "MsgTimeStamp": m.msg_time, "CloudCustomData": m.cloud_custom_data,
                "MsgKey": format!("{}_{}_{}", m.msg_seq, m.msg_random, m.msg_time),
                "NeedReadReceipt": i32::from(m.need_receipt),
            })
        })
        .collect();
    Ok(json!({ "GroupId": req.group_id, "IsFinished": i32::from(finished), "RspMsgList": list }))
}

#[derive(Deserialize)]
pub struct SeqItem {
    #[serde(rename = "MsgSeq")]
    pub msg_seq: i64,
    #[serde(rename = "AckContent")]
    pub ack_content: Option<String>,
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

pub async fn group_msg_receipt(state: AppState, caller: Caller, req: GroupReceiptRequest) -> ApiResult<Value> {
    let reader = caller.acting(req.from_account.as_deref(), "From_Account")?;
    let items: Vec<(i64, Option<String>)> = req.msg_seq_list.into_iter().map(|i| (i.msg_seq, i.ack_content)).collect();
    let changed = state.tx(move |c| group_receipts::mark_read(c, &req.group_id, &reader, &items)).await?;
    Ok(json!({ "NewlyReadNum": changed.len() }))
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

pub async fn get_group_msg_receipt(state: AppState, caller: Caller, req: GetReceiptRequest) -> ApiResult<Value> {
    let seqs: Vec<i64> = req.msg_seq_list.iter().map(|i| i.msg_seq).collect();
    let counts =
        state.db(move |c| group_receipts::query_counts(c, &req.group_id, viewer(&caller).as_deref(), &seqs)).await?;
    let list: Vec<Value> = counts
        .into_iter()
        .map(|k| json!({"MsgSeq": k.msg_seq, "ReadNum": k.read, "UnreadNum": k.unread, "DeliveredNum": k.delivered, "Code": k.code}))
        .collect();
    Ok(json!({ "GroupMsgReceiptList": list }))
}

#[derive(Deserialize)]
pub struct DetailRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "MsgSeq")]
    msg_seq: i64,
    #[serde(rename = "Filter", default, deserialize_with = "int_or_string")]
    filter: Option<i64>,
    #[serde(rename = "Flag", default, deserialize_with = "int_or_string")]
    flag: Option<i64>,
    #[serde(rename = "Cursor", default)]
    cursor: String,
    #[serde(rename = "Count", default, deserialize_with = "int_or_string")]
    count: Option<i64>,
    #[serde(rename = "Num", default, deserialize_with = "int_or_string")]
    num: Option<i64>,
}

pub async fn get_group_msg_receipt_detail(state: AppState, caller: Caller, req: DetailRequest) -> ApiResult<Value> {
    let filter = match req.filter.or(req.flag) {
        Some(0) => ListFilter::Read,
        Some(1) => ListFilter::Unread,
        Some(other) => {
            return Err(ApiError::invalid(format!("Filter must be 0 (read list) or 1 (unread list), got {other}")))
        }
        None => return Err(ApiError::invalid("Filter (or legacy Flag) is required: 0 = read list, 1 = unread list")),
    };
    let count = req.count.or(req.num).unwrap_or(100);
    if count < 1 {
        return Err(ApiError::invalid(format!("Count must be at least 1, got {count}")));
    }
    let (gid, seq) = (req.group_id.clone(), req.msg_seq);
    let page = state
        .db(move |c| group_receipts::list(c, &gid, viewer(&caller).as_deref(), seq, filter, &req.cursor, count))
        .await?;
    let finished = i32::from(page.finished);
    let mut out = json!({
        "GroupId": req.group_id, "MsgSeq": req.msg_seq, "Cursor": page.cursor,
        "IsFinish": finished, "IsFinished": finished,
    });
    match filter {
        ListFilter::Read => {
            out["ReadList"] = page
                .read
                .into_iter()
                .map(|r| json!({"Read_Account": r.account, "ReadTime": r.read_time, "AckContent": r.ack_content.unwrap_or_default()}))
                .collect();
        }
        ListFilter::Unread => {
            out["UnreadList"] = page.unread.into_iter().map(|u| json!({"Unread_Account": u})).collect();
        }
    }
    Ok(out)
}
