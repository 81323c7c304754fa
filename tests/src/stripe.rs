//! Signing payment webhooks the way Stripe does, for tests that play the
//! provider: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
//! "{t}.{body}")>`. Written apart from the product's verifier (which is
//! checked against the official library's vectors,
//! `tests/fixtures/stripe/vectors.json`), so a shared mistake cannot hide.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `Stripe-Signature` header for `body` signed at unix time `t`.
pub fn signature_header(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// A `checkout.session.*` event as Stripe sends it (the fields we read).
pub fn session_event(event_id: &str, kind: &str, session_id: &str, amount_cents: i64, payment_status: &str, tenant: &str, notice: &str) -> String {
    serde_json::json!({
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": chrono_now(),
        "type": kind,
        "livemode": false,
        "data": { "object": {
            "id": session_id,
            "object": "checkout.session",
            "amount_total": amount_cents,
            "currency": "usd",
            "client_reference_id": tenant,
            "metadata": { "tenant_id": tenant, "notice_id": notice },
            "mode": "payment",
            "payment_status": payment_status,
            "status": "complete"
        } }
    })
    .to_string()
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
