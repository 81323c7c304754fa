//! Staff accounts natively: every route called by every role, in and out of
//! scope (the matrix iterates the route table, so a new route without a rule
//! here fails); the token and session life cycle; sign-in throttling across
//! two replicas; CSRF; what the audit log says.

mod common;

use chrono::Duration;
use common::{Env, BASE_URL, TOKEN};
use rentmsg::api::{self, ApiContext, Need};
use rentmsg::base::db::NativeDb;
use rentmsg::base::http::{Request, Response};
use rentmsg::staff::accounts::Role;
use rentmsg::staff::throttle::{self, MemCounter};
use serde_json::{json, Value as Json};

fn seeded() -> Env {
    let env = Env::new();
    env.seed();
    env
}

fn call(env: &Env, method: &str, path: &str, headers: &[(&str, String)], body: Option<&Json>) -> Response {
    let mut h: Vec<(String, String)> = headers.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    if body.is_some() {
        h.push(("content-type".into(), "application/json".into()));
    }
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    env.request(Request { method: method.into(), path: path.into(), headers: h, body, client_addr: Some("10.1.2.3:4444".into()) })
}

fn bearer(token: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {token}"))]
}

/// Create an account with the break-glass token; returns (id, token).
fn create_user(env: &Env, username: &str, role: &str, properties: &[&str], password: Option<&str>) -> (i64, String) {
    let mut body = json!({ "username": username, "role": role, "property_ids": properties });
    if let Some(p) = password {
        body["password"] = json!(p);
    }
    let r = call(env, "POST", "/api/staff-users", &bearer(TOKEN), Some(&body));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let j = r.body_json();
    (j["id"].as_i64().unwrap(), j["token"].as_str().unwrap().to_owned())
}

// ------------------------------------------------------------ the matrix

/// What CONTRACT.md says each route needs. Every route of the table must be
/// here: a route added without a rule fails the matrix.
fn contract_need(method: &str, path: &str) -> Need {
    use Need::{Public, SelfOrAdmin};
    let v = Need::Role(Role::Viewer);
    let c = Need::Role(Role::Collector);
    let m = Need::Role(Role::Manager);
    let a = Need::Role(Role::Admin);
    match (method, path) {
        ("POST", "/api/session") => Public,
        ("DELETE", "/api/session") | ("GET", "/api/me") => v,
        ("POST", "/api/staff-users/{id}/token") | ("PUT", "/api/staff-users/{id}/password") => SelfOrAdmin,
        (_, p) if p.starts_with("/api/staff-users") => a,
        (_, p) if p.starts_with("/api/import/") => m,
        ("GET", _) => v,
        ("PUT", "/api/tenants/{tenant_id}/consent")
        | ("PATCH", "/api/tenants/{tenant_id}")
        | ("PUT", "/api/tenants/{tenant_id}/contact-points/{contact_point}/exclusion")
        | ("POST", "/api/inbox/{id}/read")
        | ("POST", "/api/inbox/{id}/handled")
        | ("DELETE", "/api/inbox/{id}/handled")
        | ("POST", "/api/compliance/check")
        | ("POST", "/api/inbox/{id}/undo-opt-out")
        | ("POST", "/api/tenants/{tenant_id}/calls")
        | ("POST", "/api/tenants/{tenant_id}/inbound-calls")
        | ("POST", "/api/tenants/{tenant_id}/messages")
        | ("POST", "/api/tenants/{tenant_id}/promises")
        | ("POST", "/api/tenants/{tenant_id}/replies") => c,
        ("PUT", "/api/tenants/{tenant_id}/exclusions")
        | ("PUT", "/api/keywords")
        | ("PUT", "/api/revocation-phrases")
        | ("PUT", "/api/properties/{property_id}/sms-help-contact")
        | ("POST", "/api/contact-controls")
        | ("PUT", "/api/contact-controls/{key}")
        | ("DELETE", "/api/contact-controls/{key}")
        | ("PUT", "/api/notice-schedule")
        | ("PUT", "/api/notice-templates/{stage}/{channel}")
        | ("PUT", "/api/settings") => m,
        other => panic!("no matrix rule for {other:?}: add what the contract says this route needs"),
    }
}

/// A body for a route (valid enough to pass the content-type check).
fn sample_body(method: &str, path: &str) -> Option<Json> {
    if method == "GET" || method == "DELETE" {
        return None;
    }
    Some(match path {
        "/api/compliance/check" => json!({ "tenant_id": "T1", "channel": "call" }),
        "/api/tenants/{tenant_id}/calls" | "/api/tenants/{tenant_id}/inbound-calls" => json!({ "result_code": 1 }),
        "/api/tenants/{tenant_id}/consent" => json!({ "status": "opted_in", "evidence": "lease" }),
        "/api/session" => json!({ "username": "nobody", "password": "not the password" }),
        "/api/staff-users/{id}/password" => json!({ "password": "a long enough password" }),
        "/api/staff-users" => json!({ "username": "newbie", "role": "viewer" }),
        "/api/staff-users/{id}" => json!({ "display_name": "Renamed" }),
        _ => json!({}),
    })
}

fn concrete(path: &str, out_of_scope: bool, id: i64) -> String {
    let (t, p) = if out_of_scope { ("T2", "P2") } else { ("T1", "P1") };
    path.replace("{tenant_id}", t)
        .replace("{property_id}", p)
        .replace("{contact_point}", "mobile")
        .replace("{id}", &id.to_string())
        .replace("{key}", "k1")
        .replace("{stage}", "1")
        .replace("{channel}", "text")
        .replace("{number}", "+14155552671")
}

#[test]
fn every_route_by_every_role_in_and_out_of_scope() {
    let routes = api::route_needs();
    assert!(routes.len() > 50);
    let mut checked = 0;
    for (method, path, need) in routes {
        let body = sample_body(method, path);
        assert_eq!(need, contract_need(method, path), "{method} {path}: the route table disagrees with the contract");
        let scoped = path.contains("{tenant_id}") || path.contains("{property_id}");
        for role in Role::ALL {
            for out in [false, true] {
                if out && !scoped {
                    continue;
                }
                let env = seeded();
                let (me, token) = create_user(&env, "me", role.as_str(), &["P1"], None);
                let (other, _) = create_user(&env, "other", "viewer", &[], None);
                let on_self = path.starts_with("/api/staff-users/{id}") && !out;
                let id = if path.starts_with("/api/staff-users/{id}") { if on_self { me } else { other } } else { 1 };
                let url = concrete(path, out, id);
                let r = call(&env, method, &url, &bearer(&token), body.as_ref());
                let allowed = match need {
                    Need::Public => true,
                    Need::Role(r) => role >= r,
                    Need::SelfOrAdmin => role == Role::Admin || on_self,
                };
                let what = format!("{role:?} {method} {url}: {} {}", r.status, String::from_utf8_lossy(&r.body));
                // Every account here is scoped to P1, the admin too.
                if out {
                    assert_eq!(r.status, 404, "out of scope must look absent: {what}");
                } else if need == Need::Public {
                    // Reached by anyone; the sample credentials are wrong.
                    assert_eq!(r.status, 401, "{what}");
                } else if !allowed {
                    assert_eq!(r.status, 403, "{what}");
                } else {
                    assert!(![401, 403].contains(&r.status) && r.status < 500, "{what}");
                }
                checked += 1;
            }
        }
        // The same routes, out of scope, as a scoped admin: still 404.
        if scoped {
            let env = seeded();
            let (_, token) = create_user(&env, "boss", "admin", &["P1"], None);
            let r = call(&env, method, &concrete(path, true, 1), &bearer(&token), body.as_ref());
            assert_eq!(r.status, 404, "scoped admin {method} {path}: {}", r.status);
        }
    }
    assert!(checked > 200, "{checked}");
}

// ------------------------------------------------------------ listings

#[test]
fn listings_show_only_the_scope() {
    let env = seeded();
    let (_, token) = create_user(&env, "amy", "collector", &["P1"], None);
    let h = bearer(&token);
    let tenants = call(&env, "GET", "/api/tenants", &h, None).body_json();
    let ids: Vec<&str> = tenants["tenants"].as_array().unwrap().iter().map(|t| t["tenant_id"].as_str().unwrap()).collect();
    assert_eq!((ids, tenants["total"].clone()), (vec!["T1", "T3"], json!(2)));
    assert_eq!(call(&env, "GET", "/api/tenants?property_id=P2", &h, None).status, 404);
    assert_eq!(call(&env, "GET", "/api/audit?tenant_id=T2", &h, None).status, 404);
    assert_eq!(call(&env, "GET", "/api/outbox?tenant_id=T2", &h, None).status, 404);
    assert_eq!(call(&env, "GET", "/api/inbox?tenant_id=T2", &h, None).status, 404);
    let r = call(&env, "GET", "/api/call-list", &h, None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let list = r.body_json();
    for item in list["items"].as_array().unwrap() {
        assert_eq!(item["property_id"], json!("P1"), "{item}");
    }
    let report = call(&env, "GET", "/api/reports", &h, None).body_json();
    let props: Vec<&str> = report["properties"].as_array().unwrap().iter().map(|p| p["property_id"].as_str().unwrap()).collect();
    assert_eq!(props, vec!["P1"]);
    let audit = call(&env, "GET", "/api/audit", &h, None).body_json();
    for e in audit["entries"].as_array().unwrap() {
        assert!(["tenant:T1", "tenant:T3"].contains(&e["target"].as_str().unwrap_or("")), "{e}");
    }
    let number = call(&env, "GET", "/api/sms-numbers/+14165550199", &h, None).body_json();
    assert_eq!(number["tenant_ids"], json!([]));
    // Unscoped accounts see everything.
    let (_, all) = create_user(&env, "root", "viewer", &[], None);
    assert_eq!(call(&env, "GET", "/api/tenants", &bearer(&all), None).body_json()["total"], json!(3));
}

// ------------------------------------------------------------ tokens

#[test]
fn token_life_cycle_create_use_rotate_disable() {
    let env = seeded();
    let (id, token) = create_user(&env, "amy", "collector", &["P1"], None);
    assert!(token.starts_with("rmsu_") && token.len() >= 48);
    let me = call(&env, "GET", "/api/me", &bearer(&token), None).body_json();
    assert_eq!((me["username"].clone(), me["role"].clone(), me["property_ids"].clone()), (json!("amy"), json!("collector"), json!(["P1"])));
    // Nothing shows a token or a hash.
    let listed = call(&env, "GET", "/api/staff-users", &bearer(TOKEN), None);
    let text = String::from_utf8_lossy(&listed.body).to_string();
    assert!(!text.contains(&token) && !text.contains("hash") && !text.contains("token"), "{text}");
    assert_eq!(env.count("SELECT count(*) AS n FROM staff_users WHERE token_hash LIKE 'rmsu_%'"), 0);
    // A write names the account.
    let r = call(&env, "POST", "/api/tenants/T1/calls", &bearer(&token), Some(&json!({ "result_code": 1 })));
    assert!(r.status < 300 || r.status == 409, "{}", String::from_utf8_lossy(&r.body));
    // Rotating one's own token: the old one stops at once.
    let r = call(&env, "POST", &format!("/api/staff-users/{id}/token"), &bearer(&token), None);
    assert_eq!(r.status, 200);
    let new = r.body_json()["token"].as_str().unwrap().to_owned();
    assert_eq!(call(&env, "GET", "/api/me", &bearer(&token), None).status, 401);
    assert_eq!(call(&env, "GET", "/api/me", &bearer(&new), None).status, 200);
    // Duplicate usernames are refused.
    let dup = call(&env, "POST", "/api/staff-users", &bearer(TOKEN), Some(&json!({ "username": "amy", "role": "viewer" })));
    assert_eq!(dup.status, 409);
    // Disabled: refused at once.
    let r = call(&env, "PATCH", &format!("/api/staff-users/{id}"), &bearer(TOKEN), Some(&json!({ "disabled": true })));
    assert_eq!(r.status, 200);
    assert_eq!(call(&env, "GET", "/api/me", &bearer(&new), None).status, 401);
    // Role and scope changes, token rotation and account creation are audited by who did them.
    let actions: Vec<(String, String)> = env
        .db
        .connection()
        .prepare("SELECT actor, action FROM audit_log ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(actions.contains(&("bootstrap".into(), "staff_user.create".into())), "{actions:?}");
    assert!(actions.contains(&("user:amy".into(), "staff_user.token_rotate".into())), "{actions:?}");
    assert!(actions.contains(&("bootstrap".into(), "staff_user.update".into())), "{actions:?}");
    assert!(actions.iter().any(|(a, act)| a == "user:amy" && act.starts_with("call")), "{actions:?}");
}

#[test]
fn refusals_are_audited_and_the_audit_log_has_no_write_route() {
    let env = seeded();
    let (_, token) = create_user(&env, "val", "viewer", &[], None);
    let r = call(&env, "PUT", "/api/settings", &bearer(&token), Some(&json!({})));
    assert_eq!(r.status, 403);
    assert_eq!(env.count("SELECT count(*) AS n FROM audit_log WHERE action = 'auth.refused' AND actor = 'user:val'"), 1);
    for (method, path) in api::route_table() {
        assert!(!(path.starts_with("/api/audit") && method != "GET"), "{method} {path}");
    }
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        assert_eq!(call(&env, method, "/api/audit", &bearer(TOKEN), Some(&json!({}))).status, 405);
    }
}

// ------------------------------------------------------------ sessions

fn sign_in(env: &Env, username: &str, password: &str) -> Response {
    call(env, "POST", "/api/session", &[], Some(&json!({ "username": username, "password": password })))
}

fn session_cookie(r: &Response) -> String {
    let c = r.header("set-cookie").unwrap();
    c.split(';').next().unwrap().to_owned()
}

#[test]
fn sign_in_use_sign_out_and_expiry() {
    let mut env = seeded();
    let (id, _) = create_user(&env, "amy", "collector", &["P1"], Some("correct horse battery"));
    let r = sign_in(&env, "amy", "correct horse battery");
    assert_eq!(r.status, 204);
    let set = r.header("set-cookie").unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(set.contains(attr), "{set}");
    }
    let cookie = session_cookie(&r);
    let h = vec![("cookie", cookie.clone())];
    assert_eq!(call(&env, "GET", "/api/me", &h, None).body_json()["username"], json!("amy"));
    // Wrong password and unknown user: the same answer.
    let wrong = sign_in(&env, "amy", "wrong password!!");
    let unknown = sign_in(&env, "nobody", "wrong password!!");
    assert_eq!((wrong.status, wrong.body.clone()), (unknown.status, unknown.body.clone()));
    assert_eq!(wrong.status, 401);
    // Too short a password is refused.
    let r = call(&env, "PUT", &format!("/api/staff-users/{id}/password"), &bearer(TOKEN), Some(&json!({ "password": "short" })));
    assert_eq!(r.status, 400);
    // Idle limit: two hours without use ends the session.
    env.now += Duration::hours(2);
    assert_eq!(call(&env, "GET", "/api/me", &h, None).status, 401);
    // Sign in again and sign out.
    let r = sign_in(&env, "amy", "correct horse battery");
    let h = vec![("cookie", session_cookie(&r)), ("origin", BASE_URL.to_owned())];
    assert_eq!(call(&env, "DELETE", "/api/session", &h, None).status, 204);
    assert_eq!(call(&env, "GET", "/api/me", &h, None).status, 401);
    // Absolute limit: 12 hours even when used every hour.
    let r = sign_in(&env, "amy", "correct horse battery");
    let h = vec![("cookie", session_cookie(&r))];
    for _ in 0..11 {
        env.now += Duration::hours(1);
        assert_eq!(call(&env, "GET", "/api/me", &h, None).status, 200);
    }
    env.now += Duration::hours(1);
    assert_eq!(call(&env, "GET", "/api/me", &h, None).status, 401);
    let n = env.count("SELECT count(*) AS n FROM audit_log WHERE action IN ('auth.sign_in', 'auth.sign_in_failed', 'auth.sign_out')");
    assert!(n >= 6, "{n}");
}

#[test]
fn cross_origin_session_writes_are_refused_but_bearer_writes_are_not() {
    let env = seeded();
    create_user(&env, "amy", "collector", &["P1"], Some("correct horse battery"));
    let cookie = session_cookie(&sign_in(&env, "amy", "correct horse battery"));
    let body = json!({ "result_code": 1 });
    let foreign = vec![("cookie", cookie.clone()), ("origin", "https://evil.example".to_owned())];
    assert_eq!(call(&env, "POST", "/api/tenants/T1/calls", &foreign, Some(&body)).status, 403);
    let referer = vec![("cookie", cookie.clone()), ("referer", "https://evil.example/page".to_owned())];
    assert_eq!(call(&env, "POST", "/api/tenants/T1/calls", &referer, Some(&body)).status, 403);
    let neither = vec![("cookie", cookie.clone())];
    assert_eq!(call(&env, "POST", "/api/tenants/T1/calls", &neither, Some(&body)).status, 403);
    let same = vec![("cookie", cookie.clone()), ("origin", BASE_URL.to_owned())];
    assert_ne!(call(&env, "POST", "/api/tenants/T1/calls", &same, Some(&body)).status, 403);
    let mut bearer_foreign = bearer(TOKEN);
    bearer_foreign.push(("origin", "https://evil.example".to_owned()));
    assert_ne!(call(&env, "POST", "/api/tenants/T1/calls", &bearer_foreign, Some(&body)).status, 403);
    assert!(env.count("SELECT count(*) AS n FROM audit_log WHERE action = 'auth.refused'") >= 3);
}

/// Two replicas: two connections to one database file, one shared counter
/// store (the key-value store), the clock injected.
#[test]
fn lock_out_is_shared_by_replicas_and_lifts_after_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let a = NativeDb::open(&path).unwrap();
    let b = NativeDb::open(&path).unwrap();
    let counters = MemCounter::default();
    let mut now = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2024, 3, 10, 16, 0, 0).unwrap();
    fn ctx<'a>(db: &'a NativeDb, counters: &'a MemCounter, now: chrono::DateTime<chrono::Utc>) -> ApiContext<'a> {
        ApiContext { db, staff_token: TOKEN, now, public_base_url: BASE_URL, counters, sleep: |_| {} }
    }
    let req = |body: Json, headers: Vec<(String, String)>| Request {
        method: "POST".into(),
        path: "/api/session".into(),
        headers: [vec![("content-type".to_owned(), "application/json".to_owned())], headers].concat(),
        body: body.to_string().into_bytes(),
        client_addr: Some("203.0.113.9:5000".into()),
    };
    let create = json!({ "username": "amy", "role": "viewer", "password": "correct horse battery" });
    let r = api::handle(&req(create, vec![("authorization".into(), format!("Bearer {TOKEN}"))]).clone_with_path("/api/staff-users"), &ctx(&a, &counters, now));
    assert_eq!(r.status, 201);
    let wrong = json!({ "username": "amy", "password": "not it at all" });
    for i in 0..throttle::USER_LIMIT {
        let db = if i % 2 == 0 { &a } else { &b };
        assert_eq!(api::handle(&req(wrong.clone(), vec![]), &ctx(db, &counters, now)).status, 401, "attempt {i}");
    }
    let right = json!({ "username": "amy", "password": "correct horse battery" });
    let locked = api::handle(&req(right.clone(), vec![]), &ctx(&b, &counters, now));
    assert_eq!(locked.status, 429);
    assert!(locked.header("retry-after").is_some());
    now += Duration::seconds(throttle::WINDOW_SECS);
    assert_eq!(api::handle(&req(right, vec![]), &ctx(&a, &counters, now)).status, 204);
}

trait WithPath {
    fn clone_with_path(self, path: &str) -> Self;
}

impl WithPath for Request {
    fn clone_with_path(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }
}

// ------------------------------------------------------------ scan and send

/// `/api/scan` and `/api/send` (served by other components) decide who is
/// calling exactly as the staff API does: break-glass, a manager's or an
/// admin's personal token or session (CSRF rule for the cookie); weaker
/// roles 403, strangers 401, GET 405; every run audited under the caller.
#[test]
fn scan_and_send_gate_takes_managers_tokens_and_sessions_and_audits_them() {
    let env = seeded();
    let (_, manager) = create_user(&env, "max", "manager", &[], Some("correct horse battery"));
    let (_, collector) = create_user(&env, "cole", "collector", &["P1"], None);
    let gate = |method: &str, headers: &[(&str, String)]| {
        let h: Vec<(String, String)> = headers.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        let req = Request { method: method.into(), path: "/api/scan".into(), headers: h, body: Vec::new(), client_addr: None };
        api::run_gate(&req, &env.db, TOKEN, BASE_URL, env.now, "run a scan", "scan.run")
    };
    let status = |r: Result<api::Principal, Response>| r.err().map_or(200, |e| e.status);
    assert_eq!(status(gate("POST", &[])), 401);
    assert_eq!(status(gate("POST", &bearer("rmsu_not-a-token"))), 401);
    assert_eq!(status(gate("GET", &bearer(TOKEN))), 405);
    assert_eq!(status(gate("POST", &bearer(TOKEN))), 200);
    assert_eq!(gate("POST", &bearer(&manager)).map(|p| p.actor()).ok(), Some("user:max".to_owned()));
    assert_eq!(status(gate("POST", &bearer(&collector))), 403);
    let cookie = session_cookie(&sign_in(&env, "max", "correct horse battery"));
    assert_eq!(status(gate("POST", &[("cookie", cookie.clone()), ("origin", "https://evil.example".to_owned())])), 403);
    assert_eq!(status(gate("POST", &[("cookie", cookie.clone())])), 403);
    assert_eq!(status(gate("POST", &[("cookie", cookie.clone()), ("origin", BASE_URL.to_owned())])), 200);
    // Spin gives components no `Host`: the request's own origin comes from
    // `spin-full-url` (the console opened at another address than public_base_url).
    let own = [("cookie", cookie.clone()), ("origin", "http://127.0.0.1:3000".to_owned()), ("spin-full-url", "http://127.0.0.1:3000/api/scan".to_owned())];
    assert_eq!(status(gate("POST", &own)), 200);
    let other = [("cookie", cookie), ("origin", "http://127.0.0.1:3001".to_owned()), ("spin-full-url", "http://127.0.0.1:3000/api/scan".to_owned())];
    assert_eq!(status(gate("POST", &other)), 403);
    let runs = env.count("SELECT count(*) AS n FROM audit_log WHERE action = 'scan.run' AND actor = 'user:max'");
    assert_eq!(runs, 3);
    assert_eq!(env.count("SELECT count(*) AS n FROM audit_log WHERE action = 'scan.run' AND actor = 'bootstrap'"), 1);
    assert!(env.count("SELECT count(*) AS n FROM audit_log WHERE action = 'auth.refused' AND actor = 'user:cole'") >= 1);
    assert_eq!(api::RUN_NEED, Role::Manager);
}
