//! The app beyond one process: key-value on a real Redis through the
//! shipped runtime-config example, and two host processes (two replicas)
//! sharing one SQLite database file and one Redis, driven at the same time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use e2e::redis::RedisServer;
use e2e::twilio::{form_body, inbound_sms, signature};
use e2e::{json, workspace_root, App, Json};

const AUTH: &str = "e2e-sms-auth-token-5d1c0e";
const PUBLIC: &str = "https://rent.example.test";
const OUR_NUMBER: &str = "+16175550100";
/// The Redis URL written in `infra/runtime-config.redis.toml`.
const SHIPPED_URL: &str = "redis://127.0.0.1:6379/0";

/// `infra/runtime-config.redis.toml`, pointed at the test server.
fn shipped_redis_config(dir: &Path, redis: &RedisServer) -> PathBuf {
    let text = std::fs::read_to_string(workspace_root().join("infra/runtime-config.redis.toml")).expect("read the example");
    assert!(text.contains(SHIPPED_URL), "the example no longer names {SHIPPED_URL}");
    let file = dir.join("runtime-config.toml");
    std::fs::write(&file, text.replace(SHIPPED_URL, &redis.url_db(0))).expect("write runtime config");
    file
}

fn replica(state: &Path, runtime_config: &Path) -> App {
    App::builder()
        .variable("sms_auth_token", AUTH)
        .variable("public_base_url", PUBLIC)
        .variable("sms_from", OUR_NUMBER)
        .state_dir(state)
        .runtime_config_file(runtime_config)
        .start()
}

fn number(i: usize) -> String {
    format!("+1617555{:04}", 2000 + i)
}

fn import_tenants(app: &App, n: usize) {
    let (s, b) = app.import("properties", "property_id,name,time_zone,state,country\nP1,Maple Court,America/New_York,MA,US\n");
    assert_eq!(s, 200, "{b}");
    let mut csv = String::from("tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n");
    for i in 0..n {
        csv.push_str(&format!("T{i},P1,Tenant {i},{i},{},,,,,,,,\n", number(i)));
    }
    let (s, b) = app.import("tenants", &csv);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["created"], json!(n), "{b}");
}

/// POST a signed inbound SMS to one replica: status and TwiML.
fn stop(client: &reqwest::blocking::Client, base: &str, sid: &str, from: &str) -> (u16, String) {
    let fields = inbound_sms(sid, from, OUR_NUMBER, "STOP");
    let resp = client
        .post(format!("{base}/webhooks/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature(AUTH, &format!("{PUBLIC}/webhooks/sms"), &fields))
        .body(form_body(&fields))
        .send()
        .expect("POST webhook");
    (resp.status().as_u16(), resp.text().unwrap_or_default())
}

fn contacts(app: &App, tenant: &str) -> Vec<Json> {
    let (s, c) = app.staff_get(&format!("/api/tenants/{tenant}/contacts"));
    assert_eq!(s, 200, "{c}");
    c["contacts"].as_array().cloned().unwrap_or_default()
}

fn opted_out(app: &App, tenant: &str) -> bool {
    let (s, t) = app.staff_get(&format!("/api/tenants/{tenant}"));
    assert_eq!(s, 200, "{t}");
    t["contact_points"][0]["exclusions"]["by_customer"]["on"] == json!(true)
}

#[test]
fn the_shipped_redis_runtime_config_runs_the_app_with_key_value_on_redis() {
    let redis = RedisServer::start();
    let temp = tempfile::tempdir().expect("temp");
    let rc = shipped_redis_config(temp.path(), &redis);
    let app = replica(&temp.path().join("state"), &rc);
    import_tenants(&app, 3);
    let (status, xml) = stop(&app.client, &app.base, "SMredis0001", &number(1));
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("You are unsubscribed"), "{xml}");
    assert!(opted_out(&app, "T1") && !opted_out(&app, "T2"));
    let (s, d) = app.staff_post("/api/compliance/check", &json!({ "tenant_id": "T1", "channel": "text" }));
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["decision"], json!("block"), "{d}");
    // Key-value `default` is on Redis, not in Spin's file; SQLite stays a file.
    assert!(!app.state_dir.join("sqlite_key_value.db").exists(), "key-value went to the file store");
    assert!(app.state_dir.join("sqlite_db.db").exists());
}

/// Two replicas on one SQLite file and one Redis. Every STOP is delivered to
/// both at the same instant (a provider retry landing on the other replica)
/// while staff imports keep the database's write lock busy: every STOP is
/// stored, on every tenant, with exactly one confirmation and one record.
#[test]
fn two_replicas_on_one_database_never_lose_or_double_a_stop() {
    const TENANTS: usize = 40;
    let redis = RedisServer::start();
    let temp = tempfile::tempdir().expect("temp");
    let rc = shipped_redis_config(temp.path(), &redis);
    let state = temp.path().join("state");
    let a = replica(&state, &rc);
    import_tenants(&a, TENANTS);
    let b = replica(&state, &rc);
    let bases = [a.base.clone(), b.base.clone()];

    // Writer contention from the staff side, on replica B, for the whole run.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let importer = {
        let (done, base) = (done.clone(), b.base.clone());
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            let mut imports = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let mut csv = String::from("tenant_id,date,due_date,kind,amount,reference\n");
                for i in 0..TENANTS {
                    csv.push_str(&format!("T{i},2024-06-01,2024-06-05,charge,125.00,R{imports}-{i}\n"));
                }
                let resp = client
                    .post(format!("{base}/api/import/ledger"))
                    .bearer_auth(e2e::STAFF_TOKEN)
                    .header("content-type", "text/csv")
                    .body(csv)
                    .send()
                    .expect("import");
                assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().unwrap_or_default());
                imports += 1;
            }
            imports
        })
    };

    let mut deliveries = Vec::new();
    for i in 0..TENANTS {
        // Both copies of one delivery start together.
        let barrier = Arc::new(Barrier::new(2));
        for base in &bases {
            let (barrier, base) = (barrier.clone(), base.clone());
            deliveries.push(std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                barrier.wait();
                (i, stop(&client, &base, &format!("SMdup{i:04}"), &number(i)))
            }));
        }
    }
    let mut confirmations = vec![0; TENANTS];
    for d in deliveries {
        let (i, (status, xml)) = d.join().expect("delivery");
        assert_eq!(status, 200, "tenant {i}: {xml}");
        if xml.contains("You are unsubscribed") {
            confirmations[i] += 1;
        } else {
            assert!(xml.ends_with("<Response/>"), "tenant {i}: {xml}");
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let imports = importer.join().expect("importer");
    assert!(imports > 0);

    assert!(confirmations.iter().all(|c| *c == 1), "one confirmation per STOP: {confirmations:?}");
    for i in 0..TENANTS {
        let tenant = format!("T{i}");
        // Read back through the other replica than the one that wrote it, half the time.
        let reader = if i % 2 == 0 { &a } else { &b };
        assert!(opted_out(reader, &tenant), "{tenant} lost its STOP");
        let c = contacts(reader, &tenant);
        let inbound = c.iter().filter(|x| x["direction"] == json!("inbound")).count();
        let outbound = c.iter().filter(|x| x["direction"] == json!("outbound")).count();
        assert_eq!((inbound, outbound), (1, 1), "{tenant}: {c:?}");
    }
}
