//! Query-string authentication: sdkappid, identifier and UserSig on every `/v4` call.

use std::collections::HashMap;

use crate::error::ApiError;
use crate::state::AppState;
use crate::usersig;

/// Who may call a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Only App admin identifiers.
    Admin,
    /// Admins, or an imported user acting only as themselves.
    User,
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The `identifier` query parameter, verified by its UserSig.
    pub identifier: String,
    /// Whether the identifier is an App admin.
    pub is_admin: bool,
}

impl Caller {
    /// Checks that the caller may act as `user`: admins may name anyone, users only themselves.
    pub fn may_act_as(&self, user: &str, field: &str) -> Result<(), ApiError> {
        if self.is_admin || self.identifier == user {
            Ok(())
        } else {
            Err(ApiError::AdminRequired(format!(
                "{field} is {user:?} but the UserSig belongs to {:?}: a user may act only as themselves; use an App admin identifier to act for others",
                self.identifier
            )))
        }
    }

    /// The acting user: `named` if given (and allowed), else the caller.
    pub fn acting(&self, named: Option<&str>, field: &str) -> Result<String, ApiError> {
        match named {
            Some(u) => self.may_act_as(u, field).map(|_| u.to_string()),
            None if self.is_admin => {
                Err(ApiError::invalid(format!("{field} is required when calling as an App admin")))
            }
            None => Ok(self.identifier.clone()),
        }
    }
}

/// Parsed and checked query parameters (before the UserSig is verified).
pub struct Query {
    /// `identifier`
    pub identifier: String,
    /// `usersig`
    pub usersig: String,
}

/// Parses the query string and checks the sdkappid (60002, 60006, 60012).
pub fn parse_query(state: &AppState, raw: &str) -> Result<Query, ApiError> {
    let params: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect();
    let appid = params.get("sdkappid").ok_or(ApiError::MissingAppId)?;
    let appid_num: u64 =
        appid.parse().map_err(|_| ApiError::BadQuery(format!("sdkappid {appid:?} is not an unsigned integer")))?;
    if appid_num != state.app.sdkappid {
        return Err(ApiError::WrongAppId(appid.clone()));
    }
    let get = |name: &str| {
        params
            .get(name)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or_else(|| ApiError::BadQuery(format!("the {name} query parameter is required")))
    };
    if let Some(r) = params.get("random") {
        r.parse::<u32>()
            .map_err(|_| ApiError::BadQuery(format!("random {r:?} must be an integer in 0..=4294967295")))?;
    }
    if let Some(ct) = params.get("contenttype") {
        if ct != "json" {
            return Err(ApiError::BadQuery(format!("contenttype must be \"json\", got {ct:?}")));
        }
    }
    Ok(Query { identifier: get("identifier")?, usersig: get("usersig")? })
}

/// Verifies the UserSig and decides whether the identifier is an admin.
pub fn verify(state: &AppState, q: &Query, now: i64) -> Result<Caller, ApiError> {
    usersig::verify(&state.app.secret_key, state.app.sdkappid, &q.identifier, &q.usersig, now)?;
    Ok(Caller { identifier: q.identifier.clone(), is_admin: state.app.admins.iter().any(|a| a == &q.identifier) })
}
