//! `POST /api/import/{properties,tenants,ledger}`: a UTF-8 `text/csv` body
//! in, the row-by-row report out (created, updated, unchanged, rejected
//! with line numbers). A whole-file problem (encoding, header) is a 400
//! and writes nothing.

use super::input::require_csv;
use super::{ApiError, Call};
use crate::base::http::Response;
use crate::import::{self, ImportKind};

fn run(call: &Call<'_>, kind: ImportKind) -> Result<Response, ApiError> {
    require_csv(call)?;
    let report = import::import(call.db(), kind, &call.req.body, &call.actor, call.ctx.now)?;
    Ok(Response::json(200, &report))
}

/// `POST /api/import/properties`
pub(super) fn properties(call: &Call<'_>) -> Result<Response, ApiError> {
    run(call, ImportKind::Properties)
}

/// `POST /api/import/tenants`
pub(super) fn tenants(call: &Call<'_>) -> Result<Response, ApiError> {
    run(call, ImportKind::Tenants)
}

/// `POST /api/import/ledger`
pub(super) fn ledger(call: &Call<'_>) -> Result<Response, ApiError> {
    run(call, ImportKind::Ledger)
}
