//! SMS (Twilio-compatible) and email (Postmark-compatible) requests and
//! answers, as pure functions over plain HTTP values (Twilio's Messages
//! API and Postmark's email API, as their tests below pin them). The transport is the [`HttpClient`]
//! trait: wasi-http in the component, a fake in native tests.
//!
//! How answers are read:
//! - 2xx with the provider's message id: accepted.
//! - a Twilio error code that is about the number
//!   ([`crate::records::number_states::verdict`], the one table of them):
//!   opted out at the carrier is a STOP, invalid for texting marks the
//!   number, as the same code in a status callback does.
//! - 401 / 403: our credentials are wrong; nothing was sent, nothing is
//!   marked failed, the pass stops (fix the configuration).
//! - 429 and 5xx: the provider did not take it; retry later with backoff
//!   (its `Retry-After` is honoured).
//! - other 4xx: final failure with the provider's code and message.
//!
//! Neither API takes an idempotency key for sends, so the outbox row's id
//! travels with the message for reconciliation by hand: Postmark as
//! `Metadata.notice_id` and an `X-Rentmsg-Notice` header (searchable in
//! its activity), Twilio only through the outbox's intent record (see
//! `outbox` for what guarantees at-most-once).

use crate::records::number_states::{verdict, CarrierVerdict};
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::json;

/// An HTTP request to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `POST`, `GET`...
    pub method: String,
    /// Absolute URL.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// First value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The headers as they go on the wire: names lower-cased, framing
    /// headers the caller set dropped, and `content-length` for the body.
    /// The body is always known in full, and without the length the
    /// request would go out chunked, which the providers' own client
    /// libraries never send.
    pub fn wire_headers(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .filter(|(k, _)| k != "content-length" && k != "transfer-encoding")
            .collect();
        let bodiless = self.body.is_empty() && matches!(self.method.as_str(), "GET" | "HEAD");
        if !bodiless {
            out.push(("content-length".into(), self.body.len().to_string()));
        }
        out
    }
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// First value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// It never reached the provider (DNS, refused, connect timeout, not
    /// allowed by `allowed_outbound_hosts`): safe to try again.
    #[error("not sent: {0}")]
    NotSent(String),
    /// It may have reached the provider but no answer came (read timeout,
    /// connection reset): the provider may have accepted the message.
    #[error("no answer: {0}")]
    NoAnswer(String),
}

/// The caller's name for a request started with [`HttpClient::start`].
pub type CallId = u64;

/// What [`HttpClient::start`] did with a request.
#[derive(Debug)]
pub enum Started {
    /// Sent and answered already: a client that sends one at a time.
    Answered(Result<HttpResponse, TransportError>),
    /// On its way: its answer comes out of [`HttpClient::collect`].
    InFlight,
}

/// An answer collected for a started request.
pub type Collected = (CallId, Result<HttpResponse, TransportError>);

/// Makes HTTP requests. `send` is all a client must do; a client that can
/// keep several requests in flight also overrides `start` and `collect`, so
/// that one caller thread overlaps provider latency without threads of its
/// own (the send pass keeps its database steps on that thread).
pub trait HttpClient {
    /// Send one request and read the whole answer.
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError>;

    /// Start `request` as call `id` without waiting for its answer. The
    /// default sends it now and hands the answer back at once.
    fn start(&self, id: CallId, request: &HttpRequest) -> Started {
        let _ = id;
        Started::Answered(self.send(request))
    }

    /// Answers of started calls: waits until at least one is in or `wait`
    /// has passed (`None`: as long as the calls take), then returns every
    /// answer in by then. Empty when nothing is in flight or time ran out.
    fn collect(&self, wait: Option<std::time::Duration>) -> Vec<Collected> {
        let _ = wait;
        Vec::new()
    }
}

/// Any [`HttpClient`] with calls in flight at once, one thread per call
/// (native tools and tests; a component uses `spin_io::WasiHttp`).
#[cfg(feature = "native")]
pub struct ThreadedHttp<C> {
    client: std::sync::Arc<C>,
    tx: std::sync::mpsc::Sender<Collected>,
    rx: std::sync::mpsc::Receiver<Collected>,
    in_flight: std::cell::Cell<usize>,
}

#[cfg(feature = "native")]
impl<C: HttpClient + Send + Sync + 'static> ThreadedHttp<C> {
    /// Wrap `client`.
    pub fn new(client: std::sync::Arc<C>) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        ThreadedHttp { client, tx, rx, in_flight: std::cell::Cell::new(0) }
    }
}

#[cfg(feature = "native")]
impl<C: HttpClient + Send + Sync + 'static> HttpClient for ThreadedHttp<C> {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.client.send(request)
    }

    fn start(&self, id: CallId, request: &HttpRequest) -> Started {
        let (client, tx, request) = (self.client.clone(), self.tx.clone(), request.clone());
        let spawned = std::thread::Builder::new().name(format!("http-call-{id}")).spawn(move || {
            let answer = client.send(&request);
            let _ = tx.send((id, answer));
        });
        match spawned {
            Ok(_) => {
                self.in_flight.set(self.in_flight.get() + 1);
                Started::InFlight
            }
            // The request never left: the thread that would send it did not start.
            Err(e) => Started::Answered(Err(TransportError::NotSent(format!("no thread for the call: {e}")))),
        }
    }

    fn collect(&self, wait: Option<std::time::Duration>) -> Vec<Collected> {
        if self.in_flight.get() == 0 {
            return Vec::new();
        }
        let first = match wait {
            None => self.rx.recv().ok(),
            Some(w) => self.rx.recv_timeout(w).ok(),
        };
        let out: Vec<Collected> = first.into_iter().chain(self.rx.try_iter()).collect();
        self.in_flight.set(self.in_flight.get().saturating_sub(out.len()));
        out
    }
}

/// SMS provider settings (Spin variables `sms_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsConfig {
    /// `sms_api_base`, e.g. `https://api.twilio.com`.
    pub api_base: String,
    /// `sms_account_sid`.
    pub account_sid: String,
    /// `sms_auth_token`.
    pub auth_token: String,
    /// `sms_from`: an E.164 number, or a messaging service id (`MG...`).
    pub from: String,
    /// Delivery status callback URL (`{public_base_url}/webhooks/sms/status`).
    pub status_callback: String,
}

/// Email provider settings (Spin variables `email_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    /// `email_api_base`, e.g. `https://api.postmarkapp.com`.
    pub api_base: String,
    /// `email_api_token` (Postmark server token).
    pub server_token: String,
    /// `email_from`.
    pub from: String,
    /// Postmark message stream.
    pub message_stream: String,
}

/// Form-urlencoding: everything but unreserved characters is escaped.
const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", utf8_percent_encode(k, FORM), utf8_percent_encode(v, FORM)))
        .collect::<Vec<_>>()
        .join("&")
}

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`: form fields `To`,
/// `From` (or `MessagingServiceSid`), `Body`, `StatusCallback`; HTTP Basic.
pub fn twilio_request(cfg: &SmsConfig, to: &str, body: &str) -> HttpRequest {
    let from_field = if cfg.from.starts_with("MG") { "MessagingServiceSid" } else { "From" };
    let mut fields = vec![("To", to), (from_field, cfg.from.as_str()), ("Body", body)];
    if !cfg.status_callback.is_empty() {
        fields.push(("StatusCallback", cfg.status_callback.as_str()));
    }
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", cfg.account_sid, cfg.auth_token));
    HttpRequest {
        method: "POST".into(),
        url: format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            base(&cfg.api_base),
            utf8_percent_encode(&cfg.account_sid, FORM)
        ),
        headers: vec![
            ("Authorization".into(), format!("Basic {credentials}")),
            ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: form(&fields).into_bytes(),
    }
}

/// One email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email<'a> {
    /// Recipient.
    pub to: &'a str,
    pub subject: &'a str,
    /// Plain-text body.
    pub text_body: &'a str,
    /// The one-click unsubscribe URL (RFC 8058).
    pub unsubscribe_url: &'a str,
    /// The outbox row's reference (an opaque id, no personal data).
    pub notice_ref: &'a str,
}

/// `POST {base}/email` with `X-Postmark-Server-Token`; JSON `From`, `To`,
/// `Subject`, `TextBody`, `MessageStream`, `Headers` (RFC 8058
/// `List-Unsubscribe` + `List-Unsubscribe-Post`, and the notice reference),
/// `Metadata.notice_id`.
pub fn postmark_request(cfg: &EmailConfig, email: &Email<'_>) -> HttpRequest {
    let body = json!({
        "From": cfg.from,
        "To": email.to,
        "Subject": email.subject,
        "TextBody": email.text_body,
        "MessageStream": cfg.message_stream,
        "Headers": [
            { "Name": "List-Unsubscribe", "Value": format!("<{}>", email.unsubscribe_url) },
            { "Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click" },
            { "Name": "X-Rentmsg-Notice", "Value": email.notice_ref },
        ],
        "Metadata": { "notice_id": email.notice_ref },
    });
    HttpRequest {
        method: "POST".into(),
        url: format!("{}/email", base(&cfg.api_base)),
        headers: vec![
            ("X-Postmark-Server-Token".into(), cfg.server_token.clone()),
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: body.to_string().into_bytes(),
    }
}

/// What a provider's answer means for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Taken: the provider's message id and status.
    Accepted {
        /// Twilio `sid` / Postmark `MessageID`.
        provider_id: String,
        /// `queued`, `accepted`, `sent`...
        status: String,
    },
    /// Refused for good (4xx): the provider's code and reason.
    Rejected {
        /// Provider error code.
        code: Option<String>,
        /// Provider message.
        reason: String,
    },
    /// The recipient opted out at the carrier (Twilio 21610): record a STOP.
    OptedOut {
        /// Provider error code.
        code: String,
        /// Provider message.
        reason: String,
    },
    /// Refused because the number cannot receive texts (Twilio 21211,
    /// 21614...): the message fails and the number is marked.
    InvalidNumber {
        /// Provider error code.
        code: String,
        /// Provider message.
        reason: String,
    },
    /// Not taken, try again later (429, 5xx).
    Retry {
        /// What happened.
        reason: String,
        /// The provider's `Retry-After`, seconds.
        after_seconds: Option<i64>,
    },
    /// Our credentials were refused (401 / 403): nothing was sent.
    AuthFailed {
        /// What the provider said.
        reason: String,
    },
}

fn retry_after(resp: &HttpResponse) -> Option<i64> {
    resp.header("retry-after").and_then(|v| v.trim().parse::<i64>().ok()).filter(|s| (0..=86_400).contains(s))
}

fn text_of(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Read a Twilio answer (201 with `sid`; errors `{code, message, status}`).
pub fn parse_twilio(resp: &HttpResponse) -> Outcome {
    let json: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or(serde_json::Value::Null);
    let code = text_of(&json["code"]);
    let message = json["message"].as_str().map(str::to_owned).unwrap_or_else(|| format!("HTTP {}", resp.status));
    match resp.status {
        200..=299 => match json["sid"].as_str().filter(|s| !s.is_empty()) {
            Some(sid) => Outcome::Accepted {
                provider_id: sid.to_owned(),
                status: json["status"].as_str().unwrap_or("queued").to_owned(),
            },
            // A success without an id cannot be tracked, but the provider
            // took it: never retried (that could send it twice).
            None => Outcome::Accepted { provider_id: String::new(), status: "accepted".into() },
        },
        401 | 403 => Outcome::AuthFailed { reason: format!("HTTP {}: {message}", resp.status) },
        429 => Outcome::Retry { reason: format!("HTTP 429: {message}"), after_seconds: retry_after(resp) },
        400..=499 => match code {
            Some(code) => match verdict(&code) {
                Some(CarrierVerdict::OptedOut) => Outcome::OptedOut { code, reason: message },
                Some(CarrierVerdict::InvalidForTexting) => Outcome::InvalidNumber { code, reason: message },
                None => Outcome::Rejected { code: Some(code), reason: message },
            },
            None => Outcome::Rejected { code: None, reason: message },
        },
        _ => Outcome::Retry { reason: format!("HTTP {}: {message}", resp.status), after_seconds: retry_after(resp) },
    }
}

/// Read a Postmark answer (200 with `MessageID` and `ErrorCode` 0; errors
/// `{ErrorCode, Message}`, mostly 422).
pub fn parse_postmark(resp: &HttpResponse) -> Outcome {
    let json: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or(serde_json::Value::Null);
    let code = text_of(&json["ErrorCode"]);
    let message = json["Message"].as_str().map(str::to_owned).unwrap_or_else(|| format!("HTTP {}", resp.status));
    match resp.status {
        200..=299 if code.as_deref().is_none_or(|c| c == "0") => Outcome::Accepted {
            provider_id: json["MessageID"].as_str().unwrap_or_default().to_owned(),
            status: "sent".into(),
        },
        200..=299 => Outcome::Rejected { code, reason: message },
        401 | 403 => Outcome::AuthFailed { reason: format!("HTTP {}: {message}", resp.status) },
        429 => Outcome::Retry { reason: format!("HTTP 429: {message}"), after_seconds: retry_after(resp) },
        400..=499 => Outcome::Rejected { code, reason: message },
        _ => Outcome::Retry { reason: format!("HTTP {}: {message}", resp.status), after_seconds: retry_after(resp) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sms() -> SmsConfig {
        SmsConfig {
            api_base: "https://api.twilio.com/".into(),
            account_sid: "AC0123".into(),
            auth_token: "tok".into(),
            from: "+15005550006".into(),
            status_callback: "https://app.example/webhooks/sms/status".into(),
        }
    }

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, headers: vec![], body: body.as_bytes().to_vec() }
    }

    #[test]
    fn wire_headers_carry_the_body_length_not_chunking() {
        let r = twilio_request(&sms(), "+12125550101", "Hello");
        let wire = r.wire_headers();
        assert_eq!(wire.iter().filter(|(k, _)| k == "content-length").collect::<Vec<_>>(), [&("content-length".to_owned(), r.body.len().to_string())]);
        assert!(wire.iter().all(|(k, _)| k == &k.to_ascii_lowercase()));
        assert!(wire.iter().any(|(k, v)| k == "content-type" && v == "application/x-www-form-urlencoded"));
        let mut stale = r.clone();
        stale.headers.push(("Content-Length".into(), "1".into()));
        stale.headers.push(("Transfer-Encoding".into(), "chunked".into()));
        assert_eq!(stale.wire_headers(), wire, "a caller's framing headers are replaced");
        let get = HttpRequest { method: "GET".into(), url: "https://x.example/".into(), headers: vec![], body: vec![] };
        assert!(get.wire_headers().is_empty());
        let empty_post = HttpRequest { method: "POST".into(), ..get };
        assert_eq!(empty_post.wire_headers(), [("content-length".to_owned(), "0".to_owned())]);
    }

    #[test]
    fn twilio_request_wire_format() {
        let r = twilio_request(&sms(), "+14155552671", "Hi & bye: 100% ✓");
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "https://api.twilio.com/2010-04-01/Accounts/AC0123/Messages.json");
        assert_eq!(r.header("authorization"), Some("Basic QUMwMTIzOnRvaw=="));
        assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"));
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "To=%2B14155552671&From=%2B15005550006&Body=Hi%20%26%20bye%3A%20100%25%20%E2%9C%93&StatusCallback=https%3A%2F%2Fapp.example%2Fwebhooks%2Fsms%2Fstatus"
        );
        let mut cfg = sms();
        cfg.from = "MG9752274e9e519418a7406176694466fa".into();
        let r = twilio_request(&cfg, "+14155552671", "x");
        assert!(String::from_utf8(r.body).unwrap().contains("MessagingServiceSid=MG9752274e9e519418a7406176694466fa"));
    }

    #[test]
    fn twilio_answers() {
        let cases = [
            (resp(201, r#"{"sid":"SM123","status":"queued"}"#), Outcome::Accepted { provider_id: "SM123".into(), status: "queued".into() }),
            (
                resp(400, r#"{"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400}"#),
                Outcome::OptedOut { code: "21610".into(), reason: "Attempt to send to unsubscribed recipient".into() },
            ),
            (
                resp(400, r#"{"code":21211,"message":"The 'To' number is not a valid phone number.","status":400}"#),
                Outcome::InvalidNumber { code: "21211".into(), reason: "The 'To' number is not a valid phone number.".into() },
            ),
            (resp(401, r#"{"code":20003,"message":"Authenticate"}"#), Outcome::AuthFailed { reason: "HTTP 401: Authenticate".into() }),
            (resp(503, "down"), Outcome::Retry { reason: "HTTP 503: HTTP 503".into(), after_seconds: None }),
        ];
        for (r, want) in cases {
            assert_eq!(parse_twilio(&r), want);
        }
        let mut limited = resp(429, r#"{"code":20429,"message":"Too Many Requests"}"#);
        limited.headers.push(("Retry-After".into(), "7".into()));
        assert_eq!(parse_twilio(&limited), Outcome::Retry { reason: "HTTP 429: Too Many Requests".into(), after_seconds: Some(7) });
    }

    #[test]
    fn postmark_request_wire_format() {
        let cfg = EmailConfig {
            api_base: "https://api.postmarkapp.com".into(),
            server_token: "server-token".into(),
            from: "billing@maple.example".into(),
            message_stream: "outbound".into(),
        };
        let r = postmark_request(
            &cfg,
            &Email {
                to: "pat@example.com",
                subject: "Past due",
                text_body: "Pay now",
                unsubscribe_url: "https://app.example/unsubscribe/abc",
                notice_ref: "n-42",
            },
        );
        assert_eq!(r.url, "https://api.postmarkapp.com/email");
        assert_eq!(r.header("x-postmark-server-token"), Some("server-token"));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["From"], "billing@maple.example");
        assert_eq!(body["To"], "pat@example.com");
        assert_eq!(body["MessageStream"], "outbound");
        assert_eq!(body["Headers"][0], json!({"Name": "List-Unsubscribe", "Value": "<https://app.example/unsubscribe/abc>"}));
        assert_eq!(body["Headers"][1], json!({"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"}));
        assert_eq!(body["Metadata"], json!({"notice_id": "n-42"}));
    }

    #[test]
    fn postmark_answers() {
        let ok = resp(200, r#"{"To":"pat@example.com","SubmittedAt":"2024-06-01T12:00:00Z","MessageID":"b7bc2f4a-e38e-4336-af7d-e6c392c2f817","ErrorCode":0,"Message":"OK"}"#);
        assert_eq!(parse_postmark(&ok), Outcome::Accepted { provider_id: "b7bc2f4a-e38e-4336-af7d-e6c392c2f817".into(), status: "sent".into() });
        let inactive = resp(422, r#"{"ErrorCode":406,"Message":"You tried to send to recipient(s) that have been marked as inactive."}"#);
        assert_eq!(
            parse_postmark(&inactive),
            Outcome::Rejected { code: Some("406".into()), reason: "You tried to send to recipient(s) that have been marked as inactive.".into() }
        );
        assert!(matches!(parse_postmark(&resp(401, r#"{"ErrorCode":10,"Message":"Bad or missing Server API token."}"#)), Outcome::AuthFailed { .. }));
        assert!(matches!(parse_postmark(&resp(500, "")), Outcome::Retry { .. }));
    }
}
