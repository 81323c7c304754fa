//! A failed staff API request and how each library error maps to a status:
//! bad input 400, unknown record 404, a conflicting change 409, a busy or
//! unavailable database 503 (retry), anything else 500 with the detail kept
//! for the log only.

use crate::base::db::DbError;
use crate::base::error::Error;
use crate::base::form::FormError;
use crate::base::http::Response;
use crate::compliance::CheckError;
use crate::import::ImportError;

/// A failed request: the status and message the client gets, and what the
/// component logs.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Client-facing message, sent as `{"error": message}`.
    pub message: String,
    /// Internal detail for the log (5xx only); never sent.
    pub diagnostic: Option<String>,
}

impl ApiError {
    pub(super) fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), diagnostic: None }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// A body that is JSON but not the documented object.
    pub(super) fn invalid_json(e: serde_json::Error) -> Self {
        Self::bad_request(format!("invalid JSON body: {e}"))
    }

    pub(super) fn into_response(self) -> Response {
        let mut r = Response::error(self.status, self.message);
        r.diagnostic = self.diagnostic;
        r
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        Error::Db(e).into()
    }
}

impl From<Error> for ApiError {
    /// The status is the error's own ([`Error::http_status`]); the message
    /// tells a client what to do without leaking internals, which go to the
    /// diagnostic (logged, never sent).
    fn from(e: Error) -> Self {
        let status = e.http_status();
        match e {
            Error::Invalid(m) | Error::NotFound(m) | Error::Conflict(m) => ApiError::new(status, m),
            Error::Db(DbError::Busy(d)) => ApiError { status, message: "the database is busy; try again".into(), diagnostic: Some(d) },
            Error::Db(DbError::Unavailable(d)) => ApiError { status, message: "the database is unavailable".into(), diagnostic: Some(d) },
            other if status == 503 => {
                ApiError { status, message: "a service this needs is unavailable; try again".into(), diagnostic: Some(other.to_string()) }
            }
            other => ApiError { status, message: "internal error".into(), diagnostic: Some(other.to_string()) },
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Store(inner) => inner.into(),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

impl From<CheckError> for ApiError {
    fn from(e: CheckError) -> Self {
        match e {
            CheckError::UnknownTenant(m) => ApiError::new(404, m),
            CheckError::Invalid(m) => ApiError::bad_request(m),
            CheckError::Unavailable(d) => ApiError {
                status: 503,
                message: "compliance decisions are unavailable; do not contact".into(),
                diagnostic: Some(d),
            },
        }
    }
}

/// A path or query that does not percent-decode.
impl From<FormError> for ApiError {
    fn from(e: FormError) -> Self {
        match e {
            FormError::NotUtf8 => ApiError::bad_request("the URL does not decode to UTF-8"),
            _ => ApiError::bad_request("malformed percent-encoding in the URL"),
        }
    }
}

impl From<crate::staff::accounts::AccountError> for ApiError {
    fn from(e: crate::staff::accounts::AccountError) -> Self {
        use crate::staff::accounts::AccountError as A;
        match e {
            A::Db(d) => d.into(),
            A::Audit(inner) => inner.into(),
            A::Invalid(m) => ApiError::bad_request(m),
            e @ A::WeakPassword => ApiError::bad_request(e.to_string()),
            e @ A::DuplicateUsername(_) => ApiError::new(409, e.to_string()),
            e @ A::NotFound(_) => ApiError::new(404, e.to_string()),
            e @ A::Random(_) => ApiError { status: 503, message: "a service this needs is unavailable; try again".into(), diagnostic: Some(e.to_string()) },
            e @ (A::Hashing(_) | A::Corrupt(_)) => ApiError { status: 500, message: "internal error".into(), diagnostic: Some(e.to_string()) },
        }
    }
}
