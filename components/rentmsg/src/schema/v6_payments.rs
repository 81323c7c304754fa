//! Migration 6: what payment links, the payment webhook and promises to pay
//! need.
//!
//! - `promises`: promises to pay (from the payment page or a staff call):
//!   amount (NULL = the whole balance at the time), promised date, the
//!   moment it falls due (end of that date in the tenant's zone), the
//!   balance and paid-to-date when made (so "paid since" is a subtraction
//!   from `tenant_balances.paid_cents`), status active / kept / broken /
//!   replaced. At most one active promise per tenant.
//! - `payment_events`: every webhook event processed, once per provider
//!   event id (a retried or duplicated event finds its row and does nothing).
//! - `checkout_sessions`: checkout sessions created from payment links.
//! - `link_opens`: each payment-link open (time and a keyed hash of the
//!   client address, never the address itself).
//! - `app_settings.promise_horizon_days` (default 14).

use crate::schema::Migration;

/// Migration 6.
pub const MIGRATION: Migration = Migration {
    version: 6,
    name: "payment links: promises to pay, payment events, checkout sessions, link opens",
    statements: &[
        "CREATE TABLE promises (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
            amount_cents INTEGER CHECK (amount_cents IS NULL OR amount_cents > 0),
            promised_date TEXT NOT NULL,
            due_at TEXT NOT NULL,
            balance_cents INTEGER NOT NULL,
            paid_base_cents INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('active', 'kept', 'broken', 'replaced')),
            source TEXT NOT NULL CHECK (source IN ('link', 'call')),
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            resolved_at TEXT
        )",
        "CREATE INDEX promises_tenant ON promises(tenant_id, id)",
        "CREATE UNIQUE INDEX promises_one_active ON promises(tenant_id) WHERE status = 'active'",
        "CREATE TABLE payment_events (
            event_id TEXT PRIMARY KEY,
            event_type TEXT NOT NULL,
            tenant_id TEXT,
            session_id TEXT,
            amount_cents INTEGER,
            effect TEXT NOT NULL,
            received_at TEXT NOT NULL
        )",
        "CREATE TABLE checkout_sessions (
            session_id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
            outbox_id INTEGER NOT NULL,
            amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
            idempotency_key TEXT NOT NULL,
            url TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'paid')),
            created_at TEXT NOT NULL,
            paid_at TEXT
        )",
        "CREATE INDEX checkout_sessions_tenant ON checkout_sessions(tenant_id, created_at)",
        "CREATE TABLE link_opens (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
            outbox_id INTEGER NOT NULL,
            opened_at TEXT NOT NULL,
            client_hash TEXT
        )",
        "CREATE INDEX link_opens_tenant ON link_opens(tenant_id, id)",
        "CREATE INDEX link_opens_outbox ON link_opens(outbox_id, opened_at)",
        "INSERT INTO app_settings (key, value, updated_by, updated_at) VALUES ('promise_horizon_days', '14', 'system', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
         ON CONFLICT (key) DO NOTHING",
    ],
};
