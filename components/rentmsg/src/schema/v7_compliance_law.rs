//! Migration 7: the shipped rule packs brought in line with the law, and
//! the revocation phrases.
//!
//! Pack rows are changed only where staff left them as shipped: an update
//! matches the exact text migration 2 stored, and a staff edit always
//! rewrites that text (it is stored re-serialised), so edited rows keep
//! the staff's settings. New pack rows are added unless their key exists.
//!
//! - Ontario (`on-*`): the holidays of the Legislation Act, 2006, ss. 87-88
//!   (Easter Monday, Remembrance Day, and the moved days), cited as
//!   R.R.O. 1990, Reg. 74.
//! - Quebec (`qc-*`): Canada Day on July 2 when July 1 is a Sunday; cited
//!   as CQLR c. R-2.2, s. 34(4).
//! - Massachusetts: its own 08:00-21:00 window for calls and texts
//!   (`ma-phone`, `ma-text`), so it holds when the US defaults are off.
//! - Washington: at most one contact a week at the place of employment
//!   (`wa-work-phone`, `wa-work-text`).
//! - Every pack's description says which law it follows and whether that
//!   law binds a landlord collecting its own rent.
//! - `sms_revocation_phrases`: replies that revoke consent in the tenant's
//!   own words (47 CFR 64.1200(a)(10)), matched as whole messages.
//! - `inbound_messages.revocation_phrase`: the phrase a reply was taken
//!   as; `undone_at` / `undone_by`: staff reversed a misread.

use crate::schema::Migration;

/// Schema version 7.
pub const MIGRATION: Migration = Migration {
    version: 7,
    name: "rule packs to the law (holidays, MA hours, WA workplace), revocation phrases",
    statements: &[
        r#"UPDATE contact_controls SET spec = '{"key":"us-reg-f-text","channel":"text","description":"US Reg F 12 CFR 1006.6(b)(1)(i): no texts before 08:00 or after 21:00 at the consumer''s location. Binds third-party debt collectors (FDCPA / Reg F), not a landlord collecting its own rent; shipped on as a safe default.","country":"US","window":"08:00-21:00","apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'us-reg-f-text' AND pack = 'us-reg-f' AND spec = '{"key":"us-reg-f-text","channel":"text","description":"US Reg F 12 CFR 1006.6(b)(1)(i): no texts before 08:00 or after 21:00 at the consumer''s location","country":"US","window":"08:00-21:00","apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"us-reg-f-email","channel":"email","description":"US Reg F 12 CFR 1006.6(b)(1)(i): no emails before 08:00 or after 21:00 at the consumer''s location; 1006.22(f)(3): no email to an employer-provided address without consent. Binds third-party debt collectors (FDCPA / Reg F), not a landlord collecting its own rent; shipped on as a safe default.","country":"US","window":"08:00-21:00","work_email_needs_consent":true,"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'us-reg-f-email' AND pack = 'us-reg-f' AND spec = '{"key":"us-reg-f-email","channel":"email","description":"US Reg F 12 CFR 1006.6(b)(1)(i): no emails before 08:00 or after 21:00 at the consumer''s location; 1006.22(f)(3): no email to an employer-provided address without consent","country":"US","window":"08:00-21:00","work_email_needs_consent":true,"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"us-reg-f-letter","channel":"letter","description":"US Reg F 12 CFR 1006.6(b)(1)(i): no letters before 08:00 or after 21:00 at the consumer''s location. Binds third-party debt collectors (FDCPA / Reg F), not a landlord collecting its own rent; shipped on as a safe default.","country":"US","window":"08:00-21:00","apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'us-reg-f-letter' AND pack = 'us-reg-f' AND spec = '{"key":"us-reg-f-letter","channel":"letter","description":"US Reg F 12 CFR 1006.6(b)(1)(i): no letters before 08:00 or after 21:00 at the consumer''s location","country":"US","window":"08:00-21:00","apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"us-reg-f-phone","channel":"phone","description":"US Reg F 12 CFR 1006.6(b)(1)(i): no calls before 08:00 or after 21:00 at the consumer''s location; 1006.14(b)(2): at most 7 calls in 7 consecutive days, none within 7 days after a telephone conversation. Binds third-party debt collectors (FDCPA / Reg F), not a landlord collecting its own rent; shipped on as a safe default.","country":"US","window":"08:00-21:00","max_contacts":7,"period_days":7,"hold_for_days":7,"attempt_codes":[0,1,2,3,4,5,6,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,127],"rpc_codes":[4,101],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'us-reg-f-phone' AND pack = 'us-reg-f' AND spec = '{"key":"us-reg-f-phone","channel":"phone","description":"US Reg F 12 CFR 1006.6(b)(1)(i): no calls before 08:00 or after 21:00 at the consumer''s location; 1006.14(b)(2): at most 7 calls in 7 consecutive days, none within 7 days after a telephone conversation","country":"US","window":"08:00-21:00","max_contacts":7,"period_days":7,"hold_for_days":7,"attempt_codes":[0,1,2,3,4,5,6,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,127],"rpc_codes":[4,101],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"ma-home-mobile-phone","channel":"phone","description":"Massachusetts 940 CMR 7.04(1)(f): at most 2 calls or texts per 7 days to the debtor''s home, mobile or other personal number (a number on file under several kinds counts once, in this bucket when it is a home or mobile number). Binds creditors collecting their own debts, landlords included.","state":"MA","country":"US","max_contacts":2,"period_days":7,"count_channels":["phone","text"],"address_kinds":["mobile_phone","home_phone"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'ma-home-mobile-phone' AND pack = 'massachusetts' AND spec = '{"key":"ma-home-mobile-phone","channel":"phone","description":"Massachusetts 940 CMR 7.04(1)(f): at most 2 calls or texts per 7 days to home or mobile numbers","state":"MA","country":"US","max_contacts":2,"period_days":7,"count_channels":["phone","text"],"address_kinds":["mobile_phone","home_phone"],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"ma-home-mobile-text","channel":"text","description":"Massachusetts 940 CMR 7.04(1)(f): at most 2 calls or texts per 7 days to the debtor''s home, mobile or other personal number (a number on file under several kinds counts once, in this bucket when it is a home or mobile number). Binds creditors collecting their own debts, landlords included.","state":"MA","country":"US","max_contacts":2,"period_days":7,"count_channels":["phone","text"],"address_kinds":["mobile_phone","home_phone"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'ma-home-mobile-text' AND pack = 'massachusetts' AND spec = '{"key":"ma-home-mobile-text","channel":"text","description":"Massachusetts 940 CMR 7.04(1)(f): at most 2 calls or texts per 7 days to home or mobile numbers","state":"MA","country":"US","max_contacts":2,"period_days":7,"count_channels":["phone","text"],"address_kinds":["mobile_phone","home_phone"],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"ma-other-number-phone","channel":"phone","description":"Massachusetts 940 CMR 7.04(1)(f): at most 2 calls or texts per 30 days to numbers other than the debtor''s home, mobile or personal number (work numbers). Binds creditors collecting their own debts, landlords included.","state":"MA","country":"US","max_contacts":2,"period_days":30,"count_channels":["phone","text"],"address_kinds":["work_phone"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'ma-other-number-phone' AND pack = 'massachusetts' AND spec = '{"key":"ma-other-number-phone","channel":"phone","description":"Massachusetts 940 CMR 7.04(1)(f): at most 2 calls or texts per 30 days to other numbers","state":"MA","country":"US","max_contacts":2,"period_days":30,"count_channels":["phone","text"],"address_kinds":["work_phone"],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"ma-other-number-text","channel":"text","description":"Massachusetts 940 CMR 7.04(1)(f): at most 2 calls or texts per 30 days to numbers other than the debtor''s home, mobile or personal number (work numbers). Binds creditors collecting their own debts, landlords included.","state":"MA","country":"US","max_contacts":2,"period_days":30,"count_channels":["phone","text"],"address_kinds":["work_phone"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'ma-other-number-text' AND pack = 'massachusetts' AND spec = '{"key":"ma-other-number-text","channel":"text","description":"Massachusetts 940 CMR 7.04(1)(f): at most 2 calls or texts per 30 days to other numbers","state":"MA","country":"US","max_contacts":2,"period_days":30,"count_channels":["phone","text"],"address_kinds":["work_phone"],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"wa-phone","channel":"phone","description":"Washington RCW 19.16.250: contact only 07:30-21:00; at most 3 contacts per week. Binds licensed collection agencies, not a landlord collecting its own rent; shipped on as a safe default.","state":"WA","country":"US","window":"07:30-21:00","max_contacts":3,"period_days":7,"count_channels":["phone","text","email"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'wa-phone' AND pack = 'washington' AND spec = '{"key":"wa-phone","channel":"phone","description":"Washington RCW 19.16.250: contact only 07:30-21:00; at most 3 contacts per week","state":"WA","country":"US","window":"07:30-21:00","max_contacts":3,"period_days":7,"count_channels":["phone","text","email"],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"wa-text","channel":"text","description":"Washington RCW 19.16.250: contact only 07:30-21:00; at most 3 contacts per week. Binds licensed collection agencies, not a landlord collecting its own rent; shipped on as a safe default.","state":"WA","country":"US","window":"07:30-21:00","max_contacts":3,"period_days":7,"count_channels":["phone","text","email"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'wa-text' AND pack = 'washington' AND spec = '{"key":"wa-text","channel":"text","description":"Washington RCW 19.16.250: contact only 07:30-21:00; at most 3 contacts per week","state":"WA","country":"US","window":"07:30-21:00","max_contacts":3,"period_days":7,"count_channels":["phone","text","email"],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"wa-email","channel":"email","description":"Washington RCW 19.16.250: contact only 07:30-21:00; at most 3 contacts per week. Binds licensed collection agencies, not a landlord collecting its own rent; shipped on as a safe default.","state":"WA","country":"US","window":"07:30-21:00","max_contacts":3,"period_days":7,"count_channels":["phone","text","email"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'wa-email' AND pack = 'washington' AND spec = '{"key":"wa-email","channel":"email","description":"Washington RCW 19.16.250: contact only 07:30-21:00; at most 3 contacts per week","state":"WA","country":"US","window":"07:30-21:00","max_contacts":3,"period_days":7,"count_channels":["phone","text","email"],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"on-phone","channel":"phone","description":"Ontario, R.R.O. 1990, Reg. 74 under the Collection and Debt Settlement Services Act: 07:00-21:00, Sundays 13:00-17:00 only; none on holidays (Legislation Act, 2006, ss. 87-88, Easter Monday and Remembrance Day included, with the days moved off weekends); at most 3 contacts in 7 days. Binds collection agencies and collectors, not a landlord collecting its own rent; shipped on as a safe default.","state":"ON","country":"CA","window":"07:00-21:00","day_windows":{"sun":"13:00-17:00"},"holidays":["01-01","01-01/sun>1","02/mon#3","easter-2","easter+1","05-25/mon<","07-01","07-01/sun>1","09/mon#1","10/mon#2","11-11","12-25","12-26","12-25/sat>2","12-25/sun>2"],"max_contacts":3,"period_days":7,"count_channels":["phone","text","email"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'on-phone' AND pack = 'ontario' AND spec = '{"key":"on-phone","channel":"phone","description":"Ontario O. Reg. 74/95: 07:00-21:00, Sundays 13:00-17:00 only, none on statutory holidays; at most 3 contacts in 7 days","state":"ON","country":"CA","window":"07:00-21:00","day_windows":{"sun":"13:00-17:00"},"holidays":["01-01","02/mon#3","easter-2","05-25/mon<","07-01","09/mon#1","10/mon#2","12-25","12-26"],"max_contacts":3,"period_days":7,"count_channels":["phone","text","email"],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"on-text","channel":"text","description":"Ontario, R.R.O. 1990, Reg. 74 under the Collection and Debt Settlement Services Act: 07:00-21:00, Sundays 13:00-17:00 only; none on holidays (Legislation Act, 2006, ss. 87-88, Easter Monday and Remembrance Day included, with the days moved off weekends); at most 3 contacts in 7 days. Binds collection agencies and collectors, not a landlord collecting its own rent; shipped on as a safe default.","state":"ON","country":"CA","window":"07:00-21:00","day_windows":{"sun":"13:00-17:00"},"holidays":["01-01","01-01/sun>1","02/mon#3","easter-2","easter+1","05-25/mon<","07-01","07-01/sun>1","09/mon#1","10/mon#2","11-11","12-25","12-26","12-25/sat>2","12-25/sun>2"],"max_contacts":3,"period_days":7,"count_channels":["phone","text","email"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'on-text' AND pack = 'ontario' AND spec = '{"key":"on-text","channel":"text","description":"Ontario O. Reg. 74/95: 07:00-21:00, Sundays 13:00-17:00 only, none on statutory holidays; at most 3 contacts in 7 days","state":"ON","country":"CA","window":"07:00-21:00","day_windows":{"sun":"13:00-17:00"},"holidays":["01-01","02/mon#3","easter-2","05-25/mon<","07-01","09/mon#1","10/mon#2","12-25","12-26"],"max_contacts":3,"period_days":7,"count_channels":["phone","text","email"],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"on-email","channel":"email","description":"Ontario, R.R.O. 1990, Reg. 74 under the Collection and Debt Settlement Services Act: 07:00-21:00, Sundays 13:00-17:00 only; none on holidays (Legislation Act, 2006, ss. 87-88, Easter Monday and Remembrance Day included, with the days moved off weekends); at most 3 contacts in 7 days. Binds collection agencies and collectors, not a landlord collecting its own rent; shipped on as a safe default.","state":"ON","country":"CA","window":"07:00-21:00","day_windows":{"sun":"13:00-17:00"},"holidays":["01-01","01-01/sun>1","02/mon#3","easter-2","easter+1","05-25/mon<","07-01","07-01/sun>1","09/mon#1","10/mon#2","11-11","12-25","12-26","12-25/sat>2","12-25/sun>2"],"max_contacts":3,"period_days":7,"count_channels":["phone","text","email"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'on-email' AND pack = 'ontario' AND spec = '{"key":"on-email","channel":"email","description":"Ontario O. Reg. 74/95: 07:00-21:00, Sundays 13:00-17:00 only, none on statutory holidays; at most 3 contacts in 7 days","state":"ON","country":"CA","window":"07:00-21:00","day_windows":{"sun":"13:00-17:00"},"holidays":["01-01","02/mon#3","easter-2","05-25/mon<","07-01","09/mon#1","10/mon#2","12-25","12-26"],"max_contacts":3,"period_days":7,"count_channels":["phone","text","email"],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"qc-phone","channel":"phone","description":"Quebec, Act respecting the collection of certain debts, CQLR c. R-2.2, s. 34(4): 08:00-20:00 Monday to Saturday; none on Sundays or holidays (Canada Day on July 2 when July 1 is a Sunday). Binds collectors acting for others, not a landlord collecting its own rent; shipped on as a safe default.","state":"QC","country":"CA","window":"08:00-20:00","day_windows":{"sun":"closed"},"holidays":["01-01","easter-2","easter+1","05-25/mon<","06-24","07-01","07-01/sun>1","09/mon#1","10/mon#2","12-25"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'qc-phone' AND pack = 'quebec' AND spec = '{"key":"qc-phone","channel":"phone","description":"Quebec (Office de la protection du consommateur): 08:00-20:00 Monday to Saturday; none on Sundays or statutory holidays","state":"QC","country":"CA","window":"08:00-20:00","day_windows":{"sun":"closed"},"holidays":["01-01","easter-2","easter+1","05-25/mon<","06-24","07-01","09/mon#1","10/mon#2","12-25"],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"qc-text","channel":"text","description":"Quebec, Act respecting the collection of certain debts, CQLR c. R-2.2, s. 34(4): 08:00-20:00 Monday to Saturday; none on Sundays or holidays (Canada Day on July 2 when July 1 is a Sunday). Binds collectors acting for others, not a landlord collecting its own rent; shipped on as a safe default.","state":"QC","country":"CA","window":"08:00-20:00","day_windows":{"sun":"closed"},"holidays":["01-01","easter-2","easter+1","05-25/mon<","06-24","07-01","07-01/sun>1","09/mon#1","10/mon#2","12-25"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'qc-text' AND pack = 'quebec' AND spec = '{"key":"qc-text","channel":"text","description":"Quebec (Office de la protection du consommateur): 08:00-20:00 Monday to Saturday; none on Sundays or statutory holidays","state":"QC","country":"CA","window":"08:00-20:00","day_windows":{"sun":"closed"},"holidays":["01-01","easter-2","easter+1","05-25/mon<","06-24","07-01","09/mon#1","10/mon#2","12-25"],"apply_to_group":false,"enabled":true}'"#,
        r#"UPDATE contact_controls SET spec = '{"key":"qc-email","channel":"email","description":"Quebec, Act respecting the collection of certain debts, CQLR c. R-2.2, s. 34(4): 08:00-20:00 Monday to Saturday; none on Sundays or holidays (Canada Day on July 2 when July 1 is a Sunday). Binds collectors acting for others, not a landlord collecting its own rent; shipped on as a safe default.","state":"QC","country":"CA","window":"08:00-20:00","day_windows":{"sun":"closed"},"holidays":["01-01","easter-2","easter+1","05-25/mon<","06-24","07-01","07-01/sun>1","09/mon#1","10/mon#2","12-25"],"apply_to_group":false,"enabled":true}', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           WHERE key = 'qc-email' AND pack = 'quebec' AND spec = '{"key":"qc-email","channel":"email","description":"Quebec (Office de la protection du consommateur): 08:00-20:00 Monday to Saturday; none on Sundays or statutory holidays","state":"QC","country":"CA","window":"08:00-20:00","day_windows":{"sun":"closed"},"holidays":["01-01","easter-2","easter+1","05-25/mon<","06-24","07-01","09/mon#1","10/mon#2","12-25"],"apply_to_group":false,"enabled":true}'"#,
        r#"INSERT OR IGNORE INTO contact_controls (key, channel, state, country, enabled, period_days, hold_for_days, apply_to_group, spec, pack, created_at, updated_at)
           VALUES ('ma-phone', 'phone', 'MA', 'US', 1, NULL, NULL, 0, '{"key":"ma-phone","channel":"phone","description":"Massachusetts 940 CMR 7.04(1)(g): no calls outside 08:00-21:00 at the debtor''s location unless the debtor''s normal waking hours are known. Holds even when the US defaults are disabled. Binds creditors collecting their own debts, landlords included.","state":"MA","country":"US","window":"08:00-21:00","apply_to_group":false,"enabled":true}', 'massachusetts', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"#,
        r#"INSERT OR IGNORE INTO contact_controls (key, channel, state, country, enabled, period_days, hold_for_days, apply_to_group, spec, pack, created_at, updated_at)
           VALUES ('ma-text', 'text', 'MA', 'US', 1, NULL, NULL, 0, '{"key":"ma-text","channel":"text","description":"Massachusetts 940 CMR 7.04(1)(g): no texts outside 08:00-21:00 at the debtor''s location unless the debtor''s normal waking hours are known (texts are telephone communications under 7.04(1)(f)). Holds even when the US defaults are disabled. Binds creditors collecting their own debts, landlords included.","state":"MA","country":"US","window":"08:00-21:00","apply_to_group":false,"enabled":true}', 'massachusetts', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"#,
        r#"INSERT OR IGNORE INTO contact_controls (key, channel, state, country, enabled, period_days, hold_for_days, apply_to_group, spec, pack, created_at, updated_at)
           VALUES ('wa-work-phone', 'phone', 'WA', 'US', 1, 7, NULL, 0, '{"key":"wa-work-phone","channel":"phone","description":"Washington RCW 19.16.250: at most one call or text a week to the debtor''s place of employment (work number). Binds licensed collection agencies, not a landlord collecting its own rent; shipped on as a safe default.","state":"WA","country":"US","max_contacts":1,"period_days":7,"count_channels":["phone","text"],"address_kinds":["work_phone"],"apply_to_group":false,"enabled":true}', 'washington', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"#,
        r#"INSERT OR IGNORE INTO contact_controls (key, channel, state, country, enabled, period_days, hold_for_days, apply_to_group, spec, pack, created_at, updated_at)
           VALUES ('wa-work-text', 'text', 'WA', 'US', 1, 7, NULL, 0, '{"key":"wa-work-text","channel":"text","description":"Washington RCW 19.16.250: at most one call or text a week to the debtor''s place of employment (work number). Binds licensed collection agencies, not a landlord collecting its own rent; shipped on as a safe default.","state":"WA","country":"US","max_contacts":1,"period_days":7,"count_channels":["phone","text"],"address_kinds":["work_phone"],"apply_to_group":false,"enabled":true}', 'washington', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"#,
        // Whole-message revocations in the tenant's own words, stored in
        // the form inbound::revocation::normalize gives (upper case, accents
        // and apostrophes dropped, other punctuation a space).
        "CREATE TABLE sms_revocation_phrases (
            phrase TEXT PRIMARY KEY,
            language TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        r#"INSERT INTO sms_revocation_phrases (phrase, language, updated_by, updated_at)
         SELECT column1, column2, 'system', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM (VALUES
            ('STOP TEXTING ME', 'en'),
            ('STOP TEXTING', 'en'),
            ('STOP MESSAGING ME', 'en'),
            ('STOP SENDING ME MESSAGES', 'en'),
            ('STOP SENDING ME TEXTS', 'en'),
            ('STOP SENDING MESSAGES', 'en'),
            ('STOP CONTACTING ME', 'en'),
            ('DONT TEXT ME', 'en'),
            ('DO NOT TEXT ME', 'en'),
            ('DONT TEXT ME ANYMORE', 'en'),
            ('DO NOT TEXT ME ANYMORE', 'en'),
            ('DONT MESSAGE ME', 'en'),
            ('DO NOT MESSAGE ME', 'en'),
            ('DONT CONTACT ME', 'en'),
            ('DO NOT CONTACT ME', 'en'),
            ('UNSUBSCRIBE ME', 'en'),
            ('NO MORE MESSAGES', 'en'),
            ('NO MORE TEXTS', 'en'),
            ('NO MORE TEXT MESSAGES', 'en'),
            ('LEAVE ME ALONE', 'en'),
            ('REMOVE ME', 'en'),
            ('REMOVE ME FROM YOUR LIST', 'en'),
            ('TAKE ME OFF YOUR LIST', 'en'),
            ('OPT ME OUT', 'en'),
            ('DEJA DE ESCRIBIRME', 'es'),
            ('DEJEN DE ESCRIBIRME', 'es'),
            ('DEJA DE MANDARME MENSAJES', 'es'),
            ('DEJEN DE MANDARME MENSAJES', 'es'),
            ('DEJEN DE ENVIARME MENSAJES', 'es'),
            ('NO ME ESCRIBAS', 'es'),
            ('NO ME ESCRIBAN', 'es'),
            ('NO ME ESCRIBAN MAS', 'es'),
            ('NO ME MANDEN MAS MENSAJES', 'es'),
            ('NO ME ENVIEN MAS MENSAJES', 'es'),
            ('NO MAS MENSAJES', 'es'),
            ('DEJAME EN PAZ', 'es'),
            ('DEJENME EN PAZ', 'es'),
            ('DARME DE BAJA', 'es'),
            ('DAME DE BAJA', 'es'),
            ('ARRETEZ DE MECRIRE', 'fr'),
            ('ARRETEZ DE MENVOYER DES MESSAGES', 'fr'),
            ('ARRETEZ LES MESSAGES', 'fr'),
            ('NE MECRIVEZ PLUS', 'fr'),
            ('NE MENVOYEZ PLUS DE MESSAGES', 'fr'),
            ('NE ME CONTACTEZ PLUS', 'fr'),
            ('PLUS DE MESSAGES', 'fr'),
            ('LAISSEZ MOI TRANQUILLE', 'fr'),
            ('DESABONNEZ MOI', 'fr'),
            ('DESINSCRIVEZ MOI', 'fr'))"#,
        "ALTER TABLE inbound_messages ADD COLUMN revocation_phrase TEXT",
        "ALTER TABLE inbound_messages ADD COLUMN undone_at TEXT",
        "ALTER TABLE inbound_messages ADD COLUMN undone_by TEXT",
    ],
};
