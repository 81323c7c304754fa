//! Staff accounts through the real host (`spin-host up`): a person's token
//! from creation to rotation; the CSRF rule on the session cookie; scan and
//! send run by a manager's token, refused to a collector; the sign-in
//! lock-out shared by two replicas on one state directory (the default
//! key-value store is the SQLite file they share); and what one Argon2
//! password sign-in costs inside the wasm component.

use std::path::Path;
use std::time::{Duration, Instant};

use e2e::{json, App, Json};

fn create_user(app: &App, username: &str, role: &str, password: Option<&str>) -> (i64, String) {
    let mut body = json!({ "username": username, "role": role });
    if let Some(p) = password {
        body["password"] = json!(p);
    }
    let (s, r) = app.staff_post("/api/staff-users", &body);
    assert_eq!(s, 201, "{r}");
    (r["id"].as_i64().unwrap(), r["token"].as_str().unwrap().to_owned())
}

fn me_status(app: &App, token: &str) -> u16 {
    app.client.get(app.url("/api/me")).bearer_auth(token).send().unwrap().status().as_u16()
}

fn sign_in(app: &App, username: &str, password: &str) -> reqwest::blocking::Response {
    app.client.post(app.url("/api/session")).json(&json!({ "username": username, "password": password })).send().unwrap()
}

/// `rentmsg_session=...` from a sign-in answer.
fn session_cookie(r: &reqwest::blocking::Response) -> String {
    let set = r.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

#[test]
fn token_life_cycle_create_use_rotate() {
    let app = App::start();
    let (id, token) = create_user(&app, "tess", "collector", None);
    assert!(token.starts_with("rmsu_"), "{token}");
    assert_eq!(me_status(&app, &token), 200);
    let me: Json = app.client.get(app.url("/api/me")).bearer_auth(&token).send().unwrap().json().unwrap();
    assert_eq!((me["username"].clone(), me["role"].clone()), (json!("tess"), json!("collector")));
    // The account never shows its token again.
    let (_, user) = app.staff_get(&format!("/api/staff-users/{id}"));
    assert!(!user.to_string().contains(&token), "{user}");
    // Rotate (the person may rotate their own): the old token is refused at once.
    let r = app.client.post(app.url(&format!("/api/staff-users/{id}/token"))).bearer_auth(&token).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let rotated = r.json::<Json>().unwrap()["token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, token);
    assert_eq!(me_status(&app, &token), 401);
    assert_eq!(me_status(&app, &rotated), 200);
    // Disabled: the new one stops too.
    let r = app.staff(reqwest::Method::PATCH, &format!("/api/staff-users/{id}")).json(&json!({ "disabled": true })).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(me_status(&app, &rotated), 401);
}

#[test]
fn a_session_cookie_write_from_a_foreign_origin_is_refused() {
    let app = App::start();
    create_user(&app, "cody", "collector", Some("cody-long-password-1"));
    let r = sign_in(&app, "cody", "cody-long-password-1");
    assert_eq!(r.status().as_u16(), 204);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let cookie = session_cookie(&r);
    let post = |origin: &str| {
        app.client
            .post(app.url("/api/compliance/check"))
            .header("cookie", &cookie)
            .header("origin", origin)
            .json(&json!({ "tenant_id": "nobody", "channel": "phone", "manual": true }))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post("https://evil.example"), 403);
    // The same request from the console's own origin passes the check (and
    // then finds no such tenant).
    let own = app.url("");
    assert_ne!(post(own.trim_end_matches('/')), 403);
    // Reads need no origin.
    let r = app.client.get(app.url("/api/me")).header("cookie", &cookie).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, audit) = app.staff_get("/api/audit");
    assert!(audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == json!("auth.refused") && e["actor"] == json!("user:cody")), "{audit}");
}

#[test]
fn scan_and_send_take_a_managers_token_and_refuse_a_collectors() {
    let app = App::start();
    let (_, manager) = create_user(&app, "mona", "manager", Some("mona-long-password-1"));
    let (_, collector) = create_user(&app, "carl", "collector", None);
    let post = |path: &str, token: &str| app.client.post(app.url(path)).bearer_auth(token).send().unwrap().status().as_u16();
    for path in ["/api/scan", "/api/send"] {
        assert_eq!(post(path, &collector), 403, "{path}");
        assert_eq!(post(path, "rmsu_nonsense"), 401, "{path}");
        assert_eq!(post(path, &manager), 200, "{path}");
    }
    // A manager's console session, from the console's origin; not from another.
    let cookie = session_cookie(&sign_in(&app, "mona", "mona-long-password-1"));
    let own = app.url("");
    let by_cookie = |origin: &str| {
        app.client.post(app.url("/api/scan")).header("cookie", &cookie).header("origin", origin).send().unwrap().status().as_u16()
    };
    assert_eq!(by_cookie("https://evil.example"), 403);
    assert_eq!(by_cookie(own.trim_end_matches('/')), 200);
    let (_, audit) = app.staff_get("/api/audit?limit=500");
    let entries = audit["entries"].as_array().unwrap();
    let count = |action: &str, actor: &str| entries.iter().filter(|e| e["action"] == json!(action) && e["actor"] == json!(actor)).count();
    assert_eq!(count("scan.run", "user:mona"), 2, "{audit}");
    assert_eq!(count("send.run", "user:mona"), 1, "{audit}");
    assert!(count("auth.refused", "user:carl") >= 2, "{audit}");
}

/// Failures are counted in fixed windows of the wall clock; wait for a
/// fresh one when fewer than `needed` seconds are left of this one, so that
/// a run's failures all fall in one window.
fn within_one_counting_window(needed: Duration) {
    let window = rentmsg::staff::throttle::WINDOW_SECS as u64;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let left = Duration::from_secs(window) - Duration::from_millis((now.as_millis() % (u128::from(window) * 1000)) as u64);
    if left < needed {
        std::thread::sleep(left + Duration::from_secs(1));
    }
}

fn replica(state: &Path) -> App {
    App::builder().state_dir(state).start()
}

/// Two host processes on one state directory: one SQLite database and one
/// SQLite key-value file, the default runtime config. Wrong passwords sent
/// to both add up: the lock falls on either replica, and failures counted
/// on A alone lock the name on B.
#[test]
fn the_sign_in_lock_out_is_shared_by_two_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let a = replica(&state);
    let b = replica(&state);
    create_user(&a, "rita", "collector", Some("rita-long-password-1"));
    create_user(&a, "sam", "collector", Some("sam-long-password-1"));
    // The account made on A signs in on B.
    assert_eq!(sign_in(&b, "rita", "rita-long-password-1").status().as_u16(), 204);

    // Alternate replicas: 10 failures in all lock the name (USER_LIMIT).
    // The rest of the test takes about 16 s (failures past the third are
    // answered a second late).
    within_one_counting_window(Duration::from_secs(60));
    for i in 0..10 {
        let app = if i % 2 == 0 { &a } else { &b };
        assert_eq!(sign_in(app, "rita", "wrong-password-xx").status().as_u16(), 401, "attempt {i}");
    }
    for app in [&a, &b] {
        let r = sign_in(app, "rita", "rita-long-password-1");
        assert_eq!(r.status().as_u16(), 429, "the right password is refused too while locked");
        let retry: i64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
    }

    // Failures on A only, then one on B: B locks when A's count says so.
    for i in 0..9 {
        assert_eq!(sign_in(&a, "sam", "wrong-password-xx").status().as_u16(), 401, "attempt {i}");
    }
    assert_eq!(sign_in(&b, "sam", "wrong-password-xx").status().as_u16(), 401, "the tenth failure, counted on B");
    assert_eq!(sign_in(&b, "sam", "sam-long-password-1").status().as_u16(), 429, "A's nine failures count on B");
    assert_eq!(sign_in(&a, "sam", "sam-long-password-1").status().as_u16(), 429);
}

/// What one password sign-in costs through the host (Argon2id inside the
/// wasm component, plus the session insert and audit row), next to a
/// `GET /api/me` on the session in the same run. Prints the figures for
/// BENCHMARKS.md ("Staff authentication"); asserts only that it works.
#[test]
fn argon2_sign_in_through_the_host() {
    let app = App::start();
    create_user(&app, "bea", "viewer", Some("bea-long-password-1"));
    let rounds = e2e::bench::env_usize("SIGN_IN_ROUNDS", 8);
    // Warm-up: the first request instantiates the component.
    let cookie = session_cookie(&sign_in(&app, "bea", "bea-long-password-1"));
    let me = || app.client.get(app.url("/api/me")).header("cookie", &cookie).send().unwrap().status().as_u16();
    assert_eq!(me(), 200);
    let mut sign_ins = Vec::new();
    let mut reads = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let r = sign_in(&app, "bea", "bea-long-password-1");
        sign_ins.push(t.elapsed());
        assert_eq!(r.status().as_u16(), 204);
        let t = Instant::now();
        assert_eq!(me(), 200);
        reads.push(t.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1000.0
    };
    let (s, m) = (median(&mut sign_ins), median(&mut reads));
    let max = sign_ins.last().unwrap().as_secs_f64() * 1000.0;
    println!("POST /api/session (Argon2id in wasm): median {s:.1} ms, max {max:.1} ms over {rounds} rounds; GET /api/me on the session: median {m:.1} ms; sign-in on top: {:.1} ms", s - m);
}
