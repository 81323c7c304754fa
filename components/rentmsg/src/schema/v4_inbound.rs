//! Migration 4: inbound SMS: keyword lists, inbound messages and the staff
//! inbox, status callbacks, number states, the per-property HELP contact.

use crate::schema::Migration;

/// Schema version 4.
pub const MIGRATION: Migration = Migration {
    version: 4,
    name: "inbound SMS: keyword lists, inbound messages and staff inbox, status callbacks, number states",
    statements: &[
        // Reply keywords (whole message, normalised: upper case, single
        // spaces, no surrounding punctuation). Data, editable through the
        // staff API; seeded with the carrier / CTIA defaults, which include
        // the per-se revocation words of 47 CFR 64.1200(a)(10).
        "CREATE TABLE sms_keywords (
            keyword TEXT PRIMARY KEY,
            action TEXT NOT NULL CHECK (action IN ('opt_out', 'opt_in', 'help')),
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        "INSERT INTO sms_keywords (keyword, action, updated_by, updated_at)
         SELECT column1, column2, 'system', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM (VALUES
            ('STOP', 'opt_out'), ('STOPALL', 'opt_out'), ('UNSUBSCRIBE', 'opt_out'), ('CANCEL', 'opt_out'),
            ('END', 'opt_out'), ('QUIT', 'opt_out'), ('REVOKE', 'opt_out'), ('OPTOUT', 'opt_out'),
            ('OPT OUT', 'opt_out'),
            ('START', 'opt_in'), ('YES', 'opt_in'), ('UNSTOP', 'opt_in'),
            ('HELP', 'help'), ('INFO', 'help'))",
        // Every inbound message, once per provider MessageSid (retries and
        // duplicates find their row and change nothing). kind: what the
        // message was taken as; effect: what it did. tenant_ids: JSON array
        // of the tenants that had the sending number when it arrived (empty:
        // unknown number, the unmatched inbox). Free text (in_inbox = 1) is
        // the staff inbox, marked read / handled by staff.
        "CREATE TABLE inbound_messages (
            id INTEGER PRIMARY KEY,
            message_sid TEXT NOT NULL UNIQUE,
            from_address TEXT NOT NULL,
            to_address TEXT NOT NULL,
            body TEXT NOT NULL,
            num_media INTEGER NOT NULL DEFAULT 0,
            kind TEXT NOT NULL CHECK (kind IN ('opt_out', 'opt_in', 'help', 'text')),
            keyword TEXT,
            provider_opt_out_type TEXT,
            effect TEXT NOT NULL,
            tenant_ids TEXT NOT NULL,
            reply TEXT,
            received_at TEXT NOT NULL,
            in_inbox INTEGER NOT NULL CHECK (in_inbox IN (0, 1)),
            read_at TEXT,
            read_by TEXT,
            handled_at TEXT,
            handled_by TEXT
        )",
        "CREATE INDEX inbound_messages_inbox ON inbound_messages(handled_at, id) WHERE in_inbox = 1",
        // Delivery status callbacks, once per (MessageSid, status, error
        // code): a retried callback finds its row and changes nothing.
        // error_code is '' when the provider sent none.
        "CREATE TABLE sms_status_events (
            id INTEGER PRIMARY KEY,
            message_sid TEXT NOT NULL,
            status TEXT NOT NULL,
            error_code TEXT NOT NULL,
            to_address TEXT,
            applied INTEGER NOT NULL CHECK (applied IN (0, 1)),
            effect TEXT,
            received_at TEXT NOT NULL,
            UNIQUE (message_sid, status, error_code)
        )",
        // Numbers the carrier reported unusable for texting (invalid,
        // unknown, landline, unreachable). No texts go to them; a later
        // delivered status for the number lifts the state.
        "CREATE TABLE sms_number_states (
            address TEXT PRIMARY KEY,
            state TEXT NOT NULL CHECK (state IN ('invalid')),
            error_code TEXT NOT NULL,
            message_sid TEXT,
            set_at TEXT NOT NULL
        )",
        // Per-property contact named in HELP replies (default: the texting number).
        "CREATE TABLE property_sms_help (
            property_id TEXT PRIMARY KEY REFERENCES properties(property_id),
            contact TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
    ],
};
