//! The app beyond one process: key-value on a real Redis through the
//! shipped runtime-config example, and two host processes (two replicas)
//! sharing one SQLite database file and one Redis, driven at the same time.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

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

// ---------------------------------------------------------------------------
// Sending from two replicas: the pace budget (key-value `send-budget:<minute>`
// counters), the outbox leases and the notice key (SQLite) shared by every
// host process that scans or sends.

const SID: &str = "AC00000000000000000000000000000002";
/// Messages per minute: slots 10 s apart, so a message can only land in the
/// next minute at the provider if it is more than 10 s late.
const RATE: usize = 6;
/// More due notices than two minutes of budget: the budget binds.
const DUE: usize = 24;

/// When an accepted text arrived at the provider, and its `To`.
type Arrival = (chrono::DateTime<chrono::Utc>, String);

/// A fake Twilio that checks the account's credentials and records when
/// each accepted text arrived and to whom.
struct Provider {
    server: e2e::FakeServer,
    accepted: Arc<std::sync::Mutex<Vec<Arrival>>>,
}

fn provider() -> Provider {
    use base64::Engine as _;
    let accepted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{AUTH}")));
    let log = accepted.clone();
    let server = e2e::FakeServer::start(move |r: &e2e::Recorded| {
        let at = chrono::Utc::now();
        if r.header("authorization") != Some(basic.as_str()) {
            return (401, "application/json".into(), r#"{"code":20003,"message":"Authenticate","status":401}"#.into());
        }
        if r.method != "POST" || r.url != format!("/2010-04-01/Accounts/{SID}/Messages.json") {
            return (404, "application/json".into(), r#"{"code":20404,"message":"Not found"}"#.into());
        }
        let Some(to) = r.form_field("To").filter(|t| t.starts_with('+')) else {
            return (400, "application/json".into(), r#"{"code":21604,"message":"A 'To' phone number is required."}"#.into());
        };
        let mut log = log.lock().expect("provider log");
        log.push((at, to));
        (201, "application/json".into(), format!(r#"{{"sid":"SM{:032}","status":"queued"}}"#, log.len()))
    });
    Provider { server, accepted }
}

fn sender_replica(state: &Path, runtime_config: Option<&Path>, sms: &Provider) -> App {
    let mut b = App::builder()
        .variable("public_base_url", PUBLIC)
        .variable("sms_api_base", sms.server.base.as_str())
        .variable("sms_account_sid", SID)
        .variable("sms_auth_token", AUTH)
        .variable("sms_from", OUR_NUMBER)
        .variable("send_rate_per_minute", RATE.to_string())
        .state_dir(state);
    if let Some(rc) = runtime_config {
        b = b.runtime_config_file(rc);
    }
    b.start()
}

fn uk_mobile(i: usize) -> String {
    format!("07911 {:06}", 123_300 + i)
}

/// `DUE` opted-in tenants owing rent due 12 days ago (stage 3), at a
/// facility where it is midday; Sundays allowed.
fn load_due_portfolio(app: &App) {
    let (s, b) = app.import(
        "properties",
        &format!("property_id,name,time_zone,state,country\nP1,Maple Court,{},,GB\n", e2e::zone_at_local_hour(12)),
    );
    assert_eq!(s, 200, "{b}");
    let due = (chrono::Utc::now() - chrono::Duration::days(12)).format("%Y-%m-%d").to_string();
    let mut csv = String::from("tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n");
    let mut ledger = String::from("tenant_id,date,due_date,kind,amount,reference\n");
    for i in 0..DUE {
        csv.push_str(&format!("S{i},P1,Tenant {i},U{i},{},,,,,,GB,,\n", uk_mobile(i)));
        ledger.push_str(&format!("S{i},{due},{due},charge,950.00,RENT-S{i}\n"));
    }
    for (kind, body) in [("tenants", csv), ("ledger", ledger)] {
        let (s, b) = app.import(kind, &body);
        assert_eq!((s, b["rejected"].clone()), (200, json!([])), "{kind}: {b}");
    }
    for i in 0..DUE {
        let (s, b) = app.staff_put(&format!("/api/tenants/S{i}/consent"), &json!({"status": "opted_in", "evidence": "lease section 12"}));
        assert_eq!(s, 200, "{b}");
    }
    let (s, mut schedule) = app.staff_get("/api/notice-schedule");
    assert_eq!(s, 200, "{schedule}");
    schedule["skip_sundays"] = json!(false);
    let (s, b) = app.staff_put("/api/notice-schedule", &schedule);
    assert_eq!(s, 200, "{b}");
}

/// `POST /api/send` with no limit: the pass runs to the end of the minute
/// (longer than the harness client's timeout allows).
fn send_over_http(base: &str) -> Json {
    let client = reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(150)).build().expect("client");
    let resp = client.post(format!("{base}/api/send")).bearer_auth(e2e::STAFF_TOKEN).send().expect("POST /api/send");
    let status = resp.status().as_u16();
    let body: Json = resp.json().unwrap_or(Json::Null);
    assert_eq!(status, 200, "{body}");
    body
}

fn unix_minute(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

/// What the shared key-value store holds for one minute's budget counter.
enum BudgetStore<'a> {
    Redis(&'a RedisServer),
    SpinFile(PathBuf),
}

impl BudgetStore<'_> {
    fn claims(&self, minute: i64) -> Option<i64> {
        let key = format!("send-budget:{minute}");
        match self {
            // Spin's Redis layout: INCRBY on the plain key, a decimal string.
            BudgetStore::Redis(r) => r.get(&key).map(|v| String::from_utf8_lossy(&v).parse().expect("decimal counter")),
            // Spin's file store: 8 little-endian bytes.
            BudgetStore::SpinFile(file) => {
                use rentmsg::base::db::Db as _;
                let db = rentmsg::base::db::NativeDb::open(file).expect("open key-value file");
                let rows = db
                    .execute("SELECT hex(value) AS v FROM spin_key_value WHERE store = 'default' AND key = ?1", &[key.as_str().into()])
                    .expect("read counter");
                rows.first().map(|r| {
                    let hex = r.string("v").expect("hex");
                    assert_eq!(hex.len(), 16, "not an 8-byte counter: {hex}");
                    let mut le = [0u8; 8];
                    for (i, b) in le.iter_mut().enumerate() {
                        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex digit");
                    }
                    i64::from_le_bytes(le)
                })
            }
        }
    }
}

/// Two replicas (A and B) on one SQLite file and one budget store. Both scan
/// at once (A's cron tick, B's `POST /api/scan`), then in rounds, until
/// texts have gone out in two calendar minutes, both run an `outbound-send`
/// cron tick and a `POST /api/send` pass at once (four passes racing for the
/// same rows and the same budget): no text goes out twice, no minute gets
/// more than `RATE` texts at the provider nor any before its slot, and every
/// sent row has one attempt and one contact-log record.
fn two_replicas_send(runtime_config: Option<&Path>, state: &Path, budget: BudgetStore<'_>) {
    let sms = provider();
    let a = sender_replica(state, runtime_config, &sms);
    load_due_portfolio(&a);
    let b = sender_replica(state, runtime_config, &sms);

    // Overlapping scans on two replicas queue each notice once (the notice key).
    std::thread::scope(|s| {
        let cron = a.cron_command("overdue-scan");
        let tick = s.spawn(move || {
            let mut cron = cron;
            cron.output().expect("spin-host cron")
        });
        let (status, report) = b.staff_post("/api/scan", &json!({}));
        assert_eq!(status, 200, "{report}");
        let out = tick.join().expect("scan tick");
        assert!(out.status.success(), "overdue-scan: {}", String::from_utf8_lossy(&out.stderr));
    });
    let db_file = state.join("sqlite_db.db");
    let db = rentmsg::base::db::NativeDb::open(&db_file).expect("open the shared database");
    let count = |sql: &str| -> i64 {
        use rentmsg::base::db::Db as _;
        db.execute(sql, &[]).expect(sql).first().expect("a row").i64("n").expect("n")
    };
    assert_eq!(count("SELECT COUNT(*) AS n FROM outbox WHERE channel = 'text' AND state = 'queued'"), DUE as i64);
    assert_eq!(count("SELECT COUNT(*) AS n FROM outbox WHERE channel = 'text'"), DUE as i64, "one text notice per tenant");
    // No email address: the email notices are blocked, never queued.
    assert_eq!(count("SELECT COUNT(*) AS n FROM outbox WHERE channel = 'email' AND state <> 'blocked'"), 0);

    // Rounds of four racing passes, until the provider has accepted texts in
    // two calendar minutes: the budget binds within a minute and renews with
    // the next. Where in a minute a round starts does not matter to what is
    // checked below, only how many texts the budget lets through: a pass ends
    // as soon as its minute's budget is spent, so a round is only started in
    // a minute no round has started in yet (waiting for the clock to get
    // there, not sleeping for a computed time).
    let deadline = Instant::now() + Duration::from_secs(330);
    let arrival_minutes = || -> BTreeSet<i64> {
        sms.accepted.lock().expect("provider log").iter().map(|(at, _)| unix_minute(*at)).collect()
    };
    let mut http_sent = 0;
    let mut round_minutes: Vec<i64> = Vec::new();
    while arrival_minutes().len() < 2 {
        assert!(round_minutes.len() < 4, "{} rounds and texts in minutes {:?} only", round_minutes.len(), arrival_minutes());
        if let Some(last) = round_minutes.last().copied() {
            while unix_minute(chrono::Utc::now()) <= last {
                assert!(Instant::now() < deadline, "the clock never left minute {last}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        round_minutes.push(unix_minute(chrono::Utc::now()));
        std::thread::scope(|s| {
            let ticks: Vec<_> = [&a, &b]
                .into_iter()
                .map(|app| {
                    let mut cron = app.cron_command("outbound-send");
                    s.spawn(move || cron.output().expect("spin-host cron"))
                })
                .collect();
            let passes: Vec<_> = [a.base.clone(), b.base.clone()].into_iter().map(|base| s.spawn(move || send_over_http(&base))).collect();
            for t in ticks {
                let out = t.join().expect("send tick");
                assert!(out.status.success(), "outbound-send: {}", String::from_utf8_lossy(&out.stderr));
            }
            for p in passes {
                let report = p.join().expect("send pass");
                assert_eq!(report["failed"], 0, "{report}");
                assert_eq!(report["unknown"], 0, "{report}");
                http_sent += report["sent"].as_i64().expect("sent");
            }
        });
    }

    let accepted = sms.accepted.lock().expect("provider log").clone();
    let sent = accepted.len();
    // Nothing twice.
    let mut numbers: Vec<&str> = accepted.iter().map(|(_, to)| to.as_str()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), sent, "a number got two texts: {accepted:?}");
    // Never more than the rate in a calendar minute, counted from when the
    // provider received each text.
    let mut per_minute = std::collections::BTreeMap::<i64, Vec<chrono::DateTime<chrono::Utc>>>::new();
    for (at, _) in &accepted {
        per_minute.entry(unix_minute(*at)).or_default().push(*at);
    }
    let counts: Vec<(i64, usize)> = per_minute.iter().map(|(m, v)| (*m, v.len())).collect();
    assert!(counts.iter().all(|(_, n)| *n <= RATE), "more than {RATE} a minute: {counts:?}");
    // Spread over the minute, one slot each, whoever claimed it: slot k of a
    // minute starts k * 60 s / RATE into it and no text leaves before its
    // slot, so the k-th text a minute brings (from 0) arrives no earlier.
    // (100 ms of leeway for the guest's sleep against the wall clock.)
    let slot = chrono::Duration::milliseconds(60_000 / RATE as i64);
    for (minute, times) in &mut per_minute {
        times.sort_unstable();
        let start = chrono::DateTime::from_timestamp(minute * 60, 0).expect("time");
        for (k, at) in times.iter().enumerate() {
            let earliest = start + slot * k as i32 - chrono::Duration::milliseconds(100);
            assert!(*at >= earliest, "text {k} of minute {minute} arrived at {at}, before its slot at {earliest}: {times:?}");
        }
    }
    // The budget bound: more was due than went out, and texts went out in
    // two minutes at least (one minute's budget did not end the sending).
    assert!(per_minute.len() >= 2 && sent < DUE, "sent {sent} of {DUE} in minutes {counts:?}");
    assert!(http_sent as usize <= sent);
    // The shared counter saw every claim of the last minute texts went out
    // in (a pass clears only the counters of minutes before its own).
    let last = *per_minute.keys().last().expect("a minute");
    let claims = budget.claims(last).unwrap_or_else(|| panic!("no budget counter for minute {last} in the shared store"));
    assert!(claims >= per_minute[&last].len() as i64, "{claims} claims, {counts:?}");
    // The database agrees: one attempt and one outbound record per text.
    assert_eq!(count("SELECT COUNT(*) AS n FROM outbox WHERE state = 'sent' AND attempts = 1"), sent as i64);
    assert_eq!(count("SELECT COUNT(*) AS n FROM outbox WHERE attempts > 1 OR state IN ('sending', 'unknown', 'failed')"), 0);
    assert_eq!(count("SELECT COUNT(*) AS n FROM outbox WHERE channel = 'text' AND state = 'queued'"), (DUE - sent) as i64);
    assert_eq!(count("SELECT COUNT(*) AS n FROM contact_log WHERE direction = 'outbound'"), sent as i64);
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM (SELECT tenant_id FROM contact_log WHERE direction = 'outbound' GROUP BY tenant_id HAVING COUNT(*) > 1)"),
        0
    );
}

#[test]
fn two_replicas_sending_with_the_budget_on_one_redis_never_double_send_or_exceed_the_rate() {
    let redis = RedisServer::start();
    let temp = tempfile::tempdir().expect("temp");
    let rc = shipped_redis_config(temp.path(), &redis);
    let state = temp.path().join("state");
    two_replicas_send(Some(&rc), &state, BudgetStore::Redis(&redis));
    assert!(!state.join("sqlite_key_value.db").exists(), "the budget went to the file store, not Redis");
}

#[test]
fn two_replicas_sending_on_one_sqlite_file_never_double_send_or_exceed_the_rate() {
    let temp = tempfile::tempdir().expect("temp");
    let state = temp.path().join("state");
    two_replicas_send(None, &state, BudgetStore::SpinFile(state.join("sqlite_key_value.db")));
}
