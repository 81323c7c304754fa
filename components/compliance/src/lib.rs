//! The compliance component: exports `rentmsg:compliance/decide` (see
//! `wit/compliance.wit`). Every component that contacts tenants imports it
//! as a Spin component dependency with `dependencies_inherit_configuration
//! = true`, so this reads the facts itself from the importer's `default`
//! SQLite database; the decision is `rentmsg::compliance::check`.

use rentmsg::base::channel::Channel;
use rentmsg::compliance::{self, CheckError, CheckRequest, Verdict};
use rentmsg::base::db::SpinDb;
use std::cell::RefCell;

wit_bindgen::generate!({
    world: "compliance",
    path: "../../wit/compliance.wit",
});

use exports::rentmsg::compliance::decide as wit;

struct Component;

impl wit::Guest for Component {
    fn check(contact: wit::ProposedContact) -> Result<wit::Decision, wit::CheckError> {
        let at = match contact.at.as_deref() {
            Some(s) => compliance::load::parse_at(s).map_err(to_wit_error)?,
            None => chrono::Utc::now(),
        };
        let request = CheckRequest {
            tenant_id: contact.tenant_id,
            channel: match contact.channel {
                wit::Channel::Text => Channel::Text,
                wit::Channel::Email => Channel::Email,
                wit::Channel::Phone => Channel::Phone,
                wit::Channel::Letter => Channel::Letter,
            },
            address: contact.address,
            at,
            manual: contact.manual,
        };
        let d = with_db(|db| compliance::check(db, &request)).map_err(to_wit_error)?;
        if d.verdict != Verdict::Allow {
            // Every block and deferral is logged with its rules (tenant id,
            // never the address: logs carry no phone numbers or emails).
            let fields = serde_json::json!({
                "tenant_id": request.tenant_id,
                "channel": request.channel.as_str(),
                "manual": request.manual,
                "decision": d.verdict.as_str(),
                "rules": d.reasons.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>(),
                "defer_until": d.defer_until.map(rentmsg::base::time::timestamp),
            });
            rentmsg::base::log::line("compliance", &fields);
        }
        let reasons = |v: Vec<compliance::Reason>| {
            v.into_iter().map(|r| wit::Reason { rule: r.rule, detail: r.detail }).collect()
        };
        Ok(wit::Decision {
            verdict: match d.verdict {
                Verdict::Allow => wit::Verdict::Allow,
                Verdict::Block => wit::Verdict::Block,
                Verdict::Defer => wit::Verdict::Defer,
            },
            reasons: reasons(d.reasons),
            defer_until: d.defer_until.map(rentmsg::base::time::timestamp),
            near_limit: d.near_limit,
            warnings: reasons(d.warnings),
            address: d.address,
        })
    }
}

thread_local! {
    /// The connection, opened on the first check and kept for the life of
    /// this instance: an importer checking many contacts in one run (a send
    /// pass) pays for opening it once.
    static DB: RefCell<Option<SpinDb>> = const { RefCell::new(None) };
}

/// Run `f` on this instance's connection. A connection that failed is
/// not trusted again: the next call opens a new one.
fn with_db<T>(f: impl FnOnce(&SpinDb) -> Result<T, CheckError>) -> Result<T, CheckError> {
    DB.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(SpinDb::open_default().map_err(|e| CheckError::Unavailable(e.to_string()))?);
        }
        let db = slot.as_ref().ok_or_else(|| CheckError::Unavailable("no connection".into()))?;
        let out = f(db);
        if matches!(out, Err(CheckError::Unavailable(_))) {
            *slot = None;
        }
        out
    })
}

fn to_wit_error(e: CheckError) -> wit::CheckError {
    match e {
        CheckError::UnknownTenant(m) => wit::CheckError::UnknownTenant(m),
        CheckError::Invalid(m) => wit::CheckError::Invalid(m),
        CheckError::Unavailable(m) => wit::CheckError::Unavailable(m),
    }
}

export!(Component);
