//! The library's error type.

use crate::base::db::DbError;

/// What went wrong in a domain operation, one variant per cause, so that
/// whoever turns it into an HTTP answer ([`Error::http_status`], the staff
/// API) can tell a caller's mistake from a dependency that is down.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The caller's input is wrong; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The change is not allowed in the current state (e.g. editing a
    /// customer's own STOP exclusion).
    #[error("{0}")]
    Conflict(String),
    /// Stored data does not have the shape this code expects.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// Compliance could not decide (its facts unreadable, its component
    /// unreachable): nobody may be contacted until it can.
    #[error("compliance unavailable: {0}")]
    ComplianceUnavailable(String),
    /// The shared send budget (the key-value store pacing every sender)
    /// could not be claimed.
    #[error("send budget store unavailable: {0}")]
    BudgetUnavailable(String),
    /// The platform's secure random source failed (link ids, lease owners).
    #[error("random source unavailable: {0}")]
    RandomUnavailable(String),
    /// A link could not be signed: a missing key or a malformed link id, a
    /// fault of ours or of the configuration, never of the caller.
    #[error("cannot sign links: {0}")]
    LinkSigning(String),
}

impl Error {
    /// The HTTP status this error answers with: 400 / 404 / 409 for the
    /// caller's mistakes, 503 when a dependency is down or busy (try again
    /// later), 500 for our own faults.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Invalid(_) => 400,
            Error::NotFound(_) => 404,
            Error::Conflict(_) => 409,
            Error::Db(DbError::Busy(_) | DbError::Unavailable(_))
            | Error::ComplianceUnavailable(_)
            | Error::BudgetUnavailable(_)
            | Error::RandomUnavailable(_) => 503,
            Error::Db(_) | Error::Corrupt(_) | Error::LinkSigning(_) => 500,
        }
    }
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(Error::Invalid("x".into()).http_status(), 400);
        assert_eq!(Error::Db(DbError::Busy("x".into())).http_status(), 503);
        assert_eq!(Error::Db(DbError::Sql("x".into())).http_status(), 500);
        for unavailable in [Error::ComplianceUnavailable("x".into()), Error::BudgetUnavailable("x".into()), Error::RandomUnavailable("x".into())] {
            assert_eq!(unavailable.http_status(), 503, "{unavailable}");
        }
        assert_eq!(Error::LinkSigning("x".into()).http_status(), 500);
        assert_eq!(Error::Corrupt("x".into()).http_status(), 500);
    }
}
