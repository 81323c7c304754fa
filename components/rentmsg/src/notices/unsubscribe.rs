//! `GET` / `POST /unsubscribe/:token`: the email opt-out every notice email
//! carries (served by the outbound-send component, which puts the link in).
//!
//! - `GET` shows a small page with a button (a `POST` form); it changes
//!   nothing, because mail scanners fetch links.
//! - `POST` unsubscribes: RFC 8058 one-click (the mailbox posts
//!   `List-Unsubscribe=One-Click`) or the page's form. The address gets the
//!   customer's own exclusion (`number_by_customer`, as a texted STOP does:
//!   no email to it, even manual, for every tenant that has it; staff cannot
//!   lift it), audited with actor `customer`, and the request is logged on
//!   the tenant's contact history. A repeat changes nothing.
//! - An expired, tampered or unknown token gets the same 404 page.

use crate::base::channel::Channel;
use crate::records::contact_log::{self, Direction, NewContact};
use crate::base::db::{self, Db};
use crate::base::error::Result;
use crate::records::exclusions;
use crate::notices::links::{self, Purpose};
use chrono::{DateTime, Utc};

/// An answer page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// HTML body.
    pub body: String,
    /// What happened, for logs.
    pub outcome: &'static str,
    /// `Allow` header value for 405.
    pub allow: Option<&'static str>,
}

fn page(status: u16, title: &str, text: &str, form: bool, outcome: &'static str) -> Page {
    let button = if form {
        "<form method=\"post\"><input type=\"hidden\" name=\"confirm\" value=\"yes\"><button type=\"submit\">Unsubscribe</button></form>"
    } else {
        ""
    };
    Page {
        status,
        body: format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"robots\" content=\"noindex\"><title>{title}</title></head>\
             <body style=\"font-family: sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem\">\
             <h1>{title}</h1><p>{text}</p>{button}</body></html>"
        ),
        outcome,
        allow: None,
    }
}

fn invalid() -> Page {
    page(404, "Link not valid", "This unsubscribe link is not valid or has expired. Reply to the email to ask us to stop.", false, "invalid_link")
}

/// Answer one request for `/unsubscribe/{token}`.
pub fn handle(db: &dyn Db, link_key: &str, method: &str, token: &str, body: &[u8], now: DateTime<Utc>) -> Result<Page> {
    let method = method.to_ascii_uppercase();
    if method != "GET" && method != "POST" && method != "HEAD" {
        let mut p = page(405, "Not allowed", "Use the link in the email.", false, "method_not_allowed");
        p.allow = Some("GET, POST");
        return Ok(p);
    }
    crate::schema::migrate(db, now)?;
    let target = match links::resolve(db, link_key, Purpose::Unsubscribe, token, now)? {
        Ok(t) => t,
        Err(_) => return Ok(invalid()),
    };
    let Some(address) = target.address.filter(|_| target.channel == Channel::Email) else {
        return Ok(invalid());
    };
    if method != "POST" {
        return Ok(page(
            200,
            "Unsubscribe",
            "Press the button to stop receiving account emails at this address.",
            true,
            "confirm_page",
        ));
    }
    let one_click = String::from_utf8_lossy(body).contains("List-Unsubscribe=One-Click");
    let how = if one_click { "one-click (RFC 8058)" } else { "the unsubscribe page" };
    let changed = db::transaction(db, |tx| -> Result<bool> {
        let changed = exclusions::set_customer_opt_out_in_tx(
            tx,
            &address,
            now,
            None,
            &format!("customer unsubscribed through the email link ({how})"),
        )?;
        if changed {
            contact_log::record(
                tx,
                &NewContact {
                    tenant_id: Some(&target.tenant_id),
                    channel: Channel::Email,
                    direction: Direction::Inbound,
                    address: &address,
                    body: &format!("Unsubscribe request ({how})"),
                    status: "unsubscribed",
                    at: now,
                    provider_id: None,
                    detail: Some(&serde_json::json!({ "outbox_id": target.outbox_id, "one_click": one_click })),
                },
            )?;
        }
        Ok(changed)
    })?;
    Ok(page(
        200,
        "Unsubscribed",
        "You will not receive account emails at this address any more.",
        false,
        if changed { "unsubscribed" } else { "already_unsubscribed" },
    ))
}
