//! The one HTTP request and response type of the HTTP-independent cores
//! (staff API, SMS webhook, payment pages): components turn Spin's request
//! into a [`Request`], call the core, and write the [`Response`] back.

use serde::Serialize;

/// An HTTP request, as the component received it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Upper-case method (`GET`, `POST`...).
    pub method: String,
    /// Path with optional query (`/api/tenants?limit=10`), percent-encoded.
    pub path: String,
    /// Header names and values (names case-insensitive).
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Request {
    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// First value of a header in `headers` (case-insensitive name).
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// An HTTP response to write back.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers (always a JSON content type).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: Vec<u8>,
    /// The route template that answered, for logs (never the raw path,
    /// which can hold phone numbers or emails).
    pub route: Option<&'static str>,
    /// Internal detail for the component's log on 5xx answers (no personal
    /// data: database error text only). Never sent to the client.
    pub diagnostic: Option<String>,
}

impl Response {
    /// A JSON response.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{\"error\":\"serialization failed\"}".to_vec());
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
            route: None,
            diagnostic: None,
        }
    }

    /// `{"error": message}` with this status.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self::json(status, &serde_json::json!({ "error": message.into() }))
    }

    /// The body parsed as JSON (tests, tools).
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// First value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

