//! `receipt_svc`: extensions beyond Tencent (delivery acks, conversation read, sender view, config).

use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::openim::{c2c_ack, C2cReceiptRequest};
use super::wire::{flag, int_flag, int_or_string, EmptyRequest, KeyError, MsgInfo, SeqError, SeqItem};
use crate::domain::c2c::{self, Ack};
use crate::domain::config::{self, ConfigUpdate};
use crate::domain::{feed, group_receipts};
use crate::error::{ApiError, ApiResult, Service};
use crate::state::AppState;
use crate::webhooks::outbox::EVENT_TYPES;

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

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveredResponse {
    newly_delivered_num: usize,
    /// Refused group items (group acks only).
    #[serde(skip_serializing_if = "Option::is_none")]
    error_list: Option<Vec<SeqError>>,
    /// Refused C2C items (C2C acks only).
    #[serde(rename = "C2CErrorList", skip_serializing_if = "Option::is_none")]
    c2c_error_list: Option<Vec<KeyError>>,
}

pub async fn msg_delivered(state: AppState, caller: Caller, req: DeliveredRequest) -> ApiResult<DeliveredResponse> {
    match (req.group_id, req.operator_account, req.peer_account) {
        (Some(gid), None, None) => {
            let reader = caller.acting(req.from_account.as_deref(), "From_Account")?;
            let items: Vec<(i64, Option<String>)> = req.msg_seq_list.iter().map(|i| (i.msg_seq, None)).collect();
            let call = group_receipts::receipt_call(&caller.origin, &gid, &reader, &items)?;
            let out = state.writers.group_delivered.submit(&state, call).await?;
            Ok(DeliveredResponse {
                newly_delivered_num: out.changed.len(),
                error_list: Some(out.errors.iter().map(|(s, e)| SeqError::new(*s, e, Service::Extension)).collect()),
                c2c_error_list: None,
            })
        }
        (None, Some(op), Some(peer)) => {
            let req = C2cReceiptRequest::new(op, peer, req.c2c_msg_info);
            let (n, errors) = c2c_ack(&state, &caller, req, Ack::Delivered, Service::Extension).await?;
            Ok(DeliveredResponse { newly_delivered_num: n, error_list: None, c2c_error_list: Some(errors) })
        }
        _ => Err(ApiError::invalid(
            "give either GroupId (+ From_Account, MsgSeqList) for group messages, or Operator_Account + Peer_Account + C2CMsgInfo for C2C messages",
        )),
    }
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

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReadReportResponse {
    msg_read_seq: i64,
    newly_read_num: usize,
}

pub async fn group_msg_read_report(
    state: AppState,
    caller: Caller,
    req: ReadReportRequest,
) -> ApiResult<ReadReportResponse> {
    let reader = caller.acting(req.member_account.as_deref(), "Member_Account")?;
    let origin = caller.origin;
    let (seq, changed) =
        state.db(move |c| group_receipts::read_report(c, &origin, &req.group_id, &reader, req.msg_seq)).await?;
    Ok(ReadReportResponse { msg_read_seq: seq, newly_read_num: changed.len() })
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

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MsgReceipt {
    msg_key: String,
    code: u32,
    need_read_receipt: i32,
    is_peer_read: i32,
    read_time: i64,
    is_delivered: i32,
    delivered_time: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SenderViewResponse {
    msg_receipt_list: Vec<MsgReceipt>,
}

pub async fn get_c2c_msg_receipt(
    state: AppState,
    caller: Caller,
    req: SenderViewRequest,
) -> ApiResult<SenderViewResponse> {
    let sender = caller.acting(req.from_account.as_deref(), "From_Account")?;
    let states = state.db(move |c| c2c::receipt_states(c, &sender, &req.to_account, &req.msg_key_list)).await?;
    Ok(SenderViewResponse {
        msg_receipt_list: states
            .into_iter()
            .map(|s| {
                // Read implies delivered, also when the read came from a conversation read.
                let delivered = s.delivered_time.or(s.read_time);
                MsgReceipt {
                    msg_key: s.key,
                    code: s.error.map_or(0, |e| e.code(Service::Extension)),
                    need_read_receipt: int_flag(s.need_receipt),
                    is_peer_read: int_flag(s.read_time.is_some()),
                    read_time: s.read_time.unwrap_or(0),
                    is_delivered: int_flag(delivered.is_some()),
                    delivered_time: delivered.unwrap_or(0),
                }
            })
            .collect(),
    })
}

/// The receipt settings as answered by both config commands.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigResponse {
    group_receipt_types: Vec<String>,
    group_receipt_request_roles: String,
    max_receipt_group_members: i32,
    group_read_threshold_percent: std::collections::BTreeMap<String, i16>,
    event_feed: i32,
    event_feed_retention_seconds: i32,
    group_read_deadline_seconds: std::collections::BTreeMap<String, i32>,
}

impl From<config::ReceiptConfig> for ConfigResponse {
    fn from(cfg: config::ReceiptConfig) -> Self {
        ConfigResponse {
            group_receipt_types: cfg.group_types,
            group_receipt_request_roles: cfg.request_roles,
            max_receipt_group_members: cfg.max_group_members,
            group_read_threshold_percent: cfg.group_read_threshold,
            event_feed: int_flag(cfg.event_feed),
            event_feed_retention_seconds: cfg.event_feed_retention_secs,
            group_read_deadline_seconds: cfg.group_read_deadline,
        }
    }
}

pub async fn get_receipt_config(state: AppState, _: Caller, _: EmptyRequest) -> ApiResult<ConfigResponse> {
    Ok(state.db(config::load).await?.into())
}

#[derive(Deserialize)]
pub struct SetConfigRequest {
    #[serde(rename = "GroupReceiptTypes")]
    group_receipt_types: Option<Vec<String>>,
    #[serde(rename = "GroupReceiptRequestRoles")]
    group_receipt_request_roles: Option<String>,
    #[serde(rename = "MaxReceiptGroupMembers")]
    max_receipt_group_members: Option<i64>,
    #[serde(rename = "GroupReadThresholdPercent")]
    group_read_threshold_percent: Option<std::collections::BTreeMap<String, i64>>,
    #[serde(rename = "EventFeed", default, deserialize_with = "int_or_string")]
    event_feed: Option<i64>,
    #[serde(rename = "EventFeedRetentionSeconds", default, deserialize_with = "int_or_string")]
    event_feed_retention_seconds: Option<i64>,
    #[serde(rename = "GroupReadDeadlineSeconds")]
    group_read_deadline_seconds: Option<serde_json::Value>,
}

pub async fn set_receipt_config(state: AppState, caller: Caller, req: SetConfigRequest) -> ApiResult<ConfigResponse> {
    let (cfg, _) = state
        .tx(move |c| {
            let update = ConfigUpdate {
                group_types: req.group_receipt_types.clone(),
                request_roles: req.group_receipt_request_roles.clone(),
                max_group_members: req.max_receipt_group_members,
                group_read_threshold: req.group_read_threshold_percent.clone(),
                event_feed: req.event_feed.map(|v| flag(Some(v), "EventFeed")).transpose()?,
                event_feed_retention_secs: req.event_feed_retention_seconds,
                group_read_deadline: req.group_read_deadline_seconds.clone(),
            };
            config::update_audited(c, update, &caller.identifier, crate::domain::audit::Via::Rest)
        })
        .await?;
    Ok(cfg.into())
}

#[derive(Deserialize)]
pub struct ReceiptEventsRequest {
    /// `NextCursor` of the previous page; empty or absent for the oldest event kept.
    #[serde(rename = "Cursor", default)]
    cursor: Option<String>,
    #[serde(rename = "Limit", default, deserialize_with = "int_or_string")]
    limit: Option<i64>,
    #[serde(rename = "EventTypes")]
    event_types: Option<Vec<String>>,
}

/// One feed event: its webhook id and command, and the webhook body.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FeedEventItem {
    event_id: String,
    event_type: String,
    event: serde_json::Value,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptEventsResponse {
    events: Vec<FeedEventItem>,
    next_cursor: String,
    /// 1 when the page is full (more may follow at once).
    has_more: i32,
}

/// Default page of `get_receipt_events`.
const FEED_PAGE: i64 = 100;

pub async fn get_receipt_events(
    state: AppState,
    _: Caller,
    req: ReceiptEventsRequest,
) -> ApiResult<ReceiptEventsResponse> {
    let after = feed::parse_cursor(req.cursor.as_deref().unwrap_or_default())?;
    let limit = match req.limit {
        None | Some(0) => FEED_PAGE,
        Some(n) if (1..=feed::MAX_PAGE).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "Limit must be 1 to {} (absent or 0 = {FEED_PAGE}), got {n}",
                feed::MAX_PAGE
            )))
        }
    };
    if let Some(types) = &req.event_types {
        super::wire::check_len(types, 1, EVENT_TYPES.len(), "EventTypes")?;
        if let Some(bad) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
            return Err(ApiError::invalid(format!(
                "EventTypes names {bad:?}, which is not an event imreceipts fires; use any of {}",
                EVENT_TYPES.join(", ")
            )));
        }
    }
    let page = state.db(move |c| feed::page(c, after, limit, req.event_types.as_deref())).await?;
    let has_more = int_flag(page.events.len() as i64 == limit);
    let events = page
        .events
        .iter()
        .map(|e| {
            Ok(FeedEventItem { event_id: e.public_id.clone(), event_type: e.event_type.clone(), event: e.payload()? })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(ReceiptEventsResponse { events, next_cursor: page.next.to_string(), has_more })
}
