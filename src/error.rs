//! The one error type of the API: every variant knows its Tencent `ErrorCode`.

use std::fmt;

/// An error answered to the caller as `{"ActionStatus":"FAIL","ErrorCode":..,"ErrorInfo":..}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 60002: the query string is malformed or misses a parameter.
    #[error("{0}")]
    BadQuery(String),
    /// 60003: the body is empty, too large or not JSON.
    #[error("{0}")]
    BadJson(String),
    /// 60006: the sdkappid does not belong to this server.
    #[error("sdkappid {0} is not the SDKAppID of this server")]
    WrongAppId(String),
    /// 60009: no such service/command.
    #[error("unknown service or command: {0}")]
    UnknownCommand(String),
    /// 60010: the command needs an App admin identifier.
    #[error("{0}")]
    AdminRequired(String),
    /// 60012: the sdkappid query parameter is missing.
    #[error("the sdkappid query parameter is required")]
    MissingAppId,
    /// 70001: the UserSig has expired.
    #[error("UserSig expired at {0} (unix seconds); generate a new one")]
    SigExpired(i64),
    /// 70009: the UserSig was issued further in the future than the allowed clock skew.
    #[error("UserSig was issued {0} s in the future (more than the {skew} s clock skew allowed); check the clock of the server that signs UserSigs", skew = crate::usersig::CLOCK_SKEW_SECS)]
    SigFromFuture(i64),
    /// 70003: the UserSig cannot be decoded.
    #[error("UserSig cannot be decoded: {0}")]
    SigDecode(String),
    /// 70009: the UserSig HMAC does not verify with this app's key.
    #[error("UserSig verification failed: it was not signed with this app's secret key")]
    SigMismatch,
    /// 70013: the identifier differs from the one inside the UserSig.
    #[error("identifier {0:?} does not match the identifier inside the UserSig ({1:?})")]
    IdentifierMismatch(String, String),
    /// 70014: the sdkappid differs from the one inside the UserSig.
    #[error("sdkappid does not match the SDKAppID inside the UserSig ({0})")]
    AppIdMismatch(u64),
    /// 70107: an account is not imported.
    #[error("account {0:?} is not imported; import it with im_open_login_svc/account_import")]
    AccountNotFound(String),
    /// 10004 (group, receipt) / 90001 (openim) / 70402 (login): a field is missing or invalid.
    #[error("{0}")]
    InvalidParam(String),
    /// 10007: the caller may not do this.
    #[error("{0}")]
    NoPermission(String),
    /// 10010: the group does not exist.
    #[error("group {0:?} does not exist or was destroyed")]
    GroupNotFound(String),
    /// 10062: no receipt information for the message.
    #[error("{0}")]
    ReceiptNotFound(String),
    /// 19001 (extension): read receipts are switched off for this group type.
    #[error("{0}")]
    ReceiptsDisabled(String),
    /// 19002 (group, extension) / 20023 (openim): the message was recalled.
    #[error("{0}")]
    MsgRecalled(String),
    /// 19003 (extension): a stream resume point older than the notification retention.
    #[error("{0}")]
    ResumeExpired(String),
    /// 19004 (extension): the pull feed of receipt events is switched off.
    #[error("{0}")]
    FeedDisabled(String),
    /// 90008: the sending or reporting account is not imported.
    #[error("{0}")]
    SenderNotFound(String),
    /// 90003: the receiving or peer account is not imported.
    #[error("{0}")]
    PeerNotFound(String),
    /// 90054: the MsgKey does not name a message of the conversation.
    #[error("{0}")]
    InvalidMsgKey(String),
    /// 20022 (openim) / 10030 (group): the message to recall does not exist.
    #[error("{0}")]
    RecallTargetNotFound(String),
    /// 40601: a profile field is longer than allowed.
    #[error("{0}")]
    FieldTooLong(String),
    /// 80002: the message body is larger than 12 KB.
    #[error("{0}")]
    MsgTooLong(String),
    /// 60007: the identifier called a command class more often than its rate limit allows.
    #[error("{0}")]
    UserRateLimited(String),
    /// 60011: the whole app called more often than its rate limit allows.
    #[error("{0}")]
    AppRateLimited(String),
    /// 10017: the sender is muted in the group.
    #[error("{0}")]
    SenderMuted(String),
    /// 10014: the group is full.
    #[error("{0}")]
    GroupFull(String),
    /// 10021: the GroupId is already in use.
    #[error("GroupId {0:?} is already in use")]
    GroupIdInUse(String),
    /// 60008: the database is unreachable, out of space or busy; nothing to fix but to retry.
    #[error("the database is unavailable or busy ({0}); the call may not have taken effect, retry it in a moment")]
    DbUnavailable(crate::db::fault::Unavailable),
    /// 10002/91000: something failed inside the server; the cause is logged, not answered.
    #[error("internal server error; retry later")]
    Internal(#[source] anyhow::Error),
}

/// The Tencent service a command belongs to; some codes differ by service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// `im_open_login_svc`
    Login,
    /// `openim`
    OpenIm,
    /// `group_open_http_svc`
    Group,
    /// `receipt_svc` and `webhook_svc` (extensions)
    Extension,
}

impl ApiError {
    /// The `ErrorCode` answered for this error by a command of `service`.
    pub fn code(&self, service: Service) -> u32 {
        match self {
            ApiError::BadQuery(_) => 60002,
            ApiError::BadJson(_) => 60003,
            ApiError::WrongAppId(_) => 60006,
            ApiError::UnknownCommand(_) => 60009,
            ApiError::AdminRequired(_) => 60010,
            ApiError::MissingAppId => 60012,
            ApiError::SigExpired(_) => 70001,
            ApiError::SigDecode(_) => 70003,
            ApiError::SigMismatch | ApiError::SigFromFuture(_) => 70009,
            ApiError::IdentifierMismatch(..) => 70013,
            ApiError::AppIdMismatch(_) => 70014,
            ApiError::AccountNotFound(_) => 70107,
            ApiError::InvalidParam(_) => match service {
                Service::Login => 70402,
                Service::OpenIm => 90001,
                Service::Group | Service::Extension => 10004,
            },
            ApiError::NoPermission(_) => 10007,
            ApiError::GroupNotFound(_) => 10010,
            ApiError::ReceiptNotFound(_) => 10062,
            ApiError::ReceiptsDisabled(_) => 19001,
            ApiError::MsgRecalled(_) => match service {
                Service::OpenIm => 20023,
                _ => 19002,
            },
            ApiError::ResumeExpired(_) => 19003,
            ApiError::FeedDisabled(_) => 19004,
            ApiError::SenderNotFound(_) => 90008,
            ApiError::PeerNotFound(_) => 90003,
            ApiError::InvalidMsgKey(_) => 90054,
            ApiError::RecallTargetNotFound(_) => match service {
                Service::OpenIm => 20022,
                _ => 10030,
            },
            ApiError::FieldTooLong(_) => 40601,
            ApiError::GroupFull(_) => 10014,
            ApiError::SenderMuted(_) => 10017,
            ApiError::MsgTooLong(_) => 80002,
            ApiError::UserRateLimited(_) => 60007,
            ApiError::AppRateLimited(_) => 60011,
            ApiError::GroupIdInUse(_) => 10021,
            ApiError::DbUnavailable(_) => 60008,
            ApiError::Internal(_) => match service {
                Service::OpenIm => 91000,
                _ => 10002,
            },
        }
    }

    /// Shorthand for an invalid-parameter error.
    pub fn invalid(msg: impl fmt::Display) -> Self {
        ApiError::InvalidParam(msg.to_string())
    }

    /// Shorthand for a permission error.
    pub fn forbidden(msg: impl fmt::Display) -> Self {
        ApiError::NoPermission(msg.to_string())
    }

    /// Whether this is, or is a database error meaning, an unavailable database (60008).
    pub fn is_db_unavailable(&self) -> bool {
        self.unavailable_reason().is_some()
    }

    /// The 60008 this error stands for, if it is one.
    fn unavailable_reason(&self) -> Option<crate::db::fault::Unavailable> {
        match self {
            ApiError::DbUnavailable(why) => Some(*why),
            ApiError::Internal(e) => e.downcast_ref::<diesel::result::Error>().and_then(crate::db::fault::classify),
            _ => None,
        }
    }

    /// This error, with a database error that means "unavailable" turned into 60008.
    pub fn classified(self) -> ApiError {
        match self.unavailable_reason() {
            Some(why) => ApiError::DbUnavailable(why),
            None => self,
        }
    }

    /// A copy to answer several callers with: 60008 stays 60008, anything else becomes an
    /// internal error with the same text.
    pub fn replicate(&self) -> ApiError {
        match self.unavailable_reason() {
            Some(why) => ApiError::DbUnavailable(why),
            None => ApiError::Internal(anyhow::anyhow!("{self}")),
        }
    }

    /// Whether the transaction that produced this error may succeed when retried
    /// (serialization failures and deadlocks).
    pub fn is_retryable_conflict(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        let ApiError::Internal(e) = self else { return false };
        match e.downcast_ref::<Error>() {
            Some(Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => true,
            // diesel has no kind for SQLSTATE 40P01; PostgreSQL's message is stable.
            Some(Error::DatabaseError(_, info)) => info.message().contains("deadlock detected"),
            _ => false,
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        // Input is checked before it reaches SQL; this is the net for a text value with U+0000
        // that slipped through (PostgreSQL cannot store it), so the caller hears which rule
        // they broke instead of "internal error".
        if let diesel::result::Error::DatabaseError(_, info) = &e {
            if info.message().contains("0x00") || info.message().contains("\\u0000") {
                return ApiError::invalid("a text value contains the NUL character (U+0000), which cannot be stored");
            }
        }
        ApiError::Internal(e.into())
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

/// Result alias used by domain functions.
pub type ApiResult<T> = Result<T, ApiError>;
