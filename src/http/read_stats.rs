//! `receipt_svc/get_read_stats`: read analytics of a group message or a time range of a group.

use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::wire::int_flag;
use crate::domain::read_stats::{self, ReadStats, Scope};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ReadStatsRequest {
    #[serde(rename = "GroupId")]
    group_id: Option<String>,
    #[serde(rename = "MsgSeq")]
    msg_seq: Option<i64>,
    #[serde(rename = "StartTime")]
    start_time: Option<i64>,
    #[serde(rename = "EndTime")]
    end_time: Option<i64>,
    #[serde(rename = "BucketSeconds")]
    bucket_seconds: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistogramBucket {
    start: i64,
    read_num: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReadStatsResponse {
    group_id: String,
    /// The message asked about (single-message form only).
    #[serde(skip_serializing_if = "Option::is_none")]
    msg_seq: Option<i64>,
    /// The range asked about (range form only).
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
    msg_num: i64,
    eligible_num: i64,
    read_num: i64,
    unread_num: i64,
    read_percent: f64,
    #[serde(rename = "TimeToReadP50Ms")]
    p50: Option<i64>,
    #[serde(rename = "TimeToReadP90Ms")]
    p90: Option<i64>,
    #[serde(rename = "TimeToReadP99Ms")]
    p99: Option<i64>,
    bucket_seconds: i64,
    histogram: Vec<HistogramBucket>,
    truncated: i32,
}

pub async fn get_read_stats(state: AppState, caller: Caller, req: ReadStatsRequest) -> ApiResult<ReadStatsResponse> {
    let group_id = req.group_id.filter(|g| !g.is_empty()).ok_or_else(|| ApiError::invalid("GroupId is required"))?;
    let scope = read_stats::scope(req.msg_seq, req.start_time, req.end_time, req.bucket_seconds)?;
    let viewer = (!caller.is_admin).then(|| caller.identifier.clone());
    let gid = group_id.clone();
    let s: ReadStats =
        state.db(move |c| read_stats::stats(c, &gid, viewer.as_deref(), scope, req.bucket_seconds)).await?;
    let (msg_seq, start_time, end_time) = match scope {
        Scope::Message(seq) => (Some(seq), None, None),
        Scope::Range { start, end } => (None, Some(start), Some(end)),
    };
    Ok(ReadStatsResponse {
        group_id,
        msg_seq,
        start_time,
        end_time,
        msg_num: s.msg_num,
        eligible_num: s.eligible,
        read_num: s.read,
        unread_num: s.unread,
        read_percent: s.read_percent,
        p50: s.p50_ms,
        p90: s.p90_ms,
        p99: s.p99_ms,
        bucket_seconds: s.bucket_seconds,
        histogram: s.histogram.into_iter().map(|b| HistogramBucket { start: b.start, read_num: b.reads }).collect(),
        truncated: int_flag(s.truncated),
    })
}
