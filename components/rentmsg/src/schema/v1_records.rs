//! Migration 1: properties, tenants, contact points, the ledger, consent,
//! exclusions, notes, the contact log and the audit log.

use crate::schema::Migration;

/// Schema version 1.
pub const MIGRATION: Migration = Migration {
    version: 1,
    name: "tenants, ledger, consent, exclusions, notes, contact log, audit log",
    statements: &[
        // Properties as imported from the AR system.
        "CREATE TABLE properties (
            property_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            time_zone TEXT NOT NULL,
            state TEXT,
            country TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        // Tenants. time_zone NULL = use the property's. country NULL = use
        // the property's (then US).
        "CREATE TABLE tenants (
            tenant_id TEXT PRIMARY KEY,
            property_id TEXT NOT NULL REFERENCES properties(property_id),
            name TEXT NOT NULL,
            unit TEXT,
            state TEXT,
            country TEXT,
            time_zone TEXT,
            group_id TEXT,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'stop', 'moved_out')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        "CREATE INDEX tenants_property ON tenants(property_id)",
        "CREATE INDEX tenants_group ON tenants(group_id) WHERE group_id IS NOT NULL",
        // One row per tenant and kind; address is E.164 for phones, lower-case
        // for emails. Consent and exclusions refer to the address, so a
        // changed number starts with none.
        "CREATE TABLE contact_points (
            tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
            kind TEXT NOT NULL CHECK (kind IN ('mobile_phone', 'home_phone', 'work_phone', 'email', 'work_email')),
            channel TEXT NOT NULL CHECK (channel IN ('phone', 'email')),
            address TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (tenant_id, kind)
        )",
        "CREATE INDEX contact_points_address ON contact_points(address)",
        // Ledger: charges, payments and credits. amount_cents > 0; kind gives
        // the direction. (tenant_id, reference) identifies an entry across
        // re-imports; source says who wrote it (import, payments, ...).
        "CREATE TABLE ledger_entries (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
            reference TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('charge', 'payment', 'credit')),
            date TEXT NOT NULL,
            due_date TEXT NOT NULL,
            amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
            source TEXT NOT NULL DEFAULT 'import',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (tenant_id, reference)
        )",
        // Every consent change ever made; the current state is derived.
        // channel NULL = all channels; address NULL = all addresses.
        "CREATE TABLE consent_events (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
            channel TEXT CHECK (channel IS NULL OR channel IN ('text', 'email', 'phone', 'letter')),
            address TEXT,
            status TEXT NOT NULL CHECK (status IN ('opted_in', 'opted_out')),
            evidence TEXT,
            actor TEXT NOT NULL,
            source TEXT NOT NULL,
            at TEXT NOT NULL
        )",
        "CREATE INDEX consent_events_tenant ON consent_events(tenant_id, id)",
        // Exclusions in force (a cleared one is deleted; history is in
        // exclusion_events). Three shapes:
        //  - tenant flags: tenant_id set, address NULL, kind bankruptcy /
        //    disable_texting_auto_calls / disable_auto_communications;
        //  - by user: tenant_id and address set, kind number_by_user;
        //  - by customer (STOP): address set, tenant_id NULL (the number is
        //    excluded for every tenant that has it), kind number_by_customer.
        "CREATE TABLE exclusions (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('bankruptcy', 'disable_texting_auto_calls', 'disable_auto_communications', 'number_by_user', 'number_by_customer')),
            tenant_id TEXT REFERENCES tenants(tenant_id),
            address TEXT,
            reason TEXT,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL,
            source_ref TEXT,
            CHECK ((kind = 'number_by_customer') = (tenant_id IS NULL)),
            CHECK ((kind IN ('number_by_user', 'number_by_customer')) = (address IS NOT NULL))
        )",
        "CREATE UNIQUE INDEX exclusions_tenant_flag ON exclusions(tenant_id, kind) WHERE address IS NULL",
        "CREATE UNIQUE INDEX exclusions_by_user ON exclusions(tenant_id, address) WHERE kind = 'number_by_user'",
        "CREATE UNIQUE INDEX exclusions_by_customer ON exclusions(address) WHERE kind = 'number_by_customer'",
        "CREATE INDEX exclusions_address ON exclusions(address) WHERE address IS NOT NULL",
        // Every exclusion set / cleared.
        "CREATE TABLE exclusion_events (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            tenant_id TEXT,
            address TEXT,
            is_on INTEGER NOT NULL CHECK (is_on IN (0, 1)),
            reason TEXT,
            actor TEXT NOT NULL,
            source_ref TEXT,
            at TEXT NOT NULL
        )",
        "CREATE INDEX exclusion_events_tenant ON exclusion_events(tenant_id, id)",
        "CREATE INDEX exclusion_events_address ON exclusion_events(address, id)",
        // Notes on a tenant (bankruptcy reasons, compliance warnings, call notes).
        "CREATE TABLE notes (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
            kind TEXT NOT NULL,
            body TEXT NOT NULL,
            author TEXT NOT NULL,
            at TEXT NOT NULL
        )",
        "CREATE INDEX notes_tenant ON notes(tenant_id, id)",
        // Every contact, outbound and inbound. tenant_id NULL = inbound from
        // an unknown address.
        "CREATE TABLE contact_log (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT,
            channel TEXT NOT NULL CHECK (channel IN ('text', 'email', 'phone', 'letter')),
            direction TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
            address TEXT NOT NULL,
            body TEXT NOT NULL,
            status TEXT NOT NULL,
            at TEXT NOT NULL,
            provider_id TEXT,
            detail TEXT
        )",
        "CREATE INDEX contact_log_tenant ON contact_log(tenant_id, at, id)",
        "CREATE INDEX contact_log_provider ON contact_log(provider_id) WHERE provider_id IS NOT NULL",
        "CREATE INDEX contact_log_address ON contact_log(address, at)",
        // Who did what, when. detail is JSON.
        "CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT,
            detail TEXT
        )",
        "CREATE INDEX audit_log_target ON audit_log(target, id)",
        "CREATE INDEX audit_log_at ON audit_log(at)",
    ],
};
