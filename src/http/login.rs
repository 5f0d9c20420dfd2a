//! `im_open_login_svc`: account import, delete and check.

use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::wire::Empty;
use crate::domain::accounts;
use crate::error::{ApiError, ApiResult, Service};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct AccountImportRequest {
    #[serde(rename = "UserID")]
    user_id: String,
    #[serde(rename = "Nick")]
    nick: Option<String>,
    #[serde(rename = "FaceUrl")]
    face_url: Option<String>,
}

pub async fn account_import(state: AppState, _: Caller, req: AccountImportRequest) -> ApiResult<Empty> {
    state.tx(move |c| accounts::import(c, &req.user_id, req.nick.as_deref(), req.face_url.as_deref())).await?;
    Ok(Empty {})
}

#[derive(Deserialize, Clone)]
pub struct AccountItem {
    #[serde(rename = "UserID")]
    user_id: String,
    #[serde(rename = "Nick")]
    nick: Option<String>,
    #[serde(rename = "FaceUrl")]
    face_url: Option<String>,
}

#[derive(Deserialize)]
pub struct MultiImportRequest {
    #[serde(rename = "Accounts")]
    accounts: Option<Vec<String>>,
    #[serde(rename = "AccountList")]
    account_list: Option<Vec<AccountItem>>,
}

#[derive(Serialize)]
pub struct MultiImportResponse {
    #[serde(rename = "FailAccounts")]
    fail_accounts: Vec<String>,
}

pub async fn multiaccount_import(
    state: AppState,
    _: Caller,
    req: MultiImportRequest,
) -> ApiResult<MultiImportResponse> {
    let mut items: Vec<AccountItem> = req.account_list.unwrap_or_default();
    items.extend(req.accounts.unwrap_or_default().into_iter().map(|id| AccountItem {
        user_id: id,
        nick: None,
        face_url: None,
    }));
    if items.is_empty() || items.len() > 100 {
        return Err(ApiError::invalid(format!("Accounts/AccountList must have 1 to 100 entries, got {}", items.len())));
    }
    let fail_accounts = state
        .tx(move |c| {
            let mut failed = Vec::new();
            for it in &items {
                // A bad entry lands in FailAccounts; the rest of the batch still imports.
                match accounts::import(c, &it.user_id, it.nick.as_deref(), it.face_url.as_deref()) {
                    Ok(()) => {}
                    Err(ApiError::InvalidParam(_) | ApiError::FieldTooLong(_)) => failed.push(it.user_id.clone()),
                    Err(e) => return Err(e),
                }
            }
            Ok(failed)
        })
        .await?;
    Ok(MultiImportResponse { fail_accounts })
}

#[derive(Deserialize)]
pub struct UserIdItem {
    #[serde(rename = "UserID")]
    user_id: String,
}

#[derive(Deserialize)]
pub struct AccountDeleteRequest {
    #[serde(rename = "DeleteItem")]
    delete_item: Vec<UserIdItem>,
}

#[derive(Deserialize)]
pub struct AccountCheckRequest {
    #[serde(rename = "CheckItem")]
    check_item: Vec<UserIdItem>,
}

#[derive(Serialize)]
pub struct ResultItem {
    #[serde(rename = "UserID")]
    user_id: String,
    #[serde(rename = "ResultCode")]
    result_code: u32,
    #[serde(rename = "ResultInfo")]
    result_info: String,
    #[serde(rename = "AccountStatus", skip_serializing_if = "Option::is_none")]
    account_status: Option<&'static str>,
}

#[derive(Serialize)]
pub struct ResultItems {
    #[serde(rename = "ResultItem")]
    result_item: Vec<ResultItem>,
}

fn ids_of(items: Vec<UserIdItem>, field: &str) -> ApiResult<Vec<String>> {
    if items.is_empty() || items.len() > 100 {
        return Err(ApiError::invalid(format!("{field} must have 1 to 100 entries, got {}", items.len())));
    }
    Ok(items.into_iter().map(|i| i.user_id).collect())
}

pub async fn account_delete(state: AppState, caller: Caller, req: AccountDeleteRequest) -> ApiResult<ResultItems> {
    let ids = ids_of(req.delete_item, "DeleteItem")?;
    let done = state.tx(move |c| accounts::delete(c, &caller.origin, &ids)).await?;
    Ok(ResultItems {
        result_item: done
            .into_iter()
            .map(|(user_id, existed)| {
                let missing = (!existed).then(|| ApiError::AccountNotFound(user_id.clone()));
                ResultItem {
                    result_code: missing.as_ref().map_or(0, |e| e.code(Service::Login)),
                    result_info: missing.map(|e| e.to_string()).unwrap_or_default(),
                    user_id,
                    account_status: None,
                }
            })
            .collect(),
    })
}

pub async fn account_check(state: AppState, _: Caller, req: AccountCheckRequest) -> ApiResult<ResultItems> {
    let ids = ids_of(req.check_item, "CheckItem")?;
    let lookup = ids.clone();
    let known = state.db(move |c| accounts::existing(c, &lookup)).await?;
    Ok(ResultItems {
        result_item: ids
            .into_iter()
            .map(|id| ResultItem {
                account_status: Some(if known.contains(&id) { "Imported" } else { "NotImported" }),
                user_id: id,
                result_code: 0,
                result_info: String::new(),
            })
            .collect(),
    })
}
