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
use crate::base::locale::Language;
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

/// The page's words in a language.
struct Words {
    unsubscribe: &'static str,
    invalid_title: &'static str,
    invalid_text: &'static str,
    confirm_text: &'static str,
    done_title: &'static str,
    done_text: &'static str,
}

fn words(lang: Language) -> Words {
    match lang {
        Language::En => Words {
            unsubscribe: "Unsubscribe",
            invalid_title: "Link not valid",
            invalid_text: "This unsubscribe link is not valid or has expired. Reply to the email to ask us to stop.",
            confirm_text: "Press the button to stop receiving account emails at this address.",
            done_title: "Unsubscribed",
            done_text: "You will not receive account emails at this address any more.",
        },
        Language::Es => Words {
            unsubscribe: "Cancelar suscripción",
            invalid_title: "Enlace no válido",
            invalid_text: "Este enlace para cancelar la suscripción no es válido o ya venció. Responda al correo para pedirnos que dejemos de escribirle.",
            confirm_text: "Pulse el botón para dejar de recibir correos de su cuenta en esta dirección.",
            done_title: "Suscripción cancelada",
            done_text: "Ya no recibirá correos de su cuenta en esta dirección.",
        },
        Language::Fr => Words {
            unsubscribe: "Me désabonner",
            invalid_title: "Lien non valide",
            invalid_text: "Ce lien de désabonnement n'est pas valide ou a expiré. Répondez au courriel pour nous demander d'arrêter.",
            confirm_text: "Appuyez sur le bouton pour ne plus recevoir de courriels sur votre compte à cette adresse.",
            done_title: "Désabonnement confirmé",
            done_text: "Vous ne recevrez plus de courriels sur votre compte à cette adresse.",
        },
    }
}

fn page(status: u16, title: &str, text: &str, form: bool, outcome: &'static str) -> Page {
    page_in(Language::En, status, title, text, form, outcome, None)
}

/// A page in `lang`; `switch` is the token, to link the other languages
/// (`?lang=es` changes the words only).
fn page_in(lang: Language, status: u16, title: &str, text: &str, form: bool, outcome: &'static str, switch: Option<&str>) -> Page {
    let label = words(lang).unsubscribe;
    let button = if form {
        format!("<form method=\"post\"><input type=\"hidden\" name=\"confirm\" value=\"yes\"><button type=\"submit\">{label}</button></form>")
    } else {
        String::new()
    };
    let links = match switch {
        Some(token) => {
            let others: Vec<String> = Language::ALL
                .into_iter()
                .filter(|l| *l != lang)
                .map(|l| format!("<a href=\"/unsubscribe/{token}?lang={0}\" hreflang=\"{0}\" lang=\"{0}\">{1}</a>", l.as_str(), l.endonym()))
                .collect();
            format!("<p>{}</p>", others.join(" · "))
        }
        None => String::new(),
    };
    let lang = lang.as_str();
    Page {
        status,
        body: format!(
            "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"robots\" content=\"noindex\"><title>{title}</title></head>\
             <body style=\"font-family: sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem\">\
             <h1>{title}</h1><p>{text}</p>{button}{links}</body></html>"
        ),
        outcome,
        allow: None,
    }
}

fn invalid(lang: Language) -> Page {
    let w = words(lang);
    page_in(lang, 404, w.invalid_title, w.invalid_text, false, "invalid_link", None)
}

/// Answer one request for `/unsubscribe/{token}`, in the tenant's language.
pub fn handle(db: &dyn Db, link_key: &str, method: &str, token: &str, body: &[u8], now: DateTime<Utc>) -> Result<Page> {
    handle_in(db, link_key, method, token, body, now, None)
}

/// [`handle`] with the language asked for by `?lang=` (wins over the
/// tenant's; an unknown value is ignored by the caller).
pub fn handle_in(db: &dyn Db, link_key: &str, method: &str, token: &str, body: &[u8], now: DateTime<Utc>, asked: Option<Language>) -> Result<Page> {
    let method = method.to_ascii_uppercase();
    if method != "GET" && method != "POST" && method != "HEAD" {
        let mut p = page(405, "Not allowed", "Use the link in the email.", false, "method_not_allowed");
        p.allow = Some("GET, POST");
        return Ok(p);
    }
    crate::schema::migrate(db, now)?;
    let target = match links::resolve(db, link_key, Purpose::Unsubscribe, token, now)? {
        Ok(t) => t,
        Err(_) => return Ok(invalid(asked.unwrap_or_default())),
    };
    let lang = match asked {
        Some(l) => l,
        None => match crate::records::tenants::get(db, &target.tenant_id)? {
            Some(t) => {
                let property = crate::records::tenants::property(db, &t.property_id)?;
                crate::records::tenants::language_of(&t, property.as_ref())
            }
            None => Language::En,
        },
    };
    let w = words(lang);
    let Some(address) = target.address.filter(|_| target.channel == Channel::Email) else {
        return Ok(invalid(lang));
    };
    if method != "POST" {
        return Ok(page_in(lang, 200, w.unsubscribe, w.confirm_text, true, "confirm_page", Some(token)));
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
    Ok(page_in(lang, 200, w.done_title, w.done_text, false, if changed { "unsubscribed" } else { "already_unsubscribed" }, None))
}
