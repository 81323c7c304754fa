//! [`ComponentChecker`]: compliance decisions through the
//! `rentmsg:compliance/decide` WIT import, for components that list the
//! compliance component as a dependency (feature `compliance-client`), so
//! the scan and the sender apply exactly what staff see.

use crate::base::channel::Channel;
use crate::compliance::{CheckError, CheckRequest, ComplianceCheck, Decision, Reason, Verdict};

/// Bindings of the `compliance-client` world.
mod bindings {
    wit_bindgen::generate!({
        world: "compliance-client",
        path: "../../wit/compliance.wit",
    });
}

use bindings::rentmsg::compliance::decide as wit;

/// [`ComplianceCheck`] over the imported compliance component.
pub struct ComponentChecker;

impl ComplianceCheck for ComponentChecker {
    fn check(&self, request: &CheckRequest) -> Result<Decision, CheckError> {
        let contact = wit::ProposedContact {
            tenant_id: request.tenant_id.clone(),
            channel: match request.channel {
                Channel::Text => wit::Channel::Text,
                Channel::Email => wit::Channel::Email,
                Channel::Phone => wit::Channel::Phone,
                Channel::Letter => wit::Channel::Letter,
            },
            address: request.address.clone(),
            at: Some(crate::base::time::timestamp(request.at)),
            manual: request.manual,
        };
        let d = wit::check(&contact).map_err(|e| match e {
            wit::CheckError::UnknownTenant(m) => CheckError::UnknownTenant(m),
            wit::CheckError::Invalid(m) => CheckError::Invalid(m),
            wit::CheckError::Unavailable(m) => CheckError::Unavailable(m),
        })?;
        let defer_until = match d.defer_until.as_deref() {
            Some(s) => Some(
                crate::base::time::parse_timestamp(s)
                    .ok_or_else(|| CheckError::Unavailable(format!("compliance returned a bad time `{s}`")))?,
            ),
            None => None,
        };
        let reasons = |v: Vec<wit::Reason>| v.into_iter().map(|r| Reason { rule: r.rule, detail: r.detail }).collect();
        Ok(Decision {
            verdict: match d.verdict {
                wit::Verdict::Allow => Verdict::Allow,
                wit::Verdict::Block => Verdict::Block,
                wit::Verdict::Defer => Verdict::Defer,
            },
            reasons: reasons(d.reasons),
            defer_until,
            near_limit: d.near_limit,
            warnings: reasons(d.warnings),
            address: d.address,
        })
    }
}
