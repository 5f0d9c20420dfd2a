//! Query-string authentication: sdkappid, identifier and UserSig on every `/v4` call.

use std::collections::HashMap;

use crate::error::ApiError;
use crate::state::AppState;
use crate::webhooks::outbox::Origin;

/// Values Tencent uses for a callback's `OptPlatform`.
pub const PLATFORMS: [&str; 8] = ["RESTAPI", "Web", "Android", "iOS", "Windows", "Mac", "iPad", "Unknown"];

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
    /// Where the request came from (travels into the callbacks it causes).
    pub origin: Origin,
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
    /// `platform` (extension): the `OptPlatform` of callbacks this call causes.
    pub platform: Option<String>,
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
    let platform = params.get("platform").filter(|p| !p.is_empty()).cloned();
    if let Some(p) = &platform {
        if !PLATFORMS.contains(&p.as_str()) {
            return Err(ApiError::BadQuery(format!("platform {p:?} must be one of {}", PLATFORMS.join(", "))));
        }
    }
    Ok(Query { identifier: get("identifier")?, usersig: get("usersig")?, platform })
}

/// Verifies the UserSig and decides whether the identifier is an admin.
pub fn verify(state: &AppState, q: &Query, client_ip: String, now: i64) -> Result<Caller, ApiError> {
    state.sig_cache.verify(&state.app.secret_key, state.app.sdkappid, &q.identifier, &q.usersig, now)?;
    Ok(Caller {
        identifier: q.identifier.clone(),
        is_admin: state.app.admins.iter().any(|a| a == &q.identifier),
        origin: Origin { client_ip, platform: q.platform.clone().unwrap_or_else(|| "RESTAPI".into()) },
    })
}

/// The caller's address: the last entry of the trusted proxy header when one is configured and
/// present (the one the proxy itself appended; earlier entries come from the client), else the
/// TCP peer.
pub fn client_ip(state: &AppState, req: &actix_web::HttpRequest) -> String {
    let from_header = state.client_ip_header.as_deref().and_then(|h| {
        let v = req.headers().get(h)?.to_str().ok()?;
        let last = v.rsplit(',').next()?.trim();
        last.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
    });
    from_header.or_else(|| req.peer_addr().map(|a| a.ip().to_string())).unwrap_or_default()
}
