//! The staff console page (`/console`): plain HTML, one stylesheet and one
//! script, embedded in the component (no CDN, no build step). The page holds
//! no data and no credential: a person signs in with username and password
//! (`POST /api/session`), the server sets an `HttpOnly` `SameSite=Strict`
//! session cookie the script cannot read, and every `/api/*` call rides on
//! it (the API checks the `Origin` of cookie-carried writes). Nothing is
//! kept in web storage. Controls the person's role may not use are hidden
//! (`data-role` = the least role; the API refuses them anyway); an admin
//! also gets the staff-users page (new and rotated tokens shown once).
//!
//! Every asset goes out with a strict Content-Security-Policy: scripts and
//! styles only from this origin (no inline script or style), images from
//! this origin and `blob:` (the report chart, fetched on the session),
//! requests only to this origin, no framing, no form posts.

use crate::base::http::Response;

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");
/// The start page, conversation and call-list additions (a separate file so
/// the sign-in script and this one change independently).
const DAY_JS: &str = include_str!("day.js");
const DAY_CSS: &str = include_str!("day.css");
/// The tab icon (so the browser does not ask for a `/favicon.ico` nobody serves).
const ICON_SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\"><rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#1f5fa8\"/><path d=\"M4 8h8M8 4v8\" stroke=\"#fff\" stroke-width=\"2\"/></svg>";

/// The policy every console response carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; \
connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

fn response(status: u16, content_type: &str, body: &str) -> Response {
    let mut r = Response::new(status, content_type, body)
        .with_header("content-security-policy", CONTENT_SECURITY_POLICY)
        .with_header("x-content-type-options", "nosniff")
        // Not `no-referrer`: under it browsers send `Origin: null` on the
        // page's own POSTs, and the API's CSRF check on cookie-carried
        // writes needs the real origin. `same-origin` still sends nothing
        // to any other origin (and the page links to none).
        .with_header("referrer-policy", "same-origin")
        .with_header("x-frame-options", "DENY")
        // Always the current page with the current script.
        .with_header("cache-control", "no-cache");
    r.route = Some("/console");
    r
}

/// Is this path the console's (`/console`, `/console/...`)?
pub fn is_console_path(path: &str) -> bool {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    path == "/console" || path.starts_with("/console/")
}

/// Answer a request for the console: the page, its script or stylesheet;
/// 404 for anything else under `/console/`, 405 for methods other than
/// GET and HEAD (a HEAD answer carries the headers; the host drops the body).
pub fn serve(method: &str, path: &str) -> Response {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let asset = match path {
        "/console" | "/console/" | "/console/index.html" => Some(("text/html; charset=utf-8", INDEX_HTML)),
        "/console/app.js" => Some(("text/javascript; charset=utf-8", APP_JS)),
        "/console/app.css" => Some(("text/css; charset=utf-8", APP_CSS)),
        "/console/day.js" => Some(("text/javascript; charset=utf-8", DAY_JS)),
        "/console/day.css" => Some(("text/css; charset=utf-8", DAY_CSS)),
        "/console/icon.svg" => Some(("image/svg+xml", ICON_SVG)),
        _ => None,
    };
    let Some((content_type, body)) = asset else {
        return response(404, "text/plain; charset=utf-8", "not found\n");
    };
    if !matches!(method.to_ascii_uppercase().as_str(), "GET" | "HEAD") {
        return response(405, "text/plain; charset=utf-8", "use GET\n").with_header("allow", "GET, HEAD");
    }
    response(200, content_type, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_page_and_its_assets_with_a_strict_policy() {
        for (path, ct) in [("/console", "text/html"), ("/console/", "text/html"), ("/console/app.js", "text/javascript"), ("/console/app.css", "text/css"), ("/console/day.js", "text/javascript"), ("/console/day.css", "text/css")] {
            let r = serve("GET", path);
            assert_eq!(r.status, 200, "{path}");
            assert!(r.header("content-type").unwrap().starts_with(ct), "{path}");
            assert_eq!(r.header("content-security-policy"), Some(CONTENT_SECURITY_POLICY));
            assert_eq!(r.header("referrer-policy"), Some("same-origin"));
        }
        assert_eq!(serve("GET", "/console/nope.js").status, 404);
        assert_eq!(serve("POST", "/console").status, 405);
        assert!(is_console_path("/console?x=1") && is_console_path("/console/app.js"));
        assert!(!is_console_path("/consoles") && !is_console_path("/api/call-list"));
    }

    /// Every control that writes carries the least role that may use it
    /// (the same roles as the API's route table).
    #[test]
    fn write_controls_are_marked_with_the_role_they_need() {
        for (id, role) in [
            ("call-card", "collector"),
            ("msg-card", "collector"),
            ("consent-form", "collector"),
            ("msg-send-now", "manager"),
            ("excl-card", "manager"),
            ("nav-users", "admin"),
        ] {
            let tag = INDEX_HTML.split('<').find(|t| t.contains(&format!("id=\"{id}\""))).unwrap_or_default();
            assert!(tag.contains(&format!("data-role=\"{role}\"")), "#{id} should need {role}: <{tag}");
        }
        assert!(INDEX_HTML.contains("id=\"login-username\"") && INDEX_HTML.contains("id=\"login-password\""));
        assert!(!INDEX_HTML.contains("login-token"), "no staff-token sign-in in the page");
    }

    #[test]
    fn the_page_has_no_inline_script_style_or_external_assets() {
        let html = INDEX_HTML.to_ascii_lowercase();
        // Only the external script, no inline script bodies or handlers.
        assert_eq!(html.matches("<script").count(), 2);
        assert!(html.contains("<script src=\"/console/app.js\" defer></script>"));
        assert!(html.contains("<script src=\"/console/day.js\" defer></script>"));
        assert!(!html.contains("<style") && !html.contains(" style=") && !html.contains(" onclick="));
        for text in [INDEX_HTML, APP_JS, APP_CSS, DAY_JS, DAY_CSS] {
            assert!(!text.contains("http://") && !text.contains("https://"), "no external URLs in the console assets");
        }
        // Data only ever goes into the page as text, never as markup.
        for js in [APP_JS, DAY_JS] {
            assert!(!js.contains("innerHTML") && !js.contains("outerHTML") && !js.contains("eval("));
        }
        // No credential in the page: no web storage, no cookie access, no
        // bearer header; every call rides on the HttpOnly session cookie.
        for banned in ["sessionStorage", "localStorage", "document.cookie", "Authorization", "Bearer"] {
            assert!(!APP_JS.contains(banned), "app.js mentions {banned}");
        }
        // The start page keeps only filter preferences in localStorage.
        for banned in ["sessionStorage", "document.cookie", "Authorization", "Bearer"] {
            assert!(!DAY_JS.contains(banned), "day.js mentions {banned}");
        }
        assert!(!DAY_JS.to_ascii_lowercase().contains("token"));
        assert!(APP_JS.contains("credentials: \"same-origin\""));
        assert!(APP_JS.contains("\"/api/session\"") && APP_JS.contains("\"/api/me\""));
    }
}
