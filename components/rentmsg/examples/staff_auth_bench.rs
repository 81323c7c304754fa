//! What authenticating a staff request costs: `GET /api/me` through
//! `api::handle` with the break-glass token, a personal token and a session
//! cookie, and one password sign-in (Argon2id), natively over NativeDb.
//! Run: cargo run --release -p rentmsg --features native --example staff_auth_bench

use rentmsg::api::{self, ApiContext};
use rentmsg::base::db::NativeDb;
use rentmsg::base::http::Request;
use rentmsg::staff::throttle::MemCounter;
use std::time::Instant;

const TOKEN: &str = "bench-staff-token-0123456789";

fn req(method: &str, path: &str, headers: Vec<(String, String)>, body: &str) -> Request {
    Request { method: method.into(), path: path.into(), headers, body: body.as_bytes().to_vec(), client_addr: Some("10.0.0.1:1".into()) }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("staff-auth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = NativeDb::open(dir.join("db.sqlite"))?;
    let counters = MemCounter::default();
    let now = chrono::Utc::now();
    let ctx = ApiContext { db: &db, staff_token: TOKEN, now, public_base_url: "https://x.example", counters: &counters, sleep: |_| {} };
    let json = || ("content-type".to_owned(), "application/json".to_owned());
    let boot = || ("authorization".to_owned(), format!("Bearer {TOKEN}"));
    let r = api::handle(&req("POST", "/api/staff-users", vec![boot(), json()], r#"{"username":"amy","role":"collector","property_ids":["P1"],"password":"correct horse battery"}"#), &ctx);
    let token = r.body_json()["token"].as_str().ok_or("no token")?.to_owned();
    let t = Instant::now();
    let r = api::handle(&req("POST", "/api/session", vec![json()], r#"{"username":"amy","password":"correct horse battery"}"#), &ctx);
    let sign_in = t.elapsed();
    let cookie = r.header("set-cookie").ok_or("no cookie")?.split(';').next().ok_or("cookie")?.to_owned();
    let cases: [(&str, (String, String)); 3] = [
        ("break-glass token", boot()),
        ("personal token", ("authorization".into(), format!("Bearer {token}"))),
        ("session cookie", ("cookie".into(), cookie)),
    ];
    let n = 20_000;
    println!("one password sign-in (Argon2id m=19 MiB t=2 p=1): {:.1} ms", sign_in.as_secs_f64() * 1e3);
    for round in 0..2 {
        for (name, h) in &cases {
            let t = Instant::now();
            for _ in 0..n {
                let r = api::handle(&req("GET", "/api/me", vec![h.clone()], ""), &ctx);
                assert_eq!(r.status, 200);
            }
            if round == 1 {
                println!("GET /api/me by {name}: {:.2} µs per request", t.elapsed().as_secs_f64() * 1e6 / n as f64);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
