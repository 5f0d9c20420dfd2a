//! `receipt_svc`: extensions beyond Tencent (delivery acks, conversation read, sender view, config).

use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::group::SeqItem;
use super::openim::{c2c_ack, C2cReceiptRequest, MsgInfo};
use crate::domain::c2c::{self, Ack};
use crate::domain::config::{self, ConfigUpdate};
use crate::domain::group_receipts;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct DeliveredRequest {
    #[serde(rename = "GroupId")]
    group_id: Option<String>,
    #[serde(rename = "From_Account")]
    from_account: Option<String>,
    #[serde(rename = "MsgSeqList", default)]
    msg_seq_list: Vec<SeqItem>,
    #[serde(rename = "Operator_Account")]
    operator_account: Option<String>,
    #[serde(rename = "Peer_Account")]
    peer_account: Option<String>,
    #[serde(rename = "C2CMsgInfo", default)]
    c2c_msg_info: Vec<MsgInfo>,
}

pub async fn msg_delivered(state: AppState, caller: Caller, req: DeliveredRequest) -> ApiResult<Value> {
    let changed = match (req.group_id, req.operator_account, req.peer_account) {
        (Some(gid), None, None) => {
            let reader = caller.acting(req.from_account.as_deref(), "From_Account")?;
            let seqs: Vec<i64> = req.msg_seq_list.iter().map(|i| i.msg_seq).collect();
            state
                .tx(move |c| {
                    group_receipts::mark_delivered(c, &gid, &reader, &seqs)
                })
                .await?
                .len()
        }
        (None, Some(op), Some(peer)) => {
            let req = C2cReceiptRequest::new(op, peer, req.c2c_msg_info);
            c2c_ack(&state, &caller, req, Ack::Delivered).await?.len()
        }
        _ => {
            return Err(ApiError::invalid(
                "give either GroupId (+ From_Account, MsgSeqList) for group messages, or Operator_Account + Peer_Account + C2CMsgInfo for C2C messages",
            ))
        }
    };
    Ok(json!({ "NewlyDeliveredNum": changed }))
}

#[derive(Deserialize)]
pub struct ReadReportRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Member_Account")]
    member_account: Option<String>,
    #[serde(rename = "MsgSeq")]
    msg_seq: i64,
}

pub async fn group_msg_read_report(state: AppState, caller: Caller, req: ReadReportRequest) -> ApiResult<Value> {
    let reader = caller.acting(req.member_account.as_deref(), "Member_Account")?;
    let (seq, changed) = state.tx(move |c| group_receipts::read_report(c, &req.group_id, &reader, req.msg_seq)).await?;
    Ok(json!({ "MsgReadSeq": seq, "NewlyReadNum": changed.len() }))
}

#[derive(Deserialize)]
pub struct SenderViewRequest {
    #[serde(rename = "From_Account")]
    from_account: Option<String>,
    #[serde(rename = "To_Account")]
    to_account: String,
    #[serde(rename = "MsgKeyList")]
    msg_key_list: Vec<String>,
}

pub async fn get_c2c_msg_receipt(state: AppState, caller: Caller, req: SenderViewRequest) -> ApiResult<Value> {
    let sender = caller.acting(req.from_account.as_deref(), "From_Account")?;
    let states = state.db(move |c| c2c::receipt_states(c, &sender, &req.to_account, &req.msg_key_list)).await?;
    let list: Vec<Value> = states
        .into_iter()
        .map(|s| {
            json!({
                "MsgKey": s.key, "Code": s.code, "NeedReadReceipt": i32::from(s.need_receipt),
                "IsPeerRead": i32::from(s.read_time.is_some()), "ReadTime": s.read_time.unwrap_or(0),
                "IsDelivered": i32::from(s.delivered_time.is_some()), "DeliveredTime": s.delivered_time.unwrap_or(0),
            })
        })
        .collect();
    Ok(json!({ "MsgReceiptList": list }))
}

fn config_json(cfg: &config::ReceiptConfig) -> Value {
    json!({
        "GroupReceiptTypes": cfg.group_types,
        "GroupReceiptRequestRoles": cfg.request_roles,
        "MaxReceiptGroupMembers": cfg.max_group_members,
    })
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn get_receipt_config(state: AppState, _: Caller, _: Empty) -> ApiResult<Value> {
    let cfg = state.db(config::load).await?;
    Ok(config_json(&cfg))
}

#[derive(Deserialize)]
pub struct SetConfigRequest {
    #[serde(rename = "GroupReceiptTypes")]
    group_receipt_types: Option<Vec<String>>,
    #[serde(rename = "GroupReceiptRequestRoles")]
    group_receipt_request_roles: Option<String>,
    #[serde(rename = "MaxReceiptGroupMembers")]
    max_receipt_group_members: Option<i64>,
}

pub async fn set_receipt_config(state: AppState, _: Caller, req: SetConfigRequest) -> ApiResult<Value> {
    let cfg = state
        .tx(move |c| {
            config::update(
                c,
                ConfigUpdate {
                    group_types: req.group_receipt_types.clone(),
                    request_roles: req.group_receipt_request_roles.clone(),
                    max_group_members: req.max_receipt_group_members,
                },
            )
        })
        .await?;
    Ok(config_json(&cfg))
}
