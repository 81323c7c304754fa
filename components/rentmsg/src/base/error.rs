//! The library's error type.

use crate::base::db::DbError;

/// What went wrong in a domain operation. The staff API maps each variant to
/// an HTTP status (`Invalid` 400, `NotFound` 404, `Conflict` 409, `Db` 500/503).
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
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
