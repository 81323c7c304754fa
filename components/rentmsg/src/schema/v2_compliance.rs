//! Migration 2: contact controls (with the default rule packs seeded as
//! rows), the call result codes of seed 003, and the call result of each
//! logged phone contact.

use crate::schema::Migration;

/// Schema version 2.
pub const MIGRATION: Migration = Migration {
    version: 2,
    name: "contact controls with default rule packs, call result codes, contact_log.call_result",
    statements: &[
        // One row per control. Scope and the look-back settings in columns
        // (what the loader filters and sizes its log read on), all settings
        // as the JSON ControlSpec staff read and write.
        // pack: the default pack a row was seeded from; NULL = staff-made.
        "CREATE TABLE contact_controls (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            channel TEXT NOT NULL CHECK (channel IN ('text', 'email', 'phone', 'letter')),
            state TEXT,
            country TEXT,
            enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
            period_days INTEGER,
            hold_for_days INTEGER,
            apply_to_group INTEGER NOT NULL DEFAULT 0 CHECK (apply_to_group IN (0, 1)),
            spec TEXT NOT NULL,
            pack TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        "CREATE INDEX contact_controls_scope ON contact_controls(channel, enabled)",
        // Seed 003's default call result pick list.
        "CREATE TABLE call_result_codes (
            code INTEGER PRIMARY KEY,
            label TEXT NOT NULL
        )",
        "INSERT INTO call_result_codes (code, label) VALUES
            (0, 'None specified'),
            (1, 'Left message on machine'),
            (2, 'Left message with person'),
            (3, 'Debtor not in - call back, no message'),
            (4, 'Spoke to debtor, verified right party'),
            (5, 'Wrong number / debtor unknown'),
            (6, 'Not in service'),
            (101, 'Manual dial: right party contact'),
            (102, 'Manual dial: pick up, hung up'),
            (103, 'Manual dial: debtor in, unavailable'),
            (104, 'Manual dial: debtor not in, call back'),
            (105, 'Manual dial: machine answer, left message'),
            (106, 'Manual dial: machine answer, no message'),
            (107, 'Manual dial: left message with person'),
            (108, 'Manual dial: no answer'),
            (109, 'Manual dial: busy'),
            (110, 'Manual dial: call did not go through'),
            (111, 'Manual dial: wrong number / debtor unknown'),
            (112, 'Manual dial: not in service'),
            (113, 'Dialer: transfer to operator'),
            (114, 'Dialer: unknown call result'),
            (115, 'Dialer: transfer to operator, wrong number'),
            (116, 'Dialer: answered, hung up'),
            (117, 'Dialer: answered, system terminated'),
            (118, 'Dialer: answered, voice mail'),
            (119, 'Dialer: no answer'),
            (120, 'Dialer: busy, no machine'),
            (121, 'Dialer: machine, delivered'),
            (122, 'Dialer: machine, not delivered'),
            (123, 'Dialer: fax machine detected'),
            (124, 'Dialer: cancelled, incomplete number'),
            (125, 'Dialer: cancelled, compliance reasons'),
            (126, 'Dialer: cancelled, do not call'),
            (127, 'Dialer: call failed, technical reasons'),
            (128, 'Dialer: cancelled broadcast or blank number')",
        // Phone contacts: the call result code (attempt / right-party contact).
        "ALTER TABLE contact_log ADD COLUMN call_result INTEGER",
        // The default rule packs (editable rows). Attempt codes: every
        // placed call (the dialer's cancelled codes 124-126 and 128 were
        // never placed); right-party contacts: 4 and 101.
        "INSERT INTO contact_controls (key, channel, state, country, enabled, period_days, hold_for_days, apply_to_group, spec, pack, created_at, updated_at) VALUES
            ('default-text', 'text', NULL, NULL, 1, NULL, NULL, 0, '{\"key\":\"default-text\",\"channel\":\"text\",\"description\":\"Default for every region: texts only 08:00-21:00 local\",\"window\":\"08:00-21:00\",\"apply_to_group\":false,\"enabled\":true}', 'default', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('default-email', 'email', NULL, NULL, 1, NULL, NULL, 0, '{\"key\":\"default-email\",\"channel\":\"email\",\"description\":\"Default for every region: emails only 08:00-21:00 local; no email to a work address without consent for it\",\"window\":\"08:00-21:00\",\"work_email_needs_consent\":true,\"apply_to_group\":false,\"enabled\":true}', 'default', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('default-letter', 'letter', NULL, NULL, 1, NULL, NULL, 0, '{\"key\":\"default-letter\",\"channel\":\"letter\",\"description\":\"Default for every region: letters only 08:00-21:00 local\",\"window\":\"08:00-21:00\",\"apply_to_group\":false,\"enabled\":true}', 'default', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('default-phone', 'phone', NULL, NULL, 1, 7, 7, 0, '{\"key\":\"default-phone\",\"channel\":\"phone\",\"description\":\"Default for every region: calls only 08:00-21:00 local; at most 7 call attempts in 7 days; no call for 7 days after a conversation\",\"window\":\"08:00-21:00\",\"max_contacts\":7,\"period_days\":7,\"hold_for_days\":7,\"attempt_codes\":[0,1,2,3,4,5,6,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,127],\"rpc_codes\":[4,101],\"apply_to_group\":false,\"enabled\":true}', 'default', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('us-reg-f-text', 'text', NULL, 'US', 1, NULL, NULL, 0, '{\"key\":\"us-reg-f-text\",\"channel\":\"text\",\"description\":\"US Reg F 12 CFR 1006.6(b)(1)(i): no texts before 08:00 or after 21:00 at the consumer''s location\",\"country\":\"US\",\"window\":\"08:00-21:00\",\"apply_to_group\":false,\"enabled\":true}', 'us-reg-f', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('us-reg-f-email', 'email', NULL, 'US', 1, NULL, NULL, 0, '{\"key\":\"us-reg-f-email\",\"channel\":\"email\",\"description\":\"US Reg F 12 CFR 1006.6(b)(1)(i): no emails before 08:00 or after 21:00 at the consumer''s location; 1006.22(f)(3): no email to an employer-provided address without consent\",\"country\":\"US\",\"window\":\"08:00-21:00\",\"work_email_needs_consent\":true,\"apply_to_group\":false,\"enabled\":true}', 'us-reg-f', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('us-reg-f-letter', 'letter', NULL, 'US', 1, NULL, NULL, 0, '{\"key\":\"us-reg-f-letter\",\"channel\":\"letter\",\"description\":\"US Reg F 12 CFR 1006.6(b)(1)(i): no letters before 08:00 or after 21:00 at the consumer''s location\",\"country\":\"US\",\"window\":\"08:00-21:00\",\"apply_to_group\":false,\"enabled\":true}', 'us-reg-f', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('us-reg-f-phone', 'phone', NULL, 'US', 1, 7, 7, 0, '{\"key\":\"us-reg-f-phone\",\"channel\":\"phone\",\"description\":\"US Reg F 12 CFR 1006.6(b)(1)(i): no calls before 08:00 or after 21:00 at the consumer''s location; 1006.14(b)(2): at most 7 calls in 7 consecutive days, none within 7 days after a telephone conversation\",\"country\":\"US\",\"window\":\"08:00-21:00\",\"max_contacts\":7,\"period_days\":7,\"hold_for_days\":7,\"attempt_codes\":[0,1,2,3,4,5,6,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,127],\"rpc_codes\":[4,101],\"apply_to_group\":false,\"enabled\":true}', 'us-reg-f', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('ma-home-mobile-phone', 'phone', 'MA', 'US', 1, 7, NULL, 0, '{\"key\":\"ma-home-mobile-phone\",\"channel\":\"phone\",\"description\":\"Massachusetts 940 CMR 7.04(1)(f): at most 2 calls or texts per 7 days to home or mobile numbers\",\"state\":\"MA\",\"country\":\"US\",\"max_contacts\":2,\"period_days\":7,\"count_channels\":[\"phone\",\"text\"],\"address_kinds\":[\"mobile_phone\",\"home_phone\"],\"apply_to_group\":false,\"enabled\":true}', 'massachusetts', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('ma-other-number-phone', 'phone', 'MA', 'US', 1, 30, NULL, 0, '{\"key\":\"ma-other-number-phone\",\"channel\":\"phone\",\"description\":\"Massachusetts 940 CMR 7.04(1)(f): at most 2 calls or texts per 30 days to other numbers\",\"state\":\"MA\",\"country\":\"US\",\"max_contacts\":2,\"period_days\":30,\"count_channels\":[\"phone\",\"text\"],\"address_kinds\":[\"work_phone\"],\"apply_to_group\":false,\"enabled\":true}', 'massachusetts', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('ma-home-mobile-text', 'text', 'MA', 'US', 1, 7, NULL, 0, '{\"key\":\"ma-home-mobile-text\",\"channel\":\"text\",\"description\":\"Massachusetts 940 CMR 7.04(1)(f): at most 2 calls or texts per 7 days to home or mobile numbers\",\"state\":\"MA\",\"country\":\"US\",\"max_contacts\":2,\"period_days\":7,\"count_channels\":[\"phone\",\"text\"],\"address_kinds\":[\"mobile_phone\",\"home_phone\"],\"apply_to_group\":false,\"enabled\":true}', 'massachusetts', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('ma-other-number-text', 'text', 'MA', 'US', 1, 30, NULL, 0, '{\"key\":\"ma-other-number-text\",\"channel\":\"text\",\"description\":\"Massachusetts 940 CMR 7.04(1)(f): at most 2 calls or texts per 30 days to other numbers\",\"state\":\"MA\",\"country\":\"US\",\"max_contacts\":2,\"period_days\":30,\"count_channels\":[\"phone\",\"text\"],\"address_kinds\":[\"work_phone\"],\"apply_to_group\":false,\"enabled\":true}', 'massachusetts', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('wa-phone', 'phone', 'WA', 'US', 1, 7, NULL, 0, '{\"key\":\"wa-phone\",\"channel\":\"phone\",\"description\":\"Washington RCW 19.16.250: contact only 07:30-21:00; at most 3 contacts per week\",\"state\":\"WA\",\"country\":\"US\",\"window\":\"07:30-21:00\",\"max_contacts\":3,\"period_days\":7,\"count_channels\":[\"phone\",\"text\",\"email\"],\"apply_to_group\":false,\"enabled\":true}', 'washington', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('on-phone', 'phone', 'ON', 'CA', 1, 7, NULL, 0, '{\"key\":\"on-phone\",\"channel\":\"phone\",\"description\":\"Ontario O. Reg. 74/95: 07:00-21:00, Sundays 13:00-17:00 only, none on statutory holidays; at most 3 contacts in 7 days\",\"state\":\"ON\",\"country\":\"CA\",\"window\":\"07:00-21:00\",\"day_windows\":{\"sun\":\"13:00-17:00\"},\"holidays\":[\"01-01\",\"02/mon#3\",\"easter-2\",\"05-25/mon<\",\"07-01\",\"09/mon#1\",\"10/mon#2\",\"12-25\",\"12-26\"],\"max_contacts\":3,\"period_days\":7,\"count_channels\":[\"phone\",\"text\",\"email\"],\"apply_to_group\":false,\"enabled\":true}', 'ontario', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('qc-phone', 'phone', 'QC', 'CA', 1, NULL, NULL, 0, '{\"key\":\"qc-phone\",\"channel\":\"phone\",\"description\":\"Quebec (Office de la protection du consommateur): 08:00-20:00 Monday to Saturday; none on Sundays or statutory holidays\",\"state\":\"QC\",\"country\":\"CA\",\"window\":\"08:00-20:00\",\"day_windows\":{\"sun\":\"closed\"},\"holidays\":[\"01-01\",\"easter-2\",\"easter+1\",\"05-25/mon<\",\"06-24\",\"07-01\",\"09/mon#1\",\"10/mon#2\",\"12-25\"],\"apply_to_group\":false,\"enabled\":true}', 'quebec', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('wa-text', 'text', 'WA', 'US', 1, 7, NULL, 0, '{\"key\":\"wa-text\",\"channel\":\"text\",\"description\":\"Washington RCW 19.16.250: contact only 07:30-21:00; at most 3 contacts per week\",\"state\":\"WA\",\"country\":\"US\",\"window\":\"07:30-21:00\",\"max_contacts\":3,\"period_days\":7,\"count_channels\":[\"phone\",\"text\",\"email\"],\"apply_to_group\":false,\"enabled\":true}', 'washington', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('on-text', 'text', 'ON', 'CA', 1, 7, NULL, 0, '{\"key\":\"on-text\",\"channel\":\"text\",\"description\":\"Ontario O. Reg. 74/95: 07:00-21:00, Sundays 13:00-17:00 only, none on statutory holidays; at most 3 contacts in 7 days\",\"state\":\"ON\",\"country\":\"CA\",\"window\":\"07:00-21:00\",\"day_windows\":{\"sun\":\"13:00-17:00\"},\"holidays\":[\"01-01\",\"02/mon#3\",\"easter-2\",\"05-25/mon<\",\"07-01\",\"09/mon#1\",\"10/mon#2\",\"12-25\",\"12-26\"],\"max_contacts\":3,\"period_days\":7,\"count_channels\":[\"phone\",\"text\",\"email\"],\"apply_to_group\":false,\"enabled\":true}', 'ontario', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('qc-text', 'text', 'QC', 'CA', 1, NULL, NULL, 0, '{\"key\":\"qc-text\",\"channel\":\"text\",\"description\":\"Quebec (Office de la protection du consommateur): 08:00-20:00 Monday to Saturday; none on Sundays or statutory holidays\",\"state\":\"QC\",\"country\":\"CA\",\"window\":\"08:00-20:00\",\"day_windows\":{\"sun\":\"closed\"},\"holidays\":[\"01-01\",\"easter-2\",\"easter+1\",\"05-25/mon<\",\"06-24\",\"07-01\",\"09/mon#1\",\"10/mon#2\",\"12-25\"],\"apply_to_group\":false,\"enabled\":true}', 'quebec', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('wa-email', 'email', 'WA', 'US', 1, 7, NULL, 0, '{\"key\":\"wa-email\",\"channel\":\"email\",\"description\":\"Washington RCW 19.16.250: contact only 07:30-21:00; at most 3 contacts per week\",\"state\":\"WA\",\"country\":\"US\",\"window\":\"07:30-21:00\",\"max_contacts\":3,\"period_days\":7,\"count_channels\":[\"phone\",\"text\",\"email\"],\"apply_to_group\":false,\"enabled\":true}', 'washington', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('on-email', 'email', 'ON', 'CA', 1, 7, NULL, 0, '{\"key\":\"on-email\",\"channel\":\"email\",\"description\":\"Ontario O. Reg. 74/95: 07:00-21:00, Sundays 13:00-17:00 only, none on statutory holidays; at most 3 contacts in 7 days\",\"state\":\"ON\",\"country\":\"CA\",\"window\":\"07:00-21:00\",\"day_windows\":{\"sun\":\"13:00-17:00\"},\"holidays\":[\"01-01\",\"02/mon#3\",\"easter-2\",\"05-25/mon<\",\"07-01\",\"09/mon#1\",\"10/mon#2\",\"12-25\",\"12-26\"],\"max_contacts\":3,\"period_days\":7,\"count_channels\":[\"phone\",\"text\",\"email\"],\"apply_to_group\":false,\"enabled\":true}', 'ontario', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            ('qc-email', 'email', 'QC', 'CA', 1, NULL, NULL, 0, '{\"key\":\"qc-email\",\"channel\":\"email\",\"description\":\"Quebec (Office de la protection du consommateur): 08:00-20:00 Monday to Saturday; none on Sundays or statutory holidays\",\"state\":\"QC\",\"country\":\"CA\",\"window\":\"08:00-20:00\",\"day_windows\":{\"sun\":\"closed\"},\"holidays\":[\"01-01\",\"easter-2\",\"easter+1\",\"05-25/mon<\",\"06-24\",\"07-01\",\"09/mon#1\",\"10/mon#2\",\"12-25\"],\"apply_to_group\":false,\"enabled\":true}', 'quebec', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
    ],
};
