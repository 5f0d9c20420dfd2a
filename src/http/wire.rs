//! Wire helpers shared by the command handlers: Tencent's loose number and flag encodings,
//! common request items and per-item result entries.

use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::c2c::MsgRef;
use crate::error::{ApiError, ApiResult, Service};

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrString {
    Int(i64),
    Str(String),
}

/// Accepts an integer or a numeric string (clients send both for some fields); "" is absent.
pub fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<IntOrString>::deserialize(d)? {
        None => Ok(None),
        Some(IntOrString::Int(i)) => Ok(Some(i)),
        Some(IntOrString::Str(s)) if s.trim().is_empty() => Ok(None),
        Some(IntOrString::Str(s)) => {
            s.trim().parse().map(Some).map_err(|_| serde::de::Error::custom(format!("{s:?} is not an integer")))
        }
    }
}

/// Whether `s` holds a control character (U+0000-U+001F, U+007F): never valid in an account,
/// a group id or a cursor, and U+0000 cannot even be stored by PostgreSQL.
pub fn has_control_chars(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A 0/1 flag (absent = 0).
pub fn flag(v: Option<i64>, field: &str) -> ApiResult<bool> {
    match v.unwrap_or(0) {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(ApiError::invalid(format!("{field} must be 0 or 1, got {other}"))),
    }
}

/// Checks that `v` fits Tencent's uint32 fields.
pub fn u32_field(v: i64, field: &str) -> ApiResult<i64> {
    if (0..=u32::MAX as i64).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::invalid(format!("{field} must be a 32-bit unsigned integer, got {v}")))
    }
}

/// Checks that a list has `min..=max` entries.
pub fn check_len<T>(items: &[T], min: usize, max: usize, field: &str) -> ApiResult<()> {
    if (min..=max).contains(&items.len()) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("{field} must have {min} to {max} entries, got {}", items.len())))
    }
}

/// A page size where 0 or absent means the largest page, `max`.
pub fn page_limit(limit: Option<i64>, max: i64) -> ApiResult<i64> {
    match limit.unwrap_or(0) {
        0 => Ok(max),
        n if (1..=max).contains(&n) => Ok(n),
        n => Err(ApiError::invalid(format!("Limit must be 0 to {max} (0 = {max}), got {n}"))),
    }
}

/// An `Offset` that must not be negative (absent = 0).
pub fn offset(v: Option<i64>) -> ApiResult<i64> {
    match v.unwrap_or(0) {
        n if n < 0 => Err(ApiError::invalid(format!("Offset must not be negative, got {n}"))),
        n => Ok(n),
    }
}

/// `true` as Tencent's integer flag.
pub fn int_flag(b: bool) -> i32 {
    i32::from(b)
}

/// One group message named by sequence, with the optional receipt text.
#[derive(Deserialize)]
pub struct SeqItem {
    #[serde(rename = "MsgSeq")]
    pub msg_seq: i64,
    #[serde(rename = "AckContent")]
    pub ack_content: Option<String>,
}

/// One C2C message named by its sender, receiver and MsgKey.
#[derive(Deserialize, Clone)]
pub struct MsgInfo {
    #[serde(rename = "From_Account")]
    pub from_account: String,
    #[serde(rename = "To_Account")]
    pub to_account: String,
    #[serde(rename = "MsgKey")]
    pub msg_key: String,
}

impl From<MsgInfo> for MsgRef {
    fn from(m: MsgInfo) -> MsgRef {
        MsgRef { from: m.from_account, to: m.to_account, key: m.msg_key }
    }
}

/// A rejected group item of a per-item command (the rest of the call was recorded).
#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct SeqError {
    pub msg_seq: i64,
    pub error_code: u32,
    pub error_info: String,
}

impl SeqError {
    /// The entry for `seq` refused with `e`.
    pub fn new(seq: i64, e: &ApiError, service: Service) -> Self {
        SeqError { msg_seq: seq, error_code: e.code(service), error_info: e.to_string() }
    }
}

/// A rejected C2C item of a per-item command.
#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct KeyError {
    pub msg_key: String,
    pub error_code: u32,
    pub error_info: String,
}

impl KeyError {
    /// The entry for `key` refused with `e` by a command of `service`.
    pub fn new(key: String, e: &ApiError, service: Service) -> Self {
        KeyError { msg_key: key, error_code: e.code(service), error_info: e.to_string() }
    }
}

/// An account-level failure inside a batch (e.g. a receiver that is not imported).
#[derive(Serialize, Debug)]
pub struct AccountError {
    #[serde(rename = "To_Account")]
    pub to_account: String,
    #[serde(rename = "ErrorCode")]
    pub error_code: u32,
}

/// The empty success answer (envelope only).
#[derive(Serialize)]
pub struct Empty {}

/// A request without fields (`{}`; unknown fields are ignored).
#[derive(Deserialize)]
pub struct EmptyRequest {}
