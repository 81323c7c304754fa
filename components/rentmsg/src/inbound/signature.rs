//! `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, URL + sorted params)).
//!
//! The string signed is the full URL the provider requested (as configured
//! publicly, query string included) followed by each POST field name and
//! value, names sorted, and for a repeated name its distinct values sorted —
//! exactly what Twilio's official `RequestValidator` computes (the fixtures
//! in `tests/fixtures/twilio/` were made by it). Like the official libraries,
//! the URL is tried as given, with its port made explicit and with the port
//! removed, because the provider's own URL handling is inconsistent about
//! default ports. Comparison is constant-time and every candidate is always
//! computed, so timing says nothing about which one matched.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::collections::{BTreeMap, BTreeSet};
use subtle::{Choice, ConstantTimeEq};

/// The request header carrying the signature.
pub const HEADER: &str = "X-Twilio-Signature";

/// Header naming another signing scheme (Twilio "SharedKey" webhooks);
/// only the auth-token HMAC-SHA1 scheme is accepted.
pub const SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";

/// The signature of a request: `url` exactly as the provider requested it,
/// `params` the decoded form fields (any order, names may repeat).
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    match Signer::new(auth_token, params) {
        Some(signer) => signer.sign(url),
        None => String::new(),
    }
}

/// Signs one request's fields under several URLs: the fields are sorted
/// and the key prepared once.
struct Signer<'p> {
    /// HMAC state after the key.
    keyed: Hmac<Sha1>,
    /// Names sorted, and per name its distinct values sorted (byte order of
    /// UTF-8 is code point order, as in the official library).
    fields: BTreeMap<&'p str, BTreeSet<&'p str>>,
}

impl<'p> Signer<'p> {
    fn new(auth_token: &str, params: &'p [(String, String)]) -> Option<Self> {
        let mut fields: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (name, value) in params {
            fields.entry(name.as_str()).or_default().insert(value.as_str());
        }
        // HMAC accepts keys of any length; new_from_slice cannot fail for it.
        let keyed = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).ok()?;
        Some(Signer { keyed, fields })
    }

    fn sign(&self, url: &str) -> String {
        let mut mac = self.keyed.clone();
        mac.update(url.as_bytes());
        for (name, values) in &self.fields {
            for value in values {
                mac.update(name.as_bytes());
                mac.update(value.as_bytes());
            }
        }
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }
}

/// Where the host[:port] part of an absolute URL sits: `(start, end, port
/// start)` byte offsets, `port start` pointing at the `:` when a port is
/// written.
fn authority(url: &str) -> Option<(usize, usize, Option<usize>)> {
    let start = url.find("://")? + 3;
    let end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    let host = &url[host_start..end];
    let port = if host.starts_with('[') {
        host.find("]:").map(|i| host_start + i + 1)
    } else {
        host.rfind(':').map(|i| host_start + i)
    };
    let port = port.filter(|&p| {
        let digits = &url[p + 1..end];
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    Some((start, end, port))
}

/// The URL with its port written out (443 for https, otherwise 80, as the
/// official libraries do) and without any port.
pub fn port_variants(url: &str) -> (String, String) {
    let Some((_, end, port)) = authority(url) else {
        return (url.to_owned(), url.to_owned());
    };
    match port {
        Some(p) => (url.to_owned(), format!("{}{}", &url[..p], &url[end..])),
        None => {
            let default = if url.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("https:")) { 443 } else { 80 };
            (format!("{}:{default}{}", &url[..end], &url[end..]), url.to_owned())
        }
    }
}

/// Does `signature` sign this request? Tries the URL as given, with and
/// without its port. An empty auth token verifies nothing (fail closed).
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    if auth_token.is_empty() {
        return false;
    }
    let Some(signer) = Signer::new(auth_token, params) else {
        return false;
    };
    let presented = signature.trim().as_bytes();
    let (with_port, without_port) = port_variants(url);
    // One of the variants is the URL itself: each distinct URL is signed
    // once. Which ones are distinct depends on the URL alone, so skipping a
    // repeat says nothing about the token or the signature.
    let mut ok = Choice::from(0);
    for (i, candidate) in [url, with_port.as_str(), without_port.as_str()].into_iter().enumerate() {
        let repeat = (i >= 1 && candidate == url) || (i == 2 && candidate == with_port);
        if !repeat {
            ok |= signer.sign(candidate).as_bytes().ct_eq(presented);
        }
    }
    ok.into()
}

/// The public URL of a request: `public_base_url` (its trailing `/`
/// dropped) followed by the request's path and query as received.
pub fn public_url(public_base_url: &str, path_and_query: &str) -> String {
    format!("{}{}", public_base_url.trim().trim_end_matches('/'), path_and_query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn twilio_documented_example() {
        // The worked example from Twilio's webhook security documentation.
        let params = p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let token = "12345";
        let sig = compute(token, url, &params);
        assert_eq!(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(verify(token, url, &params, &sig));
        assert!(verify(token, "https://mycompany.com:443/myapp.php?foo=1&bar=2", &params, &sig));
        assert!(!verify(token, "https://mycompany.com/myapp.php?foo=1&bar=3", &params, &sig));
        assert!(!verify("54321", url, &params, &sig));
        assert!(!verify("", url, &params, &sig));
        let mut tampered = params.clone();
        tampered[2].1 = "1235".into();
        assert!(!verify(token, url, &tampered, &sig));
        // Signed with the default port removed or written out, whichever way the URL came.
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert!(verify(token, with_port, &params, &sig));
        assert!(verify(token, url, &params, &compute(token, with_port, &params)));
        // Field order in the body does not matter.
        let mut reordered = params.clone();
        reordered.reverse();
        assert!(verify(token, url, &reordered, &sig));
    }

    #[test]
    fn ports() {
        let cases = [
            ("https://example.com/x?y=1", "https://example.com:443/x?y=1", "https://example.com/x?y=1"),
            ("https://example.com:443/x", "https://example.com:443/x", "https://example.com/x"),
            ("http://127.0.0.1:3000/webhooks/sms", "http://127.0.0.1:3000/webhooks/sms", "http://127.0.0.1/webhooks/sms"),
            ("http://example.com", "http://example.com:80", "http://example.com"),
            ("https://u:pw@example.com/x", "https://u:pw@example.com:443/x", "https://u:pw@example.com/x"),
            ("http://[::1]:8080/a", "http://[::1]:8080/a", "http://[::1]/a"),
            ("http://[::1]/a", "http://[::1]:80/a", "http://[::1]/a"),
            ("not a url", "not a url", "not a url"),
        ];
        for (url, with, without) in cases {
            assert_eq!(port_variants(url), (with.to_owned(), without.to_owned()), "{url}");
        }
    }

    #[test]
    fn public_urls() {
        assert_eq!(public_url("https://rent.example.com/", "/webhooks/sms?a=1"), "https://rent.example.com/webhooks/sms?a=1");
        assert_eq!(public_url(" http://127.0.0.1:3000 ", "/webhooks/sms"), "http://127.0.0.1:3000/webhooks/sms");
    }
}
