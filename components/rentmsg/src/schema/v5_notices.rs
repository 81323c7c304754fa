//! Migration 5: what the overdue scan and the outbound sender need.
//!
//! - `tenant_balances`: each tenant's balance and oldest unpaid due date,
//!   kept by triggers on `ledger_entries`, so every writer (imports, the
//!   payment webhook, anything later) updates it in the same statement and
//!   the scan reads the overdue set through a partial index instead of
//!   every tenant's ledger. Backfilled here.
//! - `outbox`: one row per notice (tenant, billing cycle, stage, channel:
//!   unique) or staff-written supplemental message, with its compliance
//!   decision, lease, send intent and provider result.
//! - `notice_schedule`, `notice_templates`, `app_settings`: the editable
//!   schedule, templates and link expiry, seeded with documented defaults.
//! - `notice_pauses`: tenants whose notices are paused (promises to pay).

use crate::schema::Migration;

/// Recompute one tenant's `tenant_balances` row from its ledger; `$t` is
/// the SQL expression naming the tenant (`NEW.tenant_id`, `OLD.tenant_id`).
/// Payments and credits cover charges oldest first (due date, posting date,
/// reference), as `ledger::summarize` does: the oldest unpaid charge is the
/// first whose running total exceeds everything paid.
macro_rules! refresh_balance {
    ($t:literal) => {
        concat!(
            "INSERT INTO tenant_balances (tenant_id, balance_cents, charges_cents, paid_cents, oldest_unpaid_due_date, last_payment_date,
                                          tenant_status, tenant_zone, property_zone, updated_at)
             SELECT ", $t, ", s.charges - s.paid, s.charges, s.paid,
                 (SELECT c.due_date FROM (
                      SELECT due_date, sum(amount_cents) OVER (ORDER BY due_date, date, reference ROWS UNBOUNDED PRECEDING) AS cum
                      FROM ledger_entries WHERE tenant_id = ", $t, " AND kind = 'charge') c
                  WHERE c.cum > s.paid ORDER BY c.cum LIMIT 1),
                 s.last_payment, t.status, t.time_zone, p.time_zone, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             FROM (SELECT coalesce(sum(CASE WHEN kind = 'charge' THEN amount_cents END), 0) AS charges,
                          coalesce(sum(CASE WHEN kind <> 'charge' THEN amount_cents END), 0) AS paid,
                          max(CASE WHEN kind = 'payment' THEN date END) AS last_payment
                   FROM ledger_entries WHERE tenant_id = ", $t, ") s
             JOIN tenants t ON t.tenant_id = ", $t, "
             LEFT JOIN properties p ON p.property_id = t.property_id
             WHERE true
             ON CONFLICT (tenant_id) DO UPDATE SET
                 balance_cents = excluded.balance_cents, charges_cents = excluded.charges_cents,
                 paid_cents = excluded.paid_cents, oldest_unpaid_due_date = excluded.oldest_unpaid_due_date,
                 last_payment_date = excluded.last_payment_date, tenant_status = excluded.tenant_status,
                 tenant_zone = excluded.tenant_zone, property_zone = excluded.property_zone, updated_at = excluded.updated_at"
        )
    };
}

/// Schema version 5.
pub const MIGRATION: Migration = Migration {
    version: 5,
    name: "notices: tenant balance summary, outbox, schedule, templates, settings, pauses",
    statements: &[
        // One row per tenant with ledger entries. oldest_unpaid_due_date:
        // due date of the oldest charge not fully covered (NULL: nothing
        // open); it is also the billing-cycle key of the notices. The
        // partial index holds only tenants who owe something, so the scan's
        // cost follows the overdue set, not the portfolio.
        // The tenant's status and the two time zones are copied in (kept by
        // triggers on tenants and properties below), so the index alone
        // answers the scan: no tenant or property row is read per tenant.
        "CREATE TABLE tenant_balances (
            tenant_id TEXT PRIMARY KEY REFERENCES tenants(tenant_id),
            balance_cents INTEGER NOT NULL,
            charges_cents INTEGER NOT NULL,
            paid_cents INTEGER NOT NULL,
            oldest_unpaid_due_date TEXT,
            last_payment_date TEXT,
            tenant_status TEXT NOT NULL,
            tenant_zone TEXT,
            property_zone TEXT,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID",
        "CREATE INDEX tenant_balances_overdue ON tenant_balances(oldest_unpaid_due_date, balance_cents, tenant_status, last_payment_date, tenant_zone, property_zone) WHERE balance_cents > 0",
        // Backfill from the ledgers already imported.
        "INSERT INTO tenant_balances (tenant_id, balance_cents, charges_cents, paid_cents, oldest_unpaid_due_date, last_payment_date,
                                      tenant_status, tenant_zone, property_zone, updated_at)
         SELECT s.tenant_id, s.charges - s.paid, s.charges, s.paid,
             (SELECT c.due_date FROM (
                  SELECT due_date, sum(amount_cents) OVER (ORDER BY due_date, date, reference ROWS UNBOUNDED PRECEDING) AS cum
                  FROM ledger_entries WHERE tenant_id = s.tenant_id AND kind = 'charge') c
              WHERE c.cum > s.paid ORDER BY c.cum LIMIT 1),
             s.last_payment, t.status, t.time_zone, p.time_zone, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         FROM (SELECT tenant_id,
                      coalesce(sum(CASE WHEN kind = 'charge' THEN amount_cents END), 0) AS charges,
                      coalesce(sum(CASE WHEN kind <> 'charge' THEN amount_cents END), 0) AS paid,
                      max(CASE WHEN kind = 'payment' THEN date END) AS last_payment
               FROM ledger_entries GROUP BY tenant_id) s
         JOIN tenants t ON t.tenant_id = s.tenant_id
         LEFT JOIN properties p ON p.property_id = t.property_id",
        // A tenant's status, zone or property and a property's zone follow
        // into the summary.
        "CREATE TRIGGER tenants_balance_copy AFTER UPDATE OF status, time_zone, property_id ON tenants BEGIN
            UPDATE tenant_balances SET tenant_status = NEW.status, tenant_zone = NEW.time_zone,
                   property_zone = (SELECT time_zone FROM properties WHERE property_id = NEW.property_id)
            WHERE tenant_id = NEW.tenant_id;
         END",
        "CREATE TRIGGER properties_balance_copy AFTER UPDATE OF time_zone ON properties BEGIN
            UPDATE tenant_balances SET property_zone = NEW.time_zone
            WHERE tenant_id IN (SELECT tenant_id FROM tenants WHERE property_id = NEW.property_id);
         END",
        // Every ledger write keeps the summary right in the same statement.
        concat!("CREATE TRIGGER ledger_entries_balance_insert AFTER INSERT ON ledger_entries BEGIN ", refresh_balance!("NEW.tenant_id"), "; END"),
        concat!("CREATE TRIGGER ledger_entries_balance_update AFTER UPDATE ON ledger_entries BEGIN ", refresh_balance!("NEW.tenant_id"), "; END"),
        concat!(
            "CREATE TRIGGER ledger_entries_balance_update_old AFTER UPDATE OF tenant_id ON ledger_entries WHEN OLD.tenant_id <> NEW.tenant_id BEGIN ",
            refresh_balance!("OLD.tenant_id"),
            "; END"
        ),
        concat!("CREATE TRIGGER ledger_entries_balance_delete AFTER DELETE ON ledger_entries BEGIN ", refresh_balance!("OLD.tenant_id"), "; END"),
        // The outbox. kind notice: cycle (oldest unpaid due date, plus the
        // payment date when the schedule resets after payments) and stage
        // set, at most one row per tenant, cycle, stage and channel (a
        // re-run or an overlapping run queues nothing twice). kind
        // supplemental: a staff-written one-off (custom_subject/body).
        // States: pending (inserted, compliance not yet asked), queued
        // (allowed, waits for not_before), deferred (compliance or the send
        // window said later: not_before), blocked / cancelled / failed
        // (final, state_reason says why), sending (intent recorded: the
        // provider may have it), sent, unknown (intent recorded, outcome
        // never learned: never re-sent automatically).
        // Lease: lease_owner / leased_until, taken with a conditional UPDATE
        // (see outbox.rs). link_id: random, opaque; payment and unsubscribe
        // links name the row by it, never by id.
        "CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('notice', 'supplemental')),
            tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
            channel TEXT NOT NULL CHECK (channel IN ('text', 'email')),
            cycle TEXT,
            stage INTEGER,
            days_past_due INTEGER,
            address TEXT,
            state TEXT NOT NULL CHECK (state IN ('pending', 'queued', 'deferred', 'blocked', 'cancelled', 'sending', 'sent', 'failed', 'unknown')),
            state_reason TEXT,
            not_before TEXT NOT NULL,
            decision TEXT CHECK (decision IS NULL OR decision IN ('allow', 'block', 'defer')),
            reasons TEXT,
            decided_at TEXT,
            custom_subject TEXT,
            custom_body TEXT,
            link_id TEXT UNIQUE,
            subject TEXT,
            body TEXT,
            encoding TEXT,
            segments INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            lease_owner TEXT,
            leased_until TEXT,
            intent_at TEXT,
            provider_id TEXT,
            provider_status TEXT,
            contact_log_id INTEGER,
            sent_at TEXT,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            CHECK ((kind = 'notice') = (cycle IS NOT NULL AND stage IS NOT NULL)),
            CHECK (kind = 'notice' OR custom_body IS NOT NULL)
        )",
        "CREATE UNIQUE INDEX outbox_notice_key ON outbox(tenant_id, cycle, stage, channel) WHERE kind = 'notice'",
        "CREATE INDEX outbox_due ON outbox(not_before, id) WHERE state IN ('queued', 'deferred')",
        "CREATE INDEX outbox_pending ON outbox(id) WHERE state = 'pending'",
        "CREATE INDEX outbox_sending ON outbox(leased_until) WHERE state = 'sending'",
        "CREATE INDEX outbox_tenant ON outbox(tenant_id, id)",
        "CREATE INDEX outbox_state ON outbox(state, id)",
        "CREATE INDEX outbox_provider ON outbox(provider_id) WHERE provider_id IS NOT NULL",
        // A payment that settles the balance cancels the tenant's notices
        // not yet handed to a provider, in the same statement as the payment.
        "CREATE TRIGGER tenant_balances_settled AFTER UPDATE OF balance_cents ON tenant_balances
         WHEN NEW.balance_cents <= 0 AND OLD.balance_cents > 0
         BEGIN
            UPDATE outbox SET state = 'cancelled', state_reason = 'balance settled by a payment or credit',
                   lease_owner = NULL, leased_until = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
            WHERE tenant_id = NEW.tenant_id AND kind = 'notice' AND state IN ('pending', 'queued', 'deferred');
         END",
        // The notice schedule (one row, JSON spec; see schedule.rs for the
        // fields and defaults).
        "CREATE TABLE notice_schedule (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            spec TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        "INSERT INTO notice_schedule (id, spec, updated_by, updated_at) VALUES (1,
            '{\"enabled\":true,\"stages\":[{\"stage\":1,\"days_past_due\":1,\"channels\":[\"text\",\"email\"]},{\"stage\":2,\"days_past_due\":5,\"channels\":[\"text\",\"email\"]},{\"stage\":3,\"days_past_due\":10,\"channels\":[\"text\",\"email\"]},{\"stage\":4,\"days_past_due\":15,\"channels\":[\"text\",\"email\"]},{\"stage\":5,\"days_past_due\":30,\"channels\":[\"text\",\"email\"]}],\"min_balance_cents\":2500,\"send_window\":\"09:00-19:00\",\"skip_sundays\":true,\"holidays\":[],\"reset_after_any_payment\":false}',
            'system', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        // Templates per stage and channel (minijinja; see templates.rs).
        "CREATE TABLE notice_templates (
            stage INTEGER NOT NULL CHECK (stage >= 1),
            channel TEXT NOT NULL CHECK (channel IN ('text', 'email')),
            subject TEXT,
            body TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (stage, channel),
            CHECK ((channel = 'email') = (subject IS NOT NULL))
        )",
        "INSERT INTO notice_templates (stage, channel, subject, body, updated_by, updated_at)
         SELECT column1, column2, column3, column4, 'system', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM (VALUES
            (1, 'text', NULL, '{{ facility }}: {{ tenant_name }}, your balance of {{ balance }} is past due. Pay online: {{ payment_link }} {{ opt_out }}'),
            (2, 'text', NULL, '{{ facility }}: reminder, {{ tenant_name }}: {{ balance }} is {{ days_past_due }} days past due. Pay: {{ payment_link }} {{ opt_out }}'),
            (3, 'text', NULL, '{{ facility }}: {{ tenant_name }}, {{ balance }} is now {{ days_past_due }} days past due. Please pay: {{ payment_link }} {{ opt_out }}'),
            (4, 'text', NULL, '{{ facility }}: {{ tenant_name }}, {{ balance }} is {{ days_past_due }} days past due. Please pay today or call us: {{ payment_link }} {{ opt_out }}'),
            (5, 'text', NULL, '{{ facility }}: final notice, {{ tenant_name }}: {{ balance }} is {{ days_past_due }} days past due. Pay: {{ payment_link }} {{ opt_out }}'),
            (1, 'email', '{{ facility }}: your balance of {{ balance }} is past due',
             'Hello {{ tenant_name }},

Your balance of {{ balance }}{% if unit %} for unit {{ unit }}{% endif %} at {{ facility }} was due on {{ due_date }} and is now past due.

You can pay securely online: {{ payment_link }}

If you have already paid, thank you, and please ignore this message.

{{ opt_out }}'),
            (2, 'email', '{{ facility }}: reminder, {{ balance }} is {{ days_past_due }} days past due',
             'Hello {{ tenant_name }},

This is a reminder that your balance of {{ balance }}{% if unit %} for unit {{ unit }}{% endif %} at {{ facility }} is {{ days_past_due }} days past due.

Pay securely online: {{ payment_link }}

{{ opt_out }}'),
            (3, 'email', '{{ facility }}: {{ balance }} is {{ days_past_due }} days past due',
             'Hello {{ tenant_name }},

Your balance of {{ balance }}{% if unit %} for unit {{ unit }}{% endif %} at {{ facility }} is now {{ days_past_due }} days past due.

Please pay online: {{ payment_link }}
If you cannot pay the full amount, reply to this email or call the office.

{{ opt_out }}'),
            (4, 'email', '{{ facility }}: please pay {{ balance }} today',
             'Hello {{ tenant_name }},

Your balance of {{ balance }}{% if unit %} for unit {{ unit }}{% endif %} at {{ facility }} is {{ days_past_due }} days past due. Please pay today: {{ payment_link }}

If you cannot pay the full amount, reply to this email or call the office.

{{ opt_out }}'),
            (5, 'email', '{{ facility }}: final notice, {{ balance }} past due',
             'Hello {{ tenant_name }},

This is a final notice: your balance of {{ balance }}{% if unit %} for unit {{ unit }}{% endif %} at {{ facility }} is {{ days_past_due }} days past due.

Pay online: {{ payment_link }}

{{ opt_out }}'))",
        // Application settings staff can edit (link expiry, ...): JSON values.
        "CREATE TABLE app_settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        "INSERT INTO app_settings (key, value, updated_by, updated_at) VALUES ('link_expiry_days', '30', 'system', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        // Tenants whose automatic notices are paused until a time (a promise
        // to pay): the scan queues none for them and the sender holds theirs.
        "CREATE TABLE notice_pauses (
            tenant_id TEXT PRIMARY KEY REFERENCES tenants(tenant_id),
            paused_until TEXT NOT NULL,
            reason TEXT NOT NULL,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL
        )",
    ],
};
