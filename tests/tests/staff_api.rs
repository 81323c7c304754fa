//! The staff API end to end: the real staff components (`staff-console`,
//! `staff-intake`, `staff-messaging`, with their dependencies) in the local host
//! on the app's `spin.toml`, driven over plain HTTP.
//!
//! Contact history is written by other components (outbound-send,
//! inbound-webhook); here the test writes it straight into the app's SQLite
//! file, as they would, and reads it back through the API.

use e2e::{json, json_of, App, Json, STAFF_TOKEN};
use reqwest::Method;
use rentmsg::base::channel::Channel;
use rentmsg::records::contact_log::{self, Direction, NewContact};
use rentmsg::base::db::NativeDb;

const PROPERTIES: &str = "\
property_id,name,time_zone,state,country
P1,Maple Court,America/New_York,MA,US
P2,Lakeview,America/Toronto,ON,CA
P3,Nowhere,Mars/Olympus,,US
";

const TENANTS: &str = "\
tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id,status
T1,P1,Pat Smith,1A,(415) 555-2671,617-555-0123,,Pat@Example.com,,,,,,
T2,P2,Lee Wong,2B,416 555 0199,,,lee@example.org,,,,,G7,stop
T3,P1,Sam Roe,3C,555-1234,,,,,,,,,
T4,P3,Ann Lee,4D,,,,,,,,,,
";

const LEDGER: &str = "\
tenant_id,date,due_date,kind,amount,reference
T1,2024-02-01,2024-02-01,charge,1200.00,RENT-2024-02
T1,2024-03-01,2024-03-01,charge,1200.00,RENT-2024-03
T1,2024-03-05,,payment,1500,PAY-1
T2,2024-03-01,2024-03-05,charge,950.50,RENT-2024-03
T2,2024-03-01,2024-03-05,charge,12.345,FEE-1
T9,2024-03-01,2024-03-05,charge,10,RENT-2024-03
";

fn rejected(report: &Json) -> Vec<(u64, String)> {
    report["rejected"]
        .as_array()
        .map(|a| a.iter().map(|r| (r["line"].as_u64().unwrap_or(0), r["reason"].as_str().unwrap_or("").to_owned())).collect())
        .unwrap_or_default()
}

fn import_ok(app: &App, kind: &str, csv: &str) -> Json {
    let (status, report) = app.import(kind, csv);
    assert_eq!(status, 200, "{kind}: {report}");
    report
}

fn point<'v>(view: &'v Json, kind: &str) -> &'v Json {
    view["contact_points"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["kind"] == json!(kind)))
        .unwrap_or_else(|| panic!("no {kind} in {view}"))
}

/// A request with the token, a content type and a raw body.
fn send(app: &App, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Json) {
    json_of(app.staff(method, path).header("content-type", content_type).body(body).send().expect("request"))
}

#[test]
fn a_portfolio_loads_from_csv_and_reimports_unchanged() {
    let app = App::start();
    let report = import_ok(&app, "properties", PROPERTIES);
    assert_eq!((report["created"].clone(), rejected(&report).len()), (json!(2), 1));
    assert_eq!(rejected(&report)[0].0, 4);
    assert!(rejected(&report)[0].1.contains("time zone `Mars/Olympus` is not an IANA name"), "{report}");

    let report = import_ok(&app, "tenants", TENANTS);
    assert_eq!(report["created"], json!(2), "{report}");
    let got = rejected(&report);
    assert_eq!(got.len(), 2, "{report}");
    assert_eq!(got[0].0, 4);
    assert!(got[0].1.contains("mobile_phone: `555-1234` is not a valid phone number for US"), "{report}");
    assert_eq!(got[1].0, 5);
    assert!(got[1].1.contains("unknown property_id `P3`"), "{report}");

    let report = import_ok(&app, "ledger", LEDGER);
    assert_eq!(report["created"], json!(4), "{report}");
    let got = rejected(&report);
    assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), [6, 7]);
    assert!(got[0].1.contains("more than two decimal places"));
    assert!(got[1].1.contains("unknown tenant_id `T9`"));

    // Re-importing the same files changes nothing.
    for (kind, csv, unchanged) in [("properties", PROPERTIES, 2), ("tenants", TENANTS, 2), ("ledger", LEDGER, 4)] {
        let report = import_ok(&app, kind, csv);
        assert_eq!(
            (report["created"].clone(), report["updated"].clone(), report["unchanged"].clone()),
            (json!(0), json!(0), json!(unchanged)),
            "{kind}: {report}"
        );
    }

    // Each tenant's balance and status, as of today in the tenant's zone.
    let (status, t1) = app.staff_get("/api/tenants/T1");
    assert_eq!(status, 200, "{t1}");
    assert_eq!(t1["balance_cents"], json!(90_000));
    assert!(t1["days_past_due"].as_i64().unwrap_or(0) > 0, "{t1}");
    assert_eq!(t1["oldest_open_due_date"], json!("2024-03-01"));
    assert_eq!(t1["consent"], json!("opted_out"));
    assert_eq!(t1["exclusion_status"], json!("none"));
    assert_eq!(t1["time_zone"], json!("America/New_York"));
    let addresses: Vec<(&str, &str)> = t1["contact_points"]
        .as_array()
        .map(|a| a.iter().map(|p| (p["kind"].as_str().unwrap_or(""), p["address"].as_str().unwrap_or(""))).collect())
        .unwrap_or_default();
    assert_eq!(addresses, [("mobile_phone", "+14155552671"), ("home_phone", "+16175550123"), ("email", "pat@example.com")]);
    let (_, t2) = app.staff_get("/api/tenants/T2");
    assert_eq!((t2["balance_cents"].clone(), t2["status"].clone()), (json!(95_050), json!("stop")));
    assert_eq!(point(&t2, "mobile_phone")["address"], json!("+14165550199"));
    let (status, body) = app.staff_get("/api/tenants/T3");
    assert_eq!((status, body), (404, json!({"error": "tenant `T3` not found"})));

    let (status, list) = app.staff_get("/api/tenants");
    assert_eq!((status, list["total"].clone()), (200, json!(2)));
}

#[test]
fn consent_and_exclusions_change_through_the_api() {
    let app = App::start();
    import_ok(&app, "properties", PROPERTIES);
    import_ok(&app, "tenants", TENANTS);

    // Opting in needs evidence.
    let (status, body) = app.staff_put("/api/tenants/T1/consent", &json!({"status": "opted_in"}));
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap_or("").starts_with("evidence is required to opt in"), "{body}");
    let (status, view) =
        app.staff_put("/api/tenants/T1/consent", &json!({"status": "opted_in", "evidence": "Lease section 12"}));
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["consent"], json!("opted_in"));
    let (status, view) = app.staff_put(
        "/api/tenants/T1/consent",
        &json!({"status": "opted_out", "channel": "text", "address": "+1 (415) 555-2671", "evidence": "asked by phone"}),
    );
    assert_eq!(status, 200, "{view}");
    assert_eq!(point(&view, "mobile_phone")["consent"], json!({"phone": "opted_in", "text": "opted_out"}));
    let (_, history) = app.staff_get("/api/tenants/T1/consent");
    assert_eq!(history["events"].as_array().map(Vec::len), Some(2));
    assert_eq!(history["events"][0]["evidence"], json!("Lease section 12"));

    // Bankruptcy needs a reason, which becomes a note.
    let (status, body) = app.staff_put("/api/tenants/T1/exclusions", &json!({"bankruptcy": {"on": true}}));
    assert_eq!((status, body), (400, json!({"error": "bankruptcy.reason is required when turning bankruptcy on"})));
    let (status, view) = app.staff_put(
        "/api/tenants/T1/exclusions",
        &json!({"bankruptcy": {"on": true, "reason": "Chapter 13 filed"}, "disable_auto_communications": true}),
    );
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["exclusions"]["bankruptcy"]["reason"], json!("Chapter 13 filed"));
    assert_eq!(view["exclusions"]["disable_auto_communications"]["on"], json!(true));
    assert_eq!(view["exclusions"]["disable_texting_auto_calls"]["on"], json!(false));
    assert_eq!(view["notes"][0]["body"], json!("Bankruptcy exclusion on: Chapter 13 filed"));
    let (_, view) = app.staff_put("/api/tenants/T1/exclusions", &json!({"disable_auto_communications": false}));
    assert_eq!(view["exclusions"]["bankruptcy"]["on"], json!(true), "independent of each other");

    // Per-number exclusions by user: none → partial → full.
    let (status, view) =
        app.staff_put("/api/tenants/T1/contact-points/mobile_phone/exclusion", &json!({"on": true, "reason": "asked"}));
    assert_eq!((status, view["exclusion_status"].clone()), (200, json!("partial")), "{view}");
    let (status, view) = app.staff_put("/api/tenants/T1/contact-points/%2B16175550123/exclusion", &json!({"on": true}));
    assert_eq!((status, view["exclusion_status"].clone()), (200, json!("full")), "{view}");
    let (status, body) =
        app.staff_put("/api/tenants/T1/contact-points/mobile_phone/exclusion", &json!({"by_customer": false}));
    assert_eq!(status, 409, "{body}");

    // Every write is in the audit log with who and when.
    let (_, audit) = app.staff_get("/api/audit?tenant_id=T1");
    let actions: Vec<&str> =
        audit["entries"].as_array().map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect()).unwrap_or_default();
    assert_eq!(
        actions,
        [
            "exclusions.number_by_user",
            "exclusions.number_by_user",
            "exclusions.set",
            "exclusions.set",
            "exclusions.set",
            "consent.set",
            "consent.set"
        ]
    );
    assert_eq!(audit["entries"][0]["actor"], json!("bootstrap"));
    assert!(audit["entries"][0]["at"].as_str().is_some_and(|at| at.ends_with('Z')));
}

#[test]
fn contact_history_comes_back_newest_first() {
    let app = App::start();
    import_ok(&app, "properties", PROPERTIES);
    import_ok(&app, "tenants", TENANTS);
    let (status, body) = app.staff_get("/api/tenants/T1/contacts");
    assert_eq!((status, body), (200, json!({"tenant_id": "T1", "contacts": []})));
    // What outbound-send and inbound-webhook write, in the same database.
    let db = NativeDb::open(app.state_dir.join("sqlite_db.db")).expect("open the app's database");
    let now = chrono::Utc::now();
    for (minutes_ago, channel, direction, address, body, status) in [
        (60, Channel::Text, Direction::Outbound, "+14155552671", "Rent is past due", "delivered"),
        (10, Channel::Email, Direction::Outbound, "pat@example.com", "Balance reminder", "sent"),
        (30, Channel::Text, Direction::Inbound, "+14155552671", "paying friday", "received"),
    ] {
        contact_log::record(
            &db,
            &NewContact {
                tenant_id: Some("T1"),
                channel,
                direction,
                address,
                body,
                status,
                at: now - chrono::Duration::minutes(minutes_ago),
                provider_id: None,
                detail: None,
            },
        )
        .expect("log a contact");
    }
    let (status, body) = app.staff_get("/api/tenants/T1/contacts");
    assert_eq!(status, 200);
    let seen: Vec<(&str, &str, &str)> = body["contacts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| (c["channel"].as_str().unwrap_or(""), c["direction"].as_str().unwrap_or(""), c["body"].as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        seen,
        [("email", "outbound", "Balance reminder"), ("text", "inbound", "paying friday"), ("text", "outbound", "Rent is past due")]
    );
    for c in body["contacts"].as_array().into_iter().flatten() {
        for field in ["address", "status", "at"] {
            assert!(c[field].is_string(), "{field} in {c}");
        }
    }
}

#[test]
fn no_token_or_a_wrong_one_gets_401_and_no_data() {
    let app = App::start();
    import_ok(&app, "properties", PROPERTIES);
    import_ok(&app, "tenants", TENANTS);
    let attempts: Vec<(&str, Option<String>)> = vec![
        ("none", None),
        ("wrong", Some("Bearer not-the-token".into())),
        ("prefix", Some(format!("Bearer {}", &STAFF_TOKEN[..STAFF_TOKEN.len() - 1]))),
        ("longer", Some(format!("Bearer {STAFF_TOKEN}0"))),
        ("basic", Some(format!("Basic {STAFF_TOKEN}"))),
        ("bare", Some(STAFF_TOKEN.into())),
    ];
    for (name, authorization) in attempts {
        for (method, path, content_type, body) in [
            (Method::GET, "/api/tenants/T1", "application/json", String::new()),
            (Method::GET, "/api/tenants", "application/json", String::new()),
            (Method::GET, "/api/audit", "application/json", String::new()),
            (Method::PUT, "/api/tenants/T1/consent", "application/json", r#"{"status":"opted_in","evidence":"x"}"#.into()),
            (Method::POST, "/api/import/properties", "text/csv", "property_id,name,time_zone,state,country\nP7,X,UTC,,\n".into()),
        ] {
            let mut req = app.client.request(method.clone(), app.url(path)).header("content-type", content_type).body(body);
            if let Some(a) = &authorization {
                req = req.header("authorization", a);
            }
            let resp = req.send().expect("request");
            assert_eq!(resp.status().as_u16(), 401, "{name}: {method} {path}");
            assert_eq!(resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
            let text = resp.text().unwrap_or_default();
            assert_eq!(text, r#"{"error":"missing or invalid bearer token"}"#, "{name}: {method} {path}: no data");
        }
    }
    // None of those writes happened.
    let (_, t1) = app.staff_get("/api/tenants/T1");
    assert_eq!(t1["consent"], json!("opted_out"));
    let (status, _) = app.staff_get("/api/tenants/T1");
    assert_eq!(status, 200);
    let (_, audit) = app.staff_get("/api/audit");
    assert_eq!(audit["entries"].as_array().map(Vec::len), Some(2), "only the two imports: {audit}");
}

#[test]
fn malformed_input_gets_4xx_with_a_message_and_changes_nothing() {
    let app = App::start();
    import_ok(&app, "properties", PROPERTIES);
    import_ok(&app, "tenants", TENANTS);
    let tenants_header = TENANTS.lines().next().unwrap_or_default();
    let mut latin1 = format!("{tenants_header}\nT5,P1,Ren").into_bytes();
    latin1.extend_from_slice(b"\xe9e Roy,5E,,,,,,,,,,\n");
    let cases: Vec<(Method, &str, &str, Vec<u8>, u16, &str)> = vec![
        (Method::PUT, "/api/tenants/T1/consent", "application/json", br#"{"status": "opted_in", "evidence": "#.to_vec(), 400, "invalid JSON body: EOF while parsing"),
        (Method::PUT, "/api/tenants/T1/consent", "application/json", b"status=opted_in".to_vec(), 400, "invalid JSON body: expected value"),
        (Method::PUT, "/api/tenants/T1/consent", "application/json", br#"["opted_in"]"#.to_vec(), 400, "invalid JSON body: expected an object"),
        (Method::PUT, "/api/tenants/T1/consent", "application/json", br#"{"status": "yes"}"#.to_vec(), 400, "unknown variant `yes`"),
        (Method::PUT, "/api/tenants/T1/consent", "application/json", Vec::new(), 400, "the body is empty"),
        (Method::PUT, "/api/tenants/T1/consent", "text/plain", br#"{"status": "opted_out"}"#.to_vec(), 415, "content type must be application/json, not text/plain"),
        (Method::PUT, "/api/tenants/T1/exclusions", "application/json", br#"{"bankruptcy": "on"}"#.to_vec(), 400, "invalid JSON body: invalid type"),
        (Method::PUT, "/api/tenants/T1/exclusions", "application/json", b"{}".to_vec(), 400, "nothing to change"),
        (Method::POST, "/api/import/tenants", "text/csv", b"id,name\n1,x\n".to_vec(), 400, "the header is missing column(s) tenant_id, property_id"),
        (Method::POST, "/api/import/tenants", "text/csv", latin1, 400, "the body is not valid UTF-8"),
        (Method::POST, "/api/import/tenants", "text/csv", Vec::new(), 400, "the CSV is empty"),
        (Method::POST, "/api/import/tenants", "application/json", TENANTS.as_bytes().to_vec(), 415, "content type must be text/csv"),
        (Method::POST, "/api/import/ledger", "text/csv; charset=iso-8859-1", LEDGER.as_bytes().to_vec(), 415, "charset iso-8859-1 is not supported; send UTF-8"),
        (Method::DELETE, "/api/tenants/T1", "application/json", Vec::new(), 405, "DELETE is not allowed here; use GET"),
        (Method::GET, "/api/tenants/T1/nothing", "application/json", Vec::new(), 404, "no such route"),
    ];
    for (method, path, content_type, body, want_status, want_message) in cases {
        let (status, reply) = send(&app, method.clone(), path, content_type, body);
        let message = reply["error"].as_str().unwrap_or("").to_owned();
        assert_eq!(status, want_status, "{method} {path}: {reply}");
        assert!(message.contains(want_message), "{method} {path}: {message:?} should say {want_message:?}");
    }
    // A body over 20 MiB: 413 with the token, 401 without; memory stays flat
    // because the component keeps only the first 20 MiB + 1 byte.
    let huge = vec![b'x'; 21 * 1024 * 1024];
    let (status, reply) = send(&app, Method::POST, "/api/import/tenants", "text/csv", huge.clone());
    assert_eq!((status, reply), (413, json!({"error": "the body is larger than 20 MiB"})));
    let resp = app
        .client
        .post(app.url("/api/import/tenants"))
        .header("content-type", "text/csv")
        .body(huge)
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);

    let (_, t1) = app.staff_get("/api/tenants/T1");
    assert_eq!(t1["consent"], json!("opted_out"));
    assert_eq!(t1["exclusions"]["bankruptcy"]["on"], json!(false));
    let (_, list) = app.staff_get("/api/tenants");
    assert_eq!(list["total"], json!(2), "no tenant from a refused file");
}

#[test]
fn every_documented_route_is_served_through_the_host() {
    let doc: Json = {
        let path = e2e::workspace_root().join("components/staff-console/openapi.yaml");
        let text = std::fs::read_to_string(path).expect("read openapi.yaml");
        serde_yaml::from_str(&text).expect("openapi.yaml is YAML")
    };
    let app = App::start();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else { continue };
            // Routes documented as answering something else (an SVG chart) are checked for being served only.
            let answers_json = op["responses"]["200"]["content"].get("application/json").is_some()
                || op["responses"]["200"].get("$ref").is_some()
                || op["responses"]["201"].is_object();
            let documented: Vec<&str> = op["responses"].as_object().map(|r| r.keys().map(String::as_str).collect()).unwrap_or_default();
            // Parameters filled with values that exist nowhere.
            let concrete: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "no-such-thing" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let resp = app.staff(method.clone(), &concrete).header("content-type", "application/json").body("{}").send().expect("request");
            let status = resp.status().as_u16();
            let text = resp.text().unwrap_or_default();
            // Served: the component answered, its router knew the route, and
            // it handled the request (an answer about the request, even a
            // 4xx for the empty body or the unknown id, never a failure).
            let expected = format!(
                "{method} {path} (sent as {concrete}): expected the route served, any status but 404-no-such-route, 405 or 5xx (documented: {})",
                documented.join(", ")
            );
            if status == 404 && (text == "Not Found" || text.contains("no such route")) {
                failures.push(format!("{expected}; got {status} {text}: documented but not served through spin.toml"));
            } else if status == 405 {
                failures.push(format!("{expected}; got {status} {text}: the router does not take {method} here"));
            } else if status >= 500 {
                failures.push(format!("{expected}; got {status} {text}: the route failed"));
            } else if answers_json && !text.starts_with('{') {
                failures.push(format!("{expected}, answering JSON; got {status} {text:?}"));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {checked} documented operations failed:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 12, "only {checked} operations found in openapi.yaml");
}

#[test]
fn concurrent_first_requests_migrate_the_schema_once() {
    let app = App::start();
    let results: Vec<(u16, Json)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let app = &app;
                s.spawn(move || {
                    if i % 2 == 0 {
                        app.staff_get("/api/tenants")
                    } else {
                        app.import("properties", PROPERTIES)
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
    }
    let db = NativeDb::open(app.state_dir.join("sqlite_db.db")).expect("open the app's database");
    use rentmsg::base::db::Db as _;
    let rows = db.execute("SELECT count(*) AS n FROM schema_migrations", &[]).expect("count");
    let n = rows.first().map(|r| r.i64("n").unwrap_or(-1)).unwrap_or(-1);
    assert_eq!(n, rentmsg::schema::MIGRATIONS.len() as i64);
    let rows = db.execute("SELECT count(*) AS n FROM properties", &[]).expect("count");
    assert_eq!(rows.first().map(|r| r.i64("n").unwrap_or(-1)), Some(2), "three imports of one file: two properties");
}

#[test]
fn logs_carry_routes_not_personal_data() {
    let app = App::start();
    import_ok(&app, "properties", PROPERTIES);
    import_ok(&app, "tenants", TENANTS);
    app.staff_get("/api/tenants/T1/contact-points");
    app.staff_put("/api/tenants/T1/contact-points/%2B14155552671/exclusion", &json!({"on": true}));
    app.staff_put("/api/tenants/T1/contact-points/pat%40example.com/exclusion", &json!({"on": true}));
    app.staff_get("/api/tenants/T1");
    let staff = |j: &Json| rentmsg::api::GROUPS.iter().any(|g| j["component"] == json!(g.component));
    let console_lines = |log: &str| -> Vec<Json> {
        log.lines().filter_map(|l| serde_json::from_str::<Json>(l).ok()).filter(|j| staff(j)).collect()
    };
    let log = app.log_when(|log| console_lines(log).len() >= 5);
    let lines = console_lines(&log);
    assert!(lines.len() >= 5, "one JSON line per request on stderr:\n{log}");
    assert!(lines.iter().any(|l| l["route"] == json!("/api/tenants/{tenant_id}/contact-points/{contact_point}/exclusion")));
    for needle in ["4155552671", "%2B1415", "example.com", "pat%40", STAFF_TOKEN] {
        assert!(!log.contains(needle), "the log contains {needle}:\n{log}");
    }
}
