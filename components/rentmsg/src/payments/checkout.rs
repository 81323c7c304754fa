//! Stripe-compatible checkout sessions: `POST {base}/v1/checkout/sessions`,
//! form-encoded, Bearer secret key, `Idempotency-Key`; the reply has `id`
//! and `url`.

use crate::sending::providers::{HttpRequest, HttpResponse};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters left as they are in form values (RFC 3986 unreserved).
const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// What to charge and where to send the payer back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest {
    /// The amount in cents (the current balance).
    pub amount_cents: i64,
    /// ISO currency code, lower case (`usd`).
    pub currency: String,
    /// Line item name (`Rent balance, Maple Court unit 1A`).
    pub product_name: String,
    /// Where the provider sends the payer after paying.
    pub success_url: String,
    /// Where it sends them if they go back.
    pub cancel_url: String,
    /// `client_reference_id`: the tenant id.
    pub tenant_id: String,
    /// `metadata[notice_id]`: the outbox row whose link was used.
    pub notice_id: i64,
    /// `Idempotency-Key`: the same for the same tenant, notice and balance,
    /// so a double tap gives the same session.
    pub idempotency_key: String,
}

/// A created session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `cs_...`.
    pub id: String,
    /// Where to send the payer.
    pub url: String,
}

/// Why no session came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutError {
    /// The provider refused (status and its message).
    #[error("the payment provider refused the checkout ({0}): {1}")]
    Refused(u16, String),
    /// The reply was not a session with an id and an http(s) url.
    #[error("the payment provider's reply has no session id and url")]
    BadReply,
}

fn pair(out: &mut String, k: &str, v: &str) {
    if !out.is_empty() {
        out.push('&');
    }
    out.push_str(&utf8_percent_encode(k, FORM).to_string());
    out.push('=');
    out.push_str(&utf8_percent_encode(v, FORM).to_string());
}

/// The form body of the request.
pub fn form_body(r: &SessionRequest) -> String {
    let mut s = String::new();
    pair(&mut s, "mode", "payment");
    pair(&mut s, "line_items[0][price_data][currency]", &r.currency);
    pair(&mut s, "line_items[0][price_data][unit_amount]", &r.amount_cents.to_string());
    pair(&mut s, "line_items[0][price_data][product_data][name]", &r.product_name);
    pair(&mut s, "line_items[0][quantity]", "1");
    pair(&mut s, "success_url", &r.success_url);
    pair(&mut s, "cancel_url", &r.cancel_url);
    pair(&mut s, "client_reference_id", &r.tenant_id);
    pair(&mut s, "metadata[tenant_id]", &r.tenant_id);
    pair(&mut s, "metadata[notice_id]", &r.notice_id.to_string());
    pair(&mut s, "payment_intent_data[metadata][tenant_id]", &r.tenant_id);
    pair(&mut s, "payment_intent_data[metadata][notice_id]", &r.notice_id.to_string());
    s
}

/// The HTTP request creating the session.
pub fn build(api_base: &str, secret_key: &str, r: &SessionRequest) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        url: format!("{}/v1/checkout/sessions", api_base.trim_end_matches('/')),
        headers: vec![
            ("authorization".into(), format!("Bearer {secret_key}")),
            ("content-type".into(), "application/x-www-form-urlencoded".into()),
            ("idempotency-key".into(), r.idempotency_key.clone()),
            ("accept".into(), "application/json".into()),
        ],
        body: form_body(r).into_bytes(),
    }
}

/// Read the provider's answer.
pub fn parse(resp: &HttpResponse) -> Result<Session, CheckoutError> {
    let json: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    if !(200..300).contains(&resp.status) {
        let msg = json["error"]["message"].as_str().unwrap_or("no message").chars().take(200).collect();
        return Err(CheckoutError::Refused(resp.status, msg));
    }
    let id = json["id"].as_str().filter(|s| !s.is_empty() && s.len() <= 255).ok_or(CheckoutError::BadReply)?;
    let url = json["url"]
        .as_str()
        .filter(|u| (u.starts_with("https://") || u.starts_with("http://")) && !u.contains(['\r', '\n']))
        .ok_or(CheckoutError::BadReply)?;
    Ok(Session { id: id.to_owned(), url: url.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shape_and_replies() {
        let r = SessionRequest {
            amount_cents: 120_000,
            currency: "usd".into(),
            product_name: "Rent balance, Maple Court unit 1A".into(),
            success_url: "https://rent.example/pay/T?paid=1".into(),
            cancel_url: "https://rent.example/pay/T".into(),
            tenant_id: "A".into(),
            notice_id: 7,
            idempotency_key: "checkout-7-120000-0".into(),
        };
        let req = build("https://api.stripe.com/", "sk_test_x", &r);
        assert_eq!(req.url, "https://api.stripe.com/v1/checkout/sessions");
        assert_eq!(req.header("authorization"), Some("Bearer sk_test_x"));
        assert_eq!(req.header("idempotency-key"), Some("checkout-7-120000-0"));
        let body = String::from_utf8(req.body).unwrap();
        assert!(body.starts_with("mode=payment&line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=usd&"), "{body}");
        assert!(body.contains("line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=120000"));
        assert!(body.contains("success_url=https%3A%2F%2Frent.example%2Fpay%2FT%3Fpaid%3D1"));
        assert!(body.contains("metadata%5Bnotice_id%5D=7"));
        let ok = HttpResponse { status: 200, headers: vec![], body: br#"{"id":"cs_1","url":"https://pay.example/cs_1"}"#.to_vec() };
        assert_eq!(parse(&ok).unwrap(), Session { id: "cs_1".into(), url: "https://pay.example/cs_1".into() });
        let bad = HttpResponse { status: 200, headers: vec![], body: br#"{"id":"cs_1","url":"javascript:alert(1)"}"#.to_vec() };
        assert_eq!(parse(&bad), Err(CheckoutError::BadReply));
        let refused = HttpResponse { status: 401, headers: vec![], body: br#"{"error":{"message":"Invalid API Key"}}"#.to_vec() };
        assert_eq!(parse(&refused), Err(CheckoutError::Refused(401, "Invalid API Key".into())));
    }
}
