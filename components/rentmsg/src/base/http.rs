//! The one HTTP request and response type of the HTTP-independent cores
//! (staff API, SMS webhook, payment pages): components turn Spin's request
//! into a [`Request`], call the core, and write the [`Response`] back
//! (with feature `spin`: [`Request::from_spin`], [`Request::from_incoming`]
//! and [`Response::into_spin`], so every component converts the same way).

use serde::Serialize;
use std::borrow::Cow;

/// An HTTP request, as the component received it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Method as received (`GET`, `POST`...); cores compare it case-insensitively.
    pub method: String,
    /// Path with optional query (`/api/tenants?limit=10`), percent-encoded.
    pub path: String,
    /// Header names and values (names case-insensitive).
    pub headers: Vec<(String, String)>,
    /// The whole body (or as much as the component chose to read).
    pub body: Vec<u8>,
    /// The client's address (`ip:port`, from Spin's `spin-client-addr`),
    /// when the host says; only ever stored as a keyed hash.
    pub client_addr: Option<String>,
}

impl Request {
    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The path without the query.
    pub fn path_only(&self) -> &str {
        self.path.split_once('?').map_or(self.path.as_str(), |(p, _)| p)
    }

    /// The query string without the `?` (empty when there is none).
    pub fn query(&self) -> &str {
        self.path.split_once('?').map_or("", |(_, q)| q)
    }
}

/// First value of a header in `headers` (case-insensitive name).
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// An HTTP response to write back, with what the component should log
/// about it. The log fields never reach the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers to send, the content type among them.
    pub headers: Vec<(String, String)>,
    /// The body to send.
    pub body: Vec<u8>,
    /// The route template that answered, for logs (never the raw path,
    /// which can hold phone numbers, emails or link tokens).
    pub route: Option<&'static str>,
    /// What happened, for logs (`opted_out`, `forged`, `page`,
    /// `checkout`...), where the core names it.
    pub outcome: Option<&'static str>,
    /// Further facts for the log line (ids, counts, effects; never personal
    /// data), where the core gives them.
    pub log: serde_json::Map<String, serde_json::Value>,
    /// Internal detail for the component's log on 5xx answers (database
    /// error text only).
    pub diagnostic: Option<String>,
}

impl Response {
    /// A response with this content type and body, nothing to log yet.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            route: None,
            outcome: None,
            log: serde_json::Map::new(),
            diagnostic: None,
        }
    }

    /// A JSON response.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{\"error\":\"serialization failed\"}".to_vec());
        Self::new(status, "application/json", body)
    }

    /// `{"error": message}` with this status.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self::json(status, &serde_json::json!({ "error": message.into() }))
    }

    /// The same response with one more header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The body parsed as JSON (tests, tools).
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The body as text, invalid UTF-8 replaced (tests, logs).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// First value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

#[cfg(feature = "spin")]
impl Request {
    /// Spin's buffered request, body included.
    pub fn from_spin(req: &spin_sdk::http::Request) -> Self {
        let headers: Vec<(String, String)> =
            req.headers().filter_map(|(k, v)| Some((k.to_string(), v.as_str()?.to_string()))).collect();
        Request {
            method: req.method().to_string(),
            path: req.path_and_query().unwrap_or("/").to_string(),
            client_addr: header(&headers, "spin-client-addr").map(str::to_owned),
            headers,
            body: req.body().to_vec(),
        }
    }

    /// Method, path and headers of Spin's streamed request; the body is
    /// left empty for the caller to read as it sees fit (capped, say).
    pub fn from_incoming(req: &spin_sdk::http::IncomingRequest) -> Self {
        let headers: Vec<(String, String)> = req
            .headers()
            .entries()
            .into_iter()
            .filter_map(|(name, value)| Some((name, String::from_utf8(value).ok()?)))
            .collect();
        Request {
            method: req.method().to_string(),
            path: req.path_with_query().unwrap_or_else(|| "/".to_owned()),
            client_addr: header(&headers, "spin-client-addr").map(str::to_owned),
            headers,
            body: Vec::new(),
        }
    }
}

#[cfg(feature = "spin")]
impl Response {
    /// Spin's response: status, headers and body (the log fields stay behind).
    pub fn into_spin(self) -> spin_sdk::http::Response {
        let mut builder = spin_sdk::http::Response::builder();
        builder.status(self.status);
        for (name, value) in &self.headers {
            builder.header(name.as_str(), value.as_str());
        }
        builder.body(self.body).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_query_split_at_the_first_question_mark() {
        let r = Request { path: "/pay/tok?paid=1&x=?".into(), ..Default::default() };
        assert_eq!((r.path_only(), r.query()), ("/pay/tok", "paid=1&x=?"));
        let r = Request { path: "/webhooks/sms".into(), ..Default::default() };
        assert_eq!((r.path_only(), r.query()), ("/webhooks/sms", ""));
    }
}
