//! Migration 15: the overdue set counted by debt date, so the call list's
//! `total` over the whole portfolio reads one row per debt date instead of
//! every overdue tenant (about 270,000 at a large operator's size).
//!
//! `overdue_counts` holds, per oldest unpaid due date and tenant status,
//! how many `tenant_balances` rows owe something (`balance_cents > 0`).
//! Triggers on `tenant_balances` take a row's old contribution off and put
//! its new one on whenever its balance sign, debt date or status changes,
//! in the writer's own transaction (the ledger's triggers and the tenant
//! copy trigger write `tenant_balances`, so every ledger write and status
//! change reaches it); the migration fills it from the rows already there.
//! A row that owes nothing, or has no unpaid due date, is not counted.

use crate::schema::Migration;

/// Migration 15.
pub const MIGRATION: Migration = Migration {
    version: 15,
    name: "overdue tenants counted by debt date and status",
    statements: &[
        "CREATE TABLE overdue_counts (
            debt_date TEXT NOT NULL,
            tenant_status TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (debt_date, tenant_status)
        ) WITHOUT ROWID",
        "INSERT INTO overdue_counts (debt_date, tenant_status, n)
         SELECT oldest_unpaid_due_date, tenant_status, count(*) FROM tenant_balances
         WHERE balance_cents > 0 AND oldest_unpaid_due_date IS NOT NULL
         GROUP BY oldest_unpaid_due_date, tenant_status",
        "CREATE TRIGGER overdue_counts_insert AFTER INSERT ON tenant_balances
         WHEN NEW.balance_cents > 0 AND NEW.oldest_unpaid_due_date IS NOT NULL BEGIN
            INSERT INTO overdue_counts (debt_date, tenant_status, n) VALUES (NEW.oldest_unpaid_due_date, NEW.tenant_status, 1)
            ON CONFLICT (debt_date, tenant_status) DO UPDATE SET n = n + 1;
         END",
        "CREATE TRIGGER overdue_counts_update AFTER UPDATE OF balance_cents, oldest_unpaid_due_date, tenant_status ON tenant_balances
         WHEN (OLD.balance_cents > 0) <> (NEW.balance_cents > 0)
           OR OLD.oldest_unpaid_due_date IS NOT NEW.oldest_unpaid_due_date
           OR OLD.tenant_status <> NEW.tenant_status BEGIN
            UPDATE overdue_counts SET n = n - 1
            WHERE OLD.balance_cents > 0 AND debt_date = OLD.oldest_unpaid_due_date AND tenant_status = OLD.tenant_status;
            INSERT INTO overdue_counts (debt_date, tenant_status, n)
            SELECT NEW.oldest_unpaid_due_date, NEW.tenant_status, 1
            WHERE NEW.balance_cents > 0 AND NEW.oldest_unpaid_due_date IS NOT NULL
            ON CONFLICT (debt_date, tenant_status) DO UPDATE SET n = n + 1;
            DELETE FROM overdue_counts WHERE n = 0 AND debt_date = OLD.oldest_unpaid_due_date AND tenant_status = OLD.tenant_status;
         END",
        "CREATE TRIGGER overdue_counts_delete AFTER DELETE ON tenant_balances
         WHEN OLD.balance_cents > 0 AND OLD.oldest_unpaid_due_date IS NOT NULL BEGIN
            UPDATE overdue_counts SET n = n - 1 WHERE debt_date = OLD.oldest_unpaid_due_date AND tenant_status = OLD.tenant_status;
            DELETE FROM overdue_counts WHERE n = 0 AND debt_date = OLD.oldest_unpaid_due_date AND tenant_status = OLD.tenant_status;
         END",
    ],
};
