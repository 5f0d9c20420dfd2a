//! What a console request that fails answers: a page that says what went wrong and what to do,
//! or a redirect to the sign-in page.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use crate::error::{ApiError, Service};

/// A failed console request.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No valid session: go to the sign-in page, then back to `next`.
    #[error("sign in to continue")]
    SignIn {
        /// Where to return after signing in (a console path).
        next: String,
    },
    /// The form's CSRF token does not match the session's.
    #[error(
        "this form's security token does not match your session (a forged request, or a page from an earlier sign-in); reload the page and try again"
    )]
    Csrf,
    /// A form field or query parameter is wrong.
    #[error("{0}")]
    BadInput(String),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// An error of the domain layer.
    #[error("{0}")]
    Api(#[from] ApiError),
}

impl ConsoleError {
    /// Shorthand for a bad-input error.
    pub fn bad(msg: impl std::fmt::Display) -> Self {
        ConsoleError::BadInput(msg.to_string())
    }
}

impl ConsoleError {
    /// A lookup's error as the console shows it: the store answers a missing endpoint or
    /// delivery with 10004 (invalid parameter), which here is a 404 page.
    pub fn missing_record(e: ApiError) -> ConsoleError {
        match e {
            ApiError::InvalidParam(m) => ConsoleError::NotFound(m),
            other => other.into(),
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn { .. } => StatusCode::SEE_OTHER,
            ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::BadInput(_) => StatusCode::BAD_REQUEST,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::Api(e) => match e {
                ApiError::DbUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                ApiError::GroupNotFound(_) | ApiError::ReceiptNotFound(_) => StatusCode::NOT_FOUND,
                ApiError::NoPermission(_) | ApiError::AdminRequired(_) => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ConsoleError::SignIn { next } = self {
            let to = format!(
                "/console/sign-in?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish();
        }
        if let ConsoleError::Api(ApiError::Internal(cause)) = self {
            tracing::error!(error = ?cause, "console: internal error");
        }
        let status = self.status_code();
        let detail = match self {
            // Domain errors carry their REST code too: operators can look it up.
            ConsoleError::Api(e) => format!("{e} (ErrorCode {})", e.code(Service::Extension)),
            other => other.to_string(),
        };
        super::layout::bare(status, "Something went wrong", super::layout::error_box(&detail))
    }
}
