//! Migration 14: the call list's order as an index. The list runs oldest
//! debt first, then the largest balance, then tenant id; with this index a
//! page (the first, or the one after a cursor) reads its own rows in order
//! instead of sorting every overdue tenant. (The balance is negated so the
//! three keys ascend together and a cursor's row value can seek.)

use crate::schema::Migration;

/// Migration 14.
pub const MIGRATION: Migration = Migration {
    version: 14,
    name: "call list order index",
    statements: &["CREATE INDEX tenant_balances_call_order ON tenant_balances(oldest_unpaid_due_date, -balance_cents, tenant_id) WHERE balance_cents > 0"],
};
