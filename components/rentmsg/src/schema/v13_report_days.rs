//! Migration 13: the report's figures kept per day by the writers, so a
//! month's report reads one row per property and day instead of every
//! message, contact and payment of the month (over a million rows a month
//! at a large operator's size).
//!
//! - `report_days`: per UTC day (the ledger's date for payments), property
//!   and tenant language, every count of the report. Language `*` rows
//!   hold the replies and opt-outs once per property: one message from an
//!   address shared by tenants of two languages counts once in the
//!   property's figure and once under each language.
//! - `report_day_blocks`: blocked messages per rule, on the same key.
//!
//! Triggers on the source tables keep both in the writer's own
//! transaction, as `tenant_balances` follows the ledger. Each event counts
//! under the property and language its tenant has when the event is
//! recorded; a tenant who moves later leaves their history where it
//! happened. A payment counts "after notice" as soon as a message to the
//! tenant was sent in the 30 days up to its date, whichever of the two is
//! written first. The migration fills both tables from the rows already
//! there (under each tenant's current property, the only one known).
//!
//! The report no longer reads inbound messages by arrival, so the index
//! migration 12 added for it goes: every inbound message paid for it.

use crate::schema::Migration;

/// The report language of the tenant row `$t`: their own, else their
/// property's (French in Quebec, else English).
macro_rules! language_of {
    ($t:literal) => {
        concat!(
            "coalesce(", $t, ".language, (SELECT CASE WHEN upper(lp.state) = 'QC' AND (lp.country IS NULL OR upper(lp.country) = 'CA') THEN 'fr' ELSE 'en' END
              FROM properties lp WHERE lp.property_id = ", $t, ".property_id), 'en')"
        )
    };
}

/// Add `$amount` to column `$col` of day `$day` under tenant `$tenant`'s
/// property and language, when `$when` holds.
macro_rules! bump {
    ($day:expr, $tenant:expr, $col:literal, $amount:expr, $when:expr) => {
        concat!(
            "INSERT INTO report_days (day, property_id, language, ", $col, ")
             SELECT substr(", $day, ", 1, 10), t.property_id, ", language_of!("t"), ", ", $amount, "
             FROM tenants t WHERE t.tenant_id = ", $tenant, " AND (", $when, ")
             ON CONFLICT (day, property_id, language) DO UPDATE SET ", $col, " = ", $col, " + excluded.", $col, ";\n"
        )
    };
}

/// Add `$sign` times outbox row `$o`'s reasons to the blocked-per-rule
/// counts, when the row is blocked.
macro_rules! bump_blocks {
    ($o:literal, $sign:literal) => {
        concat!(
            "INSERT INTO report_day_blocks (day, property_id, language, rule, n)
             SELECT substr(", $o, ".decided_at, 1, 10), t.property_id, ", language_of!("t"), ", coalesce(json_extract(r.value, '$.rule'), 'unknown'), ", $sign, " * count(*)
             FROM tenants t, json_each(CASE WHEN json_valid(", $o, ".reasons) THEN ", $o, ".reasons ELSE '[]' END) r
             WHERE t.tenant_id = ", $o, ".tenant_id AND ", $o, ".state = 'blocked' AND ", $o, ".decided_at IS NOT NULL
             GROUP BY 4
             ON CONFLICT (day, property_id, language, rule) DO UPDATE SET n = n + excluded.n;\n"
        )
    };
}

/// Whether ledger row `$l` is a payment made within 30 days after a
/// message was sent to its tenant.
macro_rules! after_notice {
    ($l:literal) => {
        concat!(
            $l, ".kind = 'payment' AND EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = ", $l, ".tenant_id AND o.sent_at IS NOT NULL
                AND substr(o.sent_at, 1, 10) <= ", $l, ".date AND substr(o.sent_at, 1, 10) >= date(", $l, ".date, '-30 days'))"
        )
    };
}

/// Add `$sign` times ledger row `$l` to the payments after notice, when it
/// is one.
macro_rules! bump_payment {
    ($l:literal, $sign:literal) => {
        concat!(
            "INSERT INTO report_days (day, property_id, language, payments, payment_cents)
             SELECT ", $l, ".date, t.property_id, ", language_of!("t"), ", ", $sign, ", ", $sign, " * ", $l, ".amount_cents
             FROM tenants t WHERE t.tenant_id = ", $l, ".tenant_id AND ", after_notice!($l), "
             ON CONFLICT (day, property_id, language) DO UPDATE SET payments = payments + excluded.payments, payment_cents = payment_cents + excluded.payment_cents;\n"
        )
    };
}

/// Add `$sign` times the payments that outbox row `$o`'s send alone puts
/// within 30 days after a message (those no other sent message covers).
macro_rules! bump_covered_payments {
    ($o:literal, $sign:literal) => {
        concat!(
            "INSERT INTO report_days (day, property_id, language, payments, payment_cents)
             SELECT l.date, t.property_id, ", language_of!("t"), ", ", $sign, " * count(*), ", $sign, " * sum(l.amount_cents)
             FROM ledger_entries l JOIN tenants t ON t.tenant_id = l.tenant_id
             WHERE ", $o, ".sent_at IS NOT NULL AND l.tenant_id = ", $o, ".tenant_id AND l.kind = 'payment'
               AND l.date >= substr(", $o, ".sent_at, 1, 10) AND l.date <= date(substr(", $o, ".sent_at, 1, 10), '+30 days')
               AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.tenant_id = l.tenant_id AND x.id <> ", $o, ".id AND x.sent_at IS NOT NULL
                               AND substr(x.sent_at, 1, 10) <= l.date AND substr(x.sent_at, 1, 10) >= date(l.date, '-30 days'))
             GROUP BY l.date
             ON CONFLICT (day, property_id, language) DO UPDATE SET payments = payments + excluded.payments, payment_cents = payment_cents + excluded.payment_cents;\n"
        )
    };
}

/// Every figure outbox row `$o` contributes, times `$sign`.
macro_rules! outbox_figures {
    ($o:literal, $sign:literal) => {
        concat!(
            bump!(concat!($o, ".created_at"), concat!($o, ".tenant_id"), "queued", $sign, "true"),
            bump!(concat!($o, ".sent_at"), concat!($o, ".tenant_id"), "sent", $sign, concat!($o, ".sent_at IS NOT NULL")),
            bump!(
                concat!($o, ".sent_at"),
                concat!($o, ".tenant_id"),
                "delivered",
                $sign,
                concat!($o, ".sent_at IS NOT NULL AND EXISTS (SELECT 1 FROM contact_log cl WHERE cl.id = ", $o, ".contact_log_id AND cl.status = 'delivered')")
            ),
            bump!(concat!($o, ".decided_at"), concat!($o, ".tenant_id"), "blocked", $sign, concat!($o, ".state = 'blocked' AND ", $o, ".decided_at IS NOT NULL")),
            bump_blocks!($o, $sign),
            bump!(concat!($o, ".updated_at"), concat!($o, ".tenant_id"), "failed", $sign, concat!($o, ".state = 'failed'")),
        )
    };
}

/// Migration 13.
pub const MIGRATION: Migration = Migration {
    version: 13,
    name: "report figures per day, kept by triggers",
    statements: &[
        "CREATE TABLE report_days (
            day TEXT NOT NULL,
            property_id TEXT NOT NULL,
            language TEXT NOT NULL,
            queued INTEGER NOT NULL DEFAULT 0,
            sent INTEGER NOT NULL DEFAULT 0,
            delivered INTEGER NOT NULL DEFAULT 0,
            blocked INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            replies INTEGER NOT NULL DEFAULT 0,
            opt_outs INTEGER NOT NULL DEFAULT 0,
            links_opened INTEGER NOT NULL DEFAULT 0,
            promises INTEGER NOT NULL DEFAULT 0,
            promises_kept INTEGER NOT NULL DEFAULT 0,
            promises_broken INTEGER NOT NULL DEFAULT 0,
            payments INTEGER NOT NULL DEFAULT 0,
            payment_cents INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, property_id, language)
        ) WITHOUT ROWID",
        "CREATE INDEX report_days_property ON report_days(property_id, day)",
        "CREATE TABLE report_day_blocks (
            day TEXT NOT NULL,
            property_id TEXT NOT NULL,
            language TEXT NOT NULL,
            rule TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (day, property_id, language, rule)
        ) WITHOUT ROWID",
        "CREATE INDEX report_day_blocks_property ON report_day_blocks(property_id, day)",
        // A delivery receipt finds its message by the contact-log row.
        "CREATE INDEX outbox_contact_log ON outbox(contact_log_id) WHERE contact_log_id IS NOT NULL",
        "DROP INDEX IF EXISTS inbound_messages_received",
        // Outbox: queued when created; sent and delivered on the day it was
        // sent; blocked on the day decided; failed on the day it failed.
        concat!("CREATE TRIGGER report_outbox_insert AFTER INSERT ON outbox BEGIN\n", outbox_figures!("NEW", "1"), bump_covered_payments!("NEW", "1"), "END"),
        // Any change that moves a figure takes the row's old figures off and
        // puts its new ones on.
        concat!(
            "CREATE TRIGGER report_outbox_update AFTER UPDATE OF tenant_id, created_at, state, sent_at, contact_log_id, decided_at, reasons, updated_at ON outbox
             WHEN OLD.tenant_id IS NOT NEW.tenant_id OR OLD.created_at IS NOT NEW.created_at OR OLD.sent_at IS NOT NEW.sent_at
               OR OLD.contact_log_id IS NOT NEW.contact_log_id
               OR ((OLD.state = 'blocked' OR NEW.state = 'blocked') AND (OLD.state IS NOT NEW.state OR OLD.decided_at IS NOT NEW.decided_at OR OLD.reasons IS NOT NEW.reasons))
               OR ((OLD.state = 'failed' OR NEW.state = 'failed') AND (OLD.state IS NOT NEW.state OR OLD.updated_at IS NOT NEW.updated_at)) BEGIN\n",
            outbox_figures!("OLD", "-1"),
            outbox_figures!("NEW", "1"),
            bump_covered_payments!("OLD", "-1"),
            bump_covered_payments!("NEW", "1"),
            "END"
        ),
        concat!("CREATE TRIGGER report_outbox_delete AFTER DELETE ON outbox BEGIN\n", outbox_figures!("OLD", "-1"), bump_covered_payments!("OLD", "-1"), "END"),
        // A delivery receipt (or its reversal) after the message was sent.
        concat!(
            "CREATE TRIGGER report_delivery AFTER UPDATE OF status ON contact_log
             WHEN (OLD.status = 'delivered') IS NOT (NEW.status = 'delivered') BEGIN
                INSERT INTO report_days (day, property_id, language, delivered)
                SELECT substr(o.sent_at, 1, 10), t.property_id, ", language_of!("t"), ", CASE WHEN NEW.status = 'delivered' THEN 1 ELSE -1 END
                FROM outbox o JOIN tenants t ON t.tenant_id = o.tenant_id
                WHERE o.contact_log_id = NEW.id AND o.sent_at IS NOT NULL
                ON CONFLICT (day, property_id, language) DO UPDATE SET delivered = delivered + excluded.delivered;
             END"
        ),
        // Payments, on their ledger date, when a message went out in the 30
        // days before (or later: see the outbox triggers).
        concat!("CREATE TRIGGER report_payment_insert AFTER INSERT ON ledger_entries WHEN NEW.kind = 'payment' BEGIN\n", bump_payment!("NEW", "1"), "END"),
        concat!(
            "CREATE TRIGGER report_payment_update AFTER UPDATE OF tenant_id, kind, date, amount_cents ON ledger_entries
             WHEN OLD.kind = 'payment' OR NEW.kind = 'payment' BEGIN\n",
            bump_payment!("OLD", "-1"),
            bump_payment!("NEW", "1"),
            "END"
        ),
        concat!("CREATE TRIGGER report_payment_delete AFTER DELETE ON ledger_entries WHEN OLD.kind = 'payment' BEGIN\n", bump_payment!("OLD", "-1"), "END"),
        // Promises: made on the day made, kept or broken on the day settled.
        concat!(
            "CREATE TRIGGER report_promise_insert AFTER INSERT ON promises BEGIN\n",
            bump!("NEW.created_at", "NEW.tenant_id", "promises", "1", "true"),
            bump!("NEW.resolved_at", "NEW.tenant_id", "promises_kept", "1", "NEW.status = 'kept' AND NEW.resolved_at IS NOT NULL"),
            bump!("NEW.resolved_at", "NEW.tenant_id", "promises_broken", "1", "NEW.status = 'broken' AND NEW.resolved_at IS NOT NULL"),
            "END"
        ),
        concat!(
            "CREATE TRIGGER report_promise_update AFTER UPDATE OF status, resolved_at ON promises
             WHEN OLD.status IS NOT NEW.status OR OLD.resolved_at IS NOT NEW.resolved_at BEGIN\n",
            bump!("OLD.resolved_at", "OLD.tenant_id", "promises_kept", "-1", "OLD.status = 'kept' AND OLD.resolved_at IS NOT NULL"),
            bump!("OLD.resolved_at", "OLD.tenant_id", "promises_broken", "-1", "OLD.status = 'broken' AND OLD.resolved_at IS NOT NULL"),
            bump!("NEW.resolved_at", "NEW.tenant_id", "promises_kept", "1", "NEW.status = 'kept' AND NEW.resolved_at IS NOT NULL"),
            bump!("NEW.resolved_at", "NEW.tenant_id", "promises_broken", "1", "NEW.status = 'broken' AND NEW.resolved_at IS NOT NULL"),
            "END"
        ),
        concat!("CREATE TRIGGER report_link_open AFTER INSERT ON link_opens BEGIN\n", bump!("NEW.opened_at", "NEW.tenant_id", "links_opened", "1", "true"), "END"),
        // Inbound messages and opt-outs are appended, never changed.
        concat!(
            "CREATE TRIGGER report_reply AFTER INSERT ON inbound_messages WHEN NEW.kind = 'text' BEGIN
                INSERT INTO report_days (day, property_id, language, replies)
                SELECT substr(NEW.received_at, 1, 10), k.property_id, k.language, 1 FROM (
                    SELECT t.property_id, ", language_of!("t"), " AS language
                    FROM json_each(CASE WHEN json_valid(NEW.tenant_ids) THEN NEW.tenant_ids ELSE '[]' END) j JOIN tenants t ON t.tenant_id = j.value
                    UNION
                    SELECT t.property_id, '*'
                    FROM json_each(CASE WHEN json_valid(NEW.tenant_ids) THEN NEW.tenant_ids ELSE '[]' END) j JOIN tenants t ON t.tenant_id = j.value
                ) k WHERE true
                ON CONFLICT (day, property_id, language) DO UPDATE SET replies = replies + excluded.replies;
             END"
        ),
        concat!(
            "CREATE TRIGGER report_opt_out AFTER INSERT ON exclusion_events WHEN NEW.kind = 'number_by_customer' AND NEW.is_on = 1 BEGIN
                INSERT INTO report_days (day, property_id, language, opt_outs)
                SELECT substr(NEW.at, 1, 10), k.property_id, k.language, 1 FROM (
                    SELECT t.property_id, ", language_of!("t"), " AS language
                    FROM contact_points cp JOIN tenants t ON t.tenant_id = cp.tenant_id WHERE cp.address = NEW.address
                    UNION
                    SELECT t.property_id, '*'
                    FROM contact_points cp JOIN tenants t ON t.tenant_id = cp.tenant_id WHERE cp.address = NEW.address
                ) k WHERE true
                ON CONFLICT (day, property_id, language) DO UPDATE SET opt_outs = opt_outs + excluded.opt_outs;
             END"
        ),
        // The rows already there.
        concat!(
            "INSERT INTO report_days (day, property_id, language, queued, sent, delivered, blocked, failed, links_opened, promises, promises_kept, promises_broken, payments, payment_cents)
             SELECT day, property_id, language, sum(queued), sum(sent), sum(delivered), sum(blocked), sum(failed), sum(links_opened), sum(promises),
                    sum(promises_kept), sum(promises_broken), sum(payments), sum(payment_cents)
             FROM (
                SELECT substr(o.created_at, 1, 10) AS day, o.tenant_id, 1 AS queued, 0 AS sent, 0 AS delivered, 0 AS blocked, 0 AS failed, 0 AS links_opened,
                       0 AS promises, 0 AS promises_kept, 0 AS promises_broken, 0 AS payments, 0 AS payment_cents FROM outbox o
                UNION ALL
                SELECT substr(o.sent_at, 1, 10), o.tenant_id, 0, 1, (SELECT count(*) FROM contact_log cl WHERE cl.id = o.contact_log_id AND cl.status = 'delivered'),
                       0, 0, 0, 0, 0, 0, 0, 0 FROM outbox o WHERE o.sent_at IS NOT NULL
                UNION ALL
                SELECT substr(o.decided_at, 1, 10), o.tenant_id, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 FROM outbox o WHERE o.state = 'blocked' AND o.decided_at IS NOT NULL
                UNION ALL
                SELECT substr(o.updated_at, 1, 10), o.tenant_id, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 FROM outbox o WHERE o.state = 'failed'
                UNION ALL
                SELECT substr(lo.opened_at, 1, 10), lo.tenant_id, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0 FROM link_opens lo
                UNION ALL
                SELECT substr(p.created_at, 1, 10), p.tenant_id, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 FROM promises p
                UNION ALL
                SELECT substr(p.resolved_at, 1, 10), p.tenant_id, 0, 0, 0, 0, 0, 0, 0, p.status = 'kept', p.status = 'broken', 0, 0
                FROM promises p WHERE p.status IN ('kept', 'broken') AND p.resolved_at IS NOT NULL
                UNION ALL
                SELECT l.date, l.tenant_id, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, l.amount_cents FROM ledger_entries l WHERE ", after_notice!("l"), "
             ) e JOIN (SELECT t.tenant_id, t.property_id, ", language_of!("t"), " AS language FROM tenants t) k ON k.tenant_id = e.tenant_id
             WHERE true
             GROUP BY day, property_id, language"
        ),
        concat!(
            "INSERT INTO report_day_blocks (day, property_id, language, rule, n)
             SELECT substr(o.decided_at, 1, 10), t.property_id, ", language_of!("t"), " AS language, coalesce(json_extract(r.value, '$.rule'), 'unknown') AS rule, count(*)
             FROM outbox o JOIN tenants t ON t.tenant_id = o.tenant_id, json_each(CASE WHEN json_valid(o.reasons) THEN o.reasons ELSE '[]' END) r
             WHERE o.state = 'blocked' AND o.decided_at IS NOT NULL
             GROUP BY 1, 2, 3, 4"
        ),
        concat!(
            "INSERT INTO report_days (day, property_id, language, replies)
             SELECT day, property_id, language, count(*) FROM (
                SELECT DISTINCT substr(m.received_at, 1, 10) AS day, m.id, t.property_id, ", language_of!("t"), " AS language
                FROM inbound_messages m, json_each(CASE WHEN json_valid(m.tenant_ids) THEN m.tenant_ids ELSE '[]' END) j JOIN tenants t ON t.tenant_id = j.value
                WHERE m.kind = 'text'
                UNION
                SELECT DISTINCT substr(m.received_at, 1, 10), m.id, t.property_id, '*'
                FROM inbound_messages m, json_each(CASE WHEN json_valid(m.tenant_ids) THEN m.tenant_ids ELSE '[]' END) j JOIN tenants t ON t.tenant_id = j.value
                WHERE m.kind = 'text'
             ) WHERE true GROUP BY day, property_id, language
             ON CONFLICT (day, property_id, language) DO UPDATE SET replies = replies + excluded.replies"
        ),
        concat!(
            "INSERT INTO report_days (day, property_id, language, opt_outs)
             SELECT day, property_id, language, count(*) FROM (
                SELECT DISTINCT substr(e.at, 1, 10) AS day, e.id, t.property_id, ", language_of!("t"), " AS language
                FROM exclusion_events e JOIN contact_points cp ON cp.address = e.address JOIN tenants t ON t.tenant_id = cp.tenant_id
                WHERE e.kind = 'number_by_customer' AND e.is_on = 1
                UNION
                SELECT DISTINCT substr(e.at, 1, 10), e.id, t.property_id, '*'
                FROM exclusion_events e JOIN contact_points cp ON cp.address = e.address JOIN tenants t ON t.tenant_id = cp.tenant_id
                WHERE e.kind = 'number_by_customer' AND e.is_on = 1
             ) WHERE true GROUP BY day, property_id, language
             ON CONFLICT (day, property_id, language) DO UPDATE SET opt_outs = opt_outs + excluded.opt_outs"
        ),
    ],
};
