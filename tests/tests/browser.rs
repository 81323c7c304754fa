//! The headless-browser driver itself: it sees the page's text, clicks,
//! types, follows form posts, and catches console errors and exceptions.

use e2e::browser::Browser;
use e2e::FakeServer;

const PAGE: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Probe</title>
<link rel="icon" href="data:,"></head><body><h1>Hello probe</h1><p hidden>secret text</p>
<form method="post" action="/submitted"><label for="n">Name</label><input id="n" name="n"><button type="submit">Send</button></form>
</body></html>"#;

fn server() -> FakeServer {
    FakeServer::start(|r| match (r.method.as_str(), r.url.as_str()) {
        ("GET", "/") => (200, "text/html; charset=utf-8".into(), PAGE.into()),
        ("GET", "/noisy") => (
            200,
            "text/html; charset=utf-8".into(),
            r#"<!doctype html><html><head><link rel="icon" href="data:,"></head><body>noisy<script>console.error("boom"); undefinedFn();</script></body></html>"#.into(),
        ),
        ("POST", "/submitted") => (200, "text/html; charset=utf-8".into(), format!(r#"<!doctype html><link rel="icon" href="data:,"><p>got {}</p>"#, r.text())),
        _ => (404, "text/plain".into(), "nope".into()),
    })
}

#[test]
fn sees_text_types_and_submits_a_form() {
    let s = server();
    let mut b = Browser::launch().expect("headless chromium");
    b.phone_viewport().unwrap();
    b.open(&format!("{}/", s.base)).unwrap();
    assert_eq!(b.title().unwrap(), "Probe");
    assert_eq!(b.last_document_status(), Some(200));
    let text = b.text().unwrap();
    assert!(text.contains("Hello probe"), "{text}");
    assert!(!text.contains("secret text"), "hidden text is not seen: {text}");
    assert!(b.visible("button").unwrap());
    assert!(!b.visible("p[hidden]").unwrap());
    b.type_into("#n", "Ann & Bo").unwrap();
    b.click_and_wait("button").unwrap();
    assert!(b.url().unwrap().ends_with("/submitted"));
    assert_eq!(b.text().unwrap().trim(), "got n=Ann+%26+Bo");
    let shot = b.screenshot("browser-probe").unwrap();
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
    assert!(b.console_errors().is_empty(), "{:?}", b.console_errors());
}

#[test]
fn catches_console_errors_and_exceptions() {
    let s = server();
    let mut b = Browser::launch().expect("headless chromium");
    b.open(&format!("{}/noisy", s.base)).unwrap();
    let errors = b.console_errors();
    assert!(errors.iter().any(|e| e.contains("console.error: boom")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("undefinedFn")), "{errors:?}");
}
