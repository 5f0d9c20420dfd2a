//! `receipt_svc/set_user_receipt_privacy` and `get_user_receipt_privacy`: private receipts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::Caller;
use super::wire::int_flag;
use crate::domain::privacy;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Who the setting is for: `From_Account` (as in the receipt commands) or `To_Account` (as in
/// `event_stream`) names the user an admin acts on; a user may omit both or name themselves.
#[derive(Deserialize)]
pub struct Target {
    #[serde(rename = "From_Account")]
    from_account: Option<String>,
    #[serde(rename = "To_Account")]
    to_account: Option<String>,
}

impl Target {
    fn resolve(&self, caller: &Caller) -> ApiResult<String> {
        let named = match (&self.from_account, &self.to_account) {
            (Some(f), Some(t)) if f != t => {
                return Err(ApiError::invalid(format!(
                    "From_Account {f:?} and To_Account {t:?} name different users; give one of them"
                )))
            }
            (Some(f), _) => Some((f.as_str(), "From_Account")),
            (None, Some(t)) => Some((t.as_str(), "To_Account")),
            (None, None) => None,
        };
        match named {
            Some((user, field)) => caller.acting(Some(user), field),
            None => caller.acting(None, "From_Account (or To_Account)"),
        }
    }
}

#[derive(Deserialize)]
pub struct SetPrivacyRequest {
    #[serde(flatten)]
    target: Target,
    #[serde(rename = "Private")]
    private: Option<Value>,
}

/// The setting as both commands answer it.
#[derive(Serialize)]
pub struct PrivacyResponse {
    #[serde(rename = "UserID")]
    user_id: String,
    #[serde(rename = "Private")]
    private: i32,
}

/// `Private` must be the integer 0 or 1 (a numeric string is accepted, as for other flags).
fn private_flag(v: Option<&Value>) -> ApiResult<bool> {
    let n = match v {
        None | Some(Value::Null) => return Err(ApiError::invalid("Private is required: 1 = private reads, 0 = not")),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match n {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => Err(ApiError::invalid(format!(
            "Private must be 0 or 1, got {}",
            v.map(Value::to_string).unwrap_or_default()
        ))),
    }
}

pub async fn set_user_receipt_privacy(
    state: AppState,
    caller: Caller,
    req: SetPrivacyRequest,
) -> ApiResult<PrivacyResponse> {
    let user = req.target.resolve(&caller)?;
    let private = private_flag(req.private.as_ref())?;
    let who = user.clone();
    state.tx(move |c| privacy::set(c, &who, private)).await?;
    Ok(PrivacyResponse { user_id: user, private: int_flag(private) })
}

pub async fn get_user_receipt_privacy(state: AppState, caller: Caller, req: Target) -> ApiResult<PrivacyResponse> {
    let user = req.resolve(&caller)?;
    let who = user.clone();
    let private = state.db(move |c| privacy::get(c, &who)).await?;
    Ok(PrivacyResponse { user_id: user, private: int_flag(private) })
}
