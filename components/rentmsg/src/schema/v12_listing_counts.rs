//! Migration 12: counters behind the staff listings' totals, so a page of
//! the inbox or the outbox does not count every row of a table that grows
//! by millions a year.
//!
//! - `inbox_counts`: inbox messages (`in_inbox = 1`) per combination of
//!   handled, matched to a tenant, and unread; the inbox's `total`,
//!   `unread` and `open` add up the matching rows.
//! - `outbox_state_counts`: outbox rows per state (the outbox's `counts`).
//! - an index on when inbound messages arrived, so the report's replies
//!   read the range's messages rather than all of them.
//!
//! Triggers keep both in step with every insert, update and delete in the
//! writer's own transaction (as `tenant_balances` follows the ledger), so
//! no writer has to remember them; the migration fills them from the rows
//! already there.

use crate::schema::Migration;

/// Migration 12.
pub const MIGRATION: Migration = Migration {
    version: 12,
    name: "inbox and outbox counters for the staff listings, inbound messages by arrival",
    statements: &[
        "CREATE TABLE inbox_counts (
            handled INTEGER NOT NULL CHECK (handled IN (0, 1)),
            matched INTEGER NOT NULL CHECK (matched IN (0, 1)),
            unread INTEGER NOT NULL CHECK (unread IN (0, 1)),
            n INTEGER NOT NULL,
            PRIMARY KEY (handled, matched, unread)
        ) WITHOUT ROWID",
        "INSERT INTO inbox_counts (handled, matched, unread, n)
         SELECT handled_at IS NOT NULL, tenant_ids <> '[]', read_at IS NULL, count(*)
         FROM inbound_messages WHERE in_inbox = 1 GROUP BY 1, 2, 3",
        "CREATE TRIGGER inbox_counts_insert AFTER INSERT ON inbound_messages WHEN NEW.in_inbox = 1 BEGIN
            INSERT INTO inbox_counts (handled, matched, unread, n)
            VALUES (NEW.handled_at IS NOT NULL, NEW.tenant_ids <> '[]', NEW.read_at IS NULL, 1)
            ON CONFLICT (handled, matched, unread) DO UPDATE SET n = n + 1;
         END",
        "CREATE TRIGGER inbox_counts_update AFTER UPDATE OF in_inbox, handled_at, read_at, tenant_ids ON inbound_messages BEGIN
            UPDATE inbox_counts SET n = n - 1
            WHERE OLD.in_inbox = 1 AND handled = (OLD.handled_at IS NOT NULL) AND matched = (OLD.tenant_ids <> '[]') AND unread = (OLD.read_at IS NULL);
            INSERT INTO inbox_counts (handled, matched, unread, n)
            SELECT NEW.handled_at IS NOT NULL, NEW.tenant_ids <> '[]', NEW.read_at IS NULL, 1 WHERE NEW.in_inbox = 1
            ON CONFLICT (handled, matched, unread) DO UPDATE SET n = n + 1;
         END",
        "CREATE TRIGGER inbox_counts_delete AFTER DELETE ON inbound_messages WHEN OLD.in_inbox = 1 BEGIN
            UPDATE inbox_counts SET n = n - 1
            WHERE handled = (OLD.handled_at IS NOT NULL) AND matched = (OLD.tenant_ids <> '[]') AND unread = (OLD.read_at IS NULL);
         END",
        "CREATE TABLE outbox_state_counts (
            state TEXT PRIMARY KEY,
            n INTEGER NOT NULL
        ) WITHOUT ROWID",
        "INSERT INTO outbox_state_counts (state, n) SELECT state, count(*) FROM outbox GROUP BY state",
        "CREATE TRIGGER outbox_state_counts_insert AFTER INSERT ON outbox BEGIN
            INSERT INTO outbox_state_counts (state, n) VALUES (NEW.state, 1)
            ON CONFLICT (state) DO UPDATE SET n = n + 1;
         END",
        "CREATE TRIGGER outbox_state_counts_update AFTER UPDATE OF state ON outbox WHEN OLD.state IS NOT NEW.state BEGIN
            UPDATE outbox_state_counts SET n = n - 1 WHERE state = OLD.state;
            INSERT INTO outbox_state_counts (state, n) VALUES (NEW.state, 1)
            ON CONFLICT (state) DO UPDATE SET n = n + 1;
         END",
        "CREATE TRIGGER outbox_state_counts_delete AFTER DELETE ON outbox BEGIN
            UPDATE outbox_state_counts SET n = n - 1 WHERE state = OLD.state;
         END",
        "CREATE INDEX inbound_messages_received ON inbound_messages(received_at)",
    ],
};
