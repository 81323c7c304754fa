//! `components/staff-console/openapi.yaml` documents exactly the routes the
//! staff API serves (`rentmsg::api::GROUPS`), and the replies the API really
//! gives match the documented schemas.
//!
//! Adding a route: add it to a route group (and, outside staff-console's
//! group, its path to spin.toml) and to `paths` in the OpenAPI file (with
//! its parameters and at least a 401 response); the first test names
//! whatever is missing on either side.

mod common;

use chrono::{Duration, Utc};
use common::Env;
use rentmsg::base::channel::Channel;
use rentmsg::records::contact_log::{self, Direction, NewContact};
use serde_json::{json, Value as Json};
use std::collections::BTreeSet;

const OPENAPI: &str = "components/staff-console/openapi.yaml";
const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

fn document() -> Json {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../staff-console/openapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {OPENAPI}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{OPENAPI} is not valid YAML: {e}"))
}

/// Follow a local `$ref` (`#/components/...`).
fn resolve<'d>(doc: &'d Json, node: &'d Json) -> &'d Json {
    match node.get("$ref").and_then(Json::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("only local $refs are used: {r}"));
            let target = doc.pointer(pointer).unwrap_or_else(|| panic!("{OPENAPI}: $ref {r} points nowhere"));
            resolve(doc, target)
        }
        None => node,
    }
}

fn documented_operations(doc: &Json) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().unwrap_or_else(|| panic!("{OPENAPI} has no paths"));
    let mut ops = BTreeSet::new();
    for (path, item) in paths {
        for (key, _) in item.as_object().into_iter().flatten() {
            if METHODS.contains(&key.as_str()) {
                ops.insert((key.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// `/api/*` routes served by components outside the staff API (an exact
/// route in spin.toml beats staff-console's `/api/...`): method, path and
/// the component (the cron components' HTTP-only twins, which SpinKube can run). They are documented in the same file.
const SERVED_ELSEWHERE: &[(&str, &str, &str)] =
    &[("POST", "/api/scan", "overdue-scan-http"), ("POST", "/api/send", "outbound-send-http")];

#[test]
fn routes_served_elsewhere_are_routed_to_their_component_in_spin_toml() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
    let manifest: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let triggers = manifest["trigger"]["http"].as_array().unwrap();
    for (_, route, component) in SERVED_ELSEWHERE {
        let found = triggers.iter().any(|t| t["route"].as_str() == Some(route) && t["component"].as_str() == Some(component));
        assert!(found, "spin.toml has no [[trigger.http]] route = {route:?} for component {component:?}");
        assert!(
            rentmsg::api::route_table().iter().all(|(_, p)| p != route),
            "{route} is served by {component}; it must not also be in rentmsg::api::GROUPS"
        );
    }
}

#[test]
fn openapi_paths_and_methods_match_the_served_routes() {
    let doc = document();
    let documented = documented_operations(&doc);
    let served: BTreeSet<(String, String)> = rentmsg::api::route_table()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .chain(SERVED_ELSEWHERE.iter().map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned())))
        .collect();
    let mut problems = Vec::new();
    for (method, path) in served.difference(&documented) {
        problems.push(format!(
            "{method} {path} is served (rentmsg::api::GROUPS) but missing from {OPENAPI}: add `{}:` under `paths: {path}:`",
            method.to_ascii_lowercase()
        ));
    }
    for (method, path) in documented.difference(&served) {
        problems.push(format!("{method} {path} is documented in {OPENAPI} but not served: add it to a group of rentmsg::api::GROUPS or remove it"));
    }
    assert!(problems.is_empty(), "the OpenAPI document and the routes disagree:\n  {}", problems.join("\n  "));
}

#[test]
fn openapi_document_is_3_1_and_consistent() {
    let doc = document();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "{OPENAPI}: openapi is {version:?}, expected 3.1.x");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string(), "{OPENAPI}: info.title and info.version are required");
    assert_eq!(doc["security"], json!([{"staffToken": []}, {"sessionCookie": []}]), "every route needs the bearer token or the session cookie");
    assert_eq!(doc["components"]["securitySchemes"]["sessionCookie"]["in"], json!("cookie"));
    assert_eq!(doc["components"]["securitySchemes"]["staffToken"]["scheme"], json!("bearer"));

    // Every $ref resolves.
    fn refs<'a>(node: &'a Json, out: &mut Vec<&'a str>) {
        match node {
            Json::Object(map) => {
                if let Some(Json::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Json::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        assert!(doc.pointer(r.trim_start_matches('#')).is_some(), "{OPENAPI}: $ref {r} points nowhere");
    }

    let mut problems = Vec::new();
    for (method, path) in documented_operations(&doc) {
        let op = &doc["paths"][&path][method.to_ascii_lowercase()];
        let name = format!("{method} {path}");
        let template: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        let declared: BTreeSet<String> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| resolve(&doc, p))
            .filter(|p| p["in"] == json!("path"))
            .map(|p| {
                if p["required"] != json!(true) {
                    problems.push(format!("{name}: path parameter {} must be required", p["name"]));
                }
                p["name"].as_str().unwrap_or_default().to_owned()
            })
            .collect();
        if template != declared {
            problems.push(format!("{name}: path parameters {declared:?} do not match the template's {template:?}"));
        }
        let responses = op["responses"].as_object().cloned().unwrap_or_default();
        // Success is 200, 201 for a route that creates something, or 204
        // for one that answers nothing (signing in and out, a password).
        if !["200", "201", "204"].iter().any(|s| responses.contains_key(*s)) {
            problems.push(format!("{name}: no 200 (or 201) response documented"));
        }
        if !responses.contains_key("401") {
            problems.push(format!("{name}: no 401 response documented"));
        }
        if op["operationId"].as_str().is_none() {
            problems.push(format!("{name}: no operationId"));
        }
        if !op["requestBody"].is_null() {
            for status in ["400", "413", "415"] {
                if !responses.contains_key(status) {
                    problems.push(format!("{name}: takes a body but documents no {status} response (the API answers it)"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{OPENAPI}:\n  {}", problems.join("\n  "));
}

/// Check `value` against a (small) JSON Schema subset: `$ref`, `type`,
/// `enum`, `const`, `oneOf`, `properties`, `required`,
/// `additionalProperties`, `items`. Problems are pushed with their JSON path.
fn check(doc: &Json, schema: &Json, value: &Json, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(options) = schema["oneOf"].as_array() {
        let matching = options
            .iter()
            .filter(|s| {
                let mut p = Vec::new();
                check(doc, s, value, at, &mut p);
                p.is_empty()
            })
            .count();
        if matching != 1 {
            problems.push(format!("{at}: {value} matches {matching} of the oneOf schemas"));
        }
        return;
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Json::String(s) => vec![s.as_str()],
            Json::Array(a) => a.iter().filter_map(Json::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        };
        if !types.iter().any(|t| *t == actual || (*t == "number" && actual == "integer")) {
            problems.push(format!("{at}: {actual} where the schema says {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            problems.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(c) = schema.get("const") {
        if c != value {
            problems.push(format!("{at}: {value} is not {c}"));
        }
    }
    match value {
        Json::Object(map) => {
            for key in schema["required"].as_array().into_iter().flatten().filter_map(Json::as_str) {
                if !map.contains_key(key) {
                    problems.push(format!("{at}: required property `{key}` is missing"));
                }
            }
            let props = schema["properties"].as_object();
            for (key, v) in map {
                match props.and_then(|p| p.get(key)) {
                    Some(s) => check(doc, s, v, &format!("{at}.{key}"), problems),
                    None => match schema.get("additionalProperties") {
                        Some(Json::Bool(false)) => problems.push(format!("{at}: property `{key}` is not documented")),
                        Some(extra) if extra.is_object() => check(doc, extra, v, &format!("{at}.{key}"), problems),
                        _ => {}
                    },
                }
            }
        }
        Json::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    check(doc, item_schema, v, &format!("{at}[{i}]"), problems);
                }
            }
        }
        _ => {}
    }
}

/// The documented schema of one reply.
fn response_schema<'d>(doc: &'d Json, method: &str, path: &str, status: u16) -> &'d Json {
    let op = &doc["paths"][path][method.to_ascii_lowercase()];
    let response = resolve(doc, &op["responses"][status.to_string()]);
    let schema = &response["content"]["application/json"]["schema"];
    assert!(!schema.is_null(), "{OPENAPI}: {method} {path} documents no JSON schema for {status}");
    schema
}

#[test]
fn real_replies_match_the_documented_schemas() {
    let doc = document();
    let env = Env::new();
    let mut problems = Vec::new();
    let mut expect = |method: &str, template: &str, r: rentmsg::base::http::Response| {
        let schema = response_schema(&doc, method, template, r.status);
        check(&doc, schema, &r.body_json(), &format!("{method} {template} {}", r.status), &mut problems);
    };
    expect("POST", "/api/import/properties", env.import("properties", common::PROPERTIES));
    expect(
        "POST",
        "/api/import/tenants",
        env.import("tenants", &format!("{}T9,P9,Nobody,,,,,,,,,,\n", common::TENANTS)),
    );
    expect("POST", "/api/import/ledger", env.import("ledger", common::LEDGER));
    expect("POST", "/api/import/ledger", env.send("POST", "/api/import/ledger", Some("text/csv"), b"nope\n"));
    expect("POST", "/api/import/ledger", env.send("POST", "/api/import/ledger", Some("text/plain"), b"x"));
    expect("PUT", "/api/tenants/{tenant_id}/consent", env.put_json("/api/tenants/T1/consent", &json!({"status": "opted_in", "evidence": "lease"})));
    expect("GET", "/api/revocation-phrases", env.get("/api/revocation-phrases"));
    expect("PUT", "/api/revocation-phrases", env.put_json("/api/revocation-phrases", &json!({"phrases": [{"phrase": "please stop texting me", "language": "en"}]})));
    expect("PUT", "/api/revocation-phrases", env.put_json("/api/revocation-phrases", &json!({"phrases": []})));
    expect("PUT", "/api/tenants/{tenant_id}/consent", env.put_json("/api/tenants/T1/consent", &json!({"status": "opted_in"})));
    expect(
        "PUT",
        "/api/tenants/{tenant_id}/consent",
        env.put_json("/api/tenants/T1/consent", &json!({"status": "opted_out", "channel": "text", "address": "mobile_phone"})),
    );
    expect(
        "PUT",
        "/api/tenants/{tenant_id}/exclusions",
        env.put_json("/api/tenants/T1/exclusions", &json!({"bankruptcy": {"on": true, "reason": "filed"}, "disable_texting_auto_calls": true})),
    );
    expect(
        "PUT",
        "/api/tenants/{tenant_id}/contact-points/{contact_point}/exclusion",
        env.put_json("/api/tenants/T1/contact-points/home_phone/exclusion", &json!({"on": true, "reason": "asked"})),
    );
    expect(
        "PUT",
        "/api/tenants/{tenant_id}/contact-points/{contact_point}/exclusion",
        env.put_json("/api/tenants/T1/contact-points/home_phone/exclusion", &json!({"by_customer": false})),
    );
    rentmsg::records::exclusions::set_customer_opt_out(&env.db, "+14155552671", env.now, Some("SM1")).unwrap();
    for (minutes, direction) in [(0, Direction::Outbound), (5, Direction::Inbound)] {
        contact_log::record(
            &env.db,
            &NewContact {
                tenant_id: Some("T1"),
                channel: Channel::Text,
                direction,
                address: "+14155552671",
                body: "hello",
                status: "delivered",
                at: Utc::now() - Duration::minutes(minutes),
                provider_id: Some("SM9"),
                detail: Some(&json!({"stage": 1})),
            },
        )
        .unwrap();
    }
    expect("GET", "/api/tenants/{tenant_id}", env.get("/api/tenants/T1"));
    expect("GET", "/api/tenants/{tenant_id}", env.get("/api/tenants/T3"));
    expect("GET", "/api/tenants/{tenant_id}", env.get("/api/tenants/nobody"));
    expect("GET", "/api/tenants", env.get("/api/tenants?limit=2"));
    expect("GET", "/api/tenants/{tenant_id}/ledger", env.get("/api/tenants/T1/ledger"));
    expect("GET", "/api/tenants/{tenant_id}/consent", env.get("/api/tenants/T1/consent"));
    expect("GET", "/api/tenants/{tenant_id}/contacts", env.get("/api/tenants/T1/contacts"));
    expect("GET", "/api/audit", env.get("/api/audit"));
    expect("GET", "/api/audit", env.raw("GET", "/api/audit", &[], b""));

    // Compliance: a decision of each kind, with and without an address.
    let post = |path: &str, body: &Json| env.send("POST", path, Some("application/json"), body.to_string().as_bytes());
    let check = |body: Json| {
        let r = post("/api/compliance/check", &body);
        assert!(r.status != 200 || !r.body_json()["decision"].is_null(), "{body}");
        r
    };
    let block = check(json!({"tenant_id": "T1", "channel": "text"}));
    assert_eq!(block.body_json()["decision"], json!("block"));
    expect("POST", "/api/compliance/check", block);
    let defer = check(json!({"tenant_id": "T1", "channel": "letter", "at": "2024-03-10T10:00:00Z", "manual": true}));
    assert_eq!(defer.body_json()["decision"], json!("defer"));
    expect("POST", "/api/compliance/check", defer);
    let allow = check(json!({"tenant_id": "T2", "channel": "phone", "address": "416-555-0199", "at": "2024-03-11T16:00:00-00:00", "manual": true}));
    assert_eq!(allow.body_json()["decision"], json!("allow"), "{}", allow.body_json());
    expect("POST", "/api/compliance/check", allow);
    expect("POST", "/api/compliance/check", check(json!({"tenant_id": "T3", "channel": "text", "address": null, "at": null, "manual": null})));
    expect("POST", "/api/compliance/check", check(json!({"tenant_id": "T1", "channel": "fax"})));
    expect("POST", "/api/compliance/check", check(json!({"tenant_id": "nobody", "channel": "text"})));
    expect("POST", "/api/compliance/check", env.send("POST", "/api/compliance/check", Some("text/plain"), b"{}"));
    expect("POST", "/api/compliance/check", env.raw("POST", "/api/compliance/check", &[], b"{}"));

    // Contact controls: the shipped packs use most settings; a staff control the rest.
    expect("GET", "/api/contact-controls", env.get("/api/contact-controls"));
    let created = post(
        "/api/contact-controls",
        &json!({"key": "ma-texts", "channel": "text", "state": "ma", "country": "us", "description": "Our MA policy",
                "max_contacts": 3, "period_days": 10, "count_channels": ["email"], "address_kinds": ["mobile_phone"],
                "window": "09:00-20:00", "day_windows": {"sun": "closed"}, "holidays": ["07-04"], "sms_reauth_days": 90,
                "apply_to_group": true, "enabled": false}),
    );
    assert_eq!(created.status, 201, "{}", created.body_json());
    expect("POST", "/api/contact-controls", created);
    expect("POST", "/api/contact-controls", post("/api/contact-controls", &json!({"key": "ma-texts", "channel": "text"})));
    expect("POST", "/api/contact-controls", post("/api/contact-controls", &json!({"key": "Bad Key", "channel": "text"})));
    let mut stored = env.get_ok("/api/contact-controls/ma-texts");
    expect("GET", "/api/contact-controls/{key}", env.get("/api/contact-controls/ma-texts"));
    expect("GET", "/api/contact-controls/{key}", env.get("/api/contact-controls/nope"));
    stored["window"] = json!("08:00-21:00");
    let replaced = env.put_json("/api/contact-controls/ma-texts", &stored);
    assert_eq!(replaced.status, 200, "{}", replaced.body_json());
    expect("PUT", "/api/contact-controls/{key}", replaced);
    expect("PUT", "/api/contact-controls/{key}", env.put_json("/api/contact-controls/ma-texts", &json!({"channel": "fax"})));
    expect("PUT", "/api/contact-controls/{key}", env.put_json("/api/contact-controls/nope", &json!({"channel": "text"})));
    expect("DELETE", "/api/contact-controls/{key}", env.send("DELETE", "/api/contact-controls/ma-texts", None, b""));
    expect("DELETE", "/api/contact-controls/{key}", env.send("DELETE", "/api/contact-controls/ma-texts", None, b""));
    expect("GET", "/api/call-result-codes", env.get("/api/call-result-codes"));

    // Notices: schedule, templates, outbox, settings, and the reports of
    // the scan and send components.
    let mut schedule = env.get_ok("/api/notice-schedule");
    expect("GET", "/api/notice-schedule", env.get("/api/notice-schedule"));
    schedule["holidays"] = json!(["12-25", "2024-07-05"]);
    let replaced = env.put_json("/api/notice-schedule", &schedule);
    assert_eq!(replaced.status, 200, "{}", replaced.body_json());
    expect("PUT", "/api/notice-schedule", replaced);
    schedule["stages"][0]["stage"] = json!(9);
    expect("PUT", "/api/notice-schedule", env.put_json("/api/notice-schedule", &schedule));
    expect("GET", "/api/notice-templates", env.get("/api/notice-templates"));
    let mut template = env.get_ok("/api/notice-templates/1/text");
    expect("GET", "/api/notice-templates/{stage}/{channel}", env.get("/api/notice-templates/1/text"));
    expect("GET", "/api/notice-templates/{stage}/{channel}", env.get("/api/notice-templates/7/email"));
    expect("GET", "/api/notice-templates/{stage}/{channel}", env.get("/api/notice-templates/1/fax"));
    template["body"] = json!("{{ facility }}: {{ balance }} is past due. {{ payment_link }} {{ opt_out }}");
    expect("PUT", "/api/notice-templates/{stage}/{channel}", env.put_json("/api/notice-templates/1/text", &template));
    expect("PUT", "/api/notice-templates/{stage}/{channel}", env.put_json("/api/notice-templates/1/text", &json!({"body": "no opt-out"})));
    let checker = rentmsg::compliance::DbChecker { db: &env.db };
    let report = rentmsg::notices::scan::run(&env.db, &checker, env.now).unwrap();
    expect("POST", "/api/scan", rentmsg::base::http::Response::json(200, &report));
    expect("POST", "/api/send", rentmsg::base::http::Response::json(200, &rentmsg::sending::send::SendReport::default()));
    rentmsg::notices::outbox::queue_supplemental(
        &env.db,
        &checker,
        &rentmsg::notices::outbox::Supplemental { tenant_id: "T2", channel: Channel::Email, subject: Some("Hi"), language: None, body: "Hello {{ opt_out }}", actor: "staff", asked: serde_json::Value::Null },
        env.now,
    )
    .unwrap();
    let page = env.get_ok("/api/outbox?limit=5");
    assert!(!page["items"].as_array().unwrap().is_empty(), "{page}");
    expect("GET", "/api/outbox", env.get("/api/outbox?limit=5"));
    expect("GET", "/api/outbox", env.get("/api/outbox?state=nope"));
    let id = page["items"][0]["id"].as_i64().unwrap();
    expect("GET", "/api/outbox/{id}", env.get(&format!("/api/outbox/{id}")));
    expect("GET", "/api/outbox/{id}", env.get("/api/outbox/999999"));
    expect("GET", "/api/settings", env.get("/api/settings"));
    expect("PUT", "/api/settings", env.put_json("/api/settings", &json!({"link_expiry_days": 14})));
    expect("PUT", "/api/settings", env.put_json("/api/settings", &json!({"link_expiry_days": 0})));
    expect("PUT", "/api/settings", env.put_json("/api/settings", &json!({"promise_horizon_days": 10})));
    // Promises to pay (payment links).
    let promise = |body: Json| env.send("POST", "/api/tenants/T1/promises", Some("application/json"), body.to_string().as_bytes());
    expect("POST", "/api/tenants/{tenant_id}/promises", promise(json!({"promised_date": "2024-03-12", "amount_cents": 50000})));
    expect("POST", "/api/tenants/{tenant_id}/promises", promise(json!({"promised_date": "2024-03-13"})));
    expect("POST", "/api/tenants/{tenant_id}/promises", promise(json!({"promised_date": "2024-01-01"})));
    expect("POST", "/api/tenants/{tenant_id}/promises", promise(json!({"promised_date": "2024-03-12", "amount_cents": 99999999})));
    expect("GET", "/api/tenants/{tenant_id}/promises", env.get("/api/tenants/T1/promises"));
    expect("GET", "/api/tenants/{tenant_id}/promises", env.get("/api/tenants/nobody/promises"));
    let listed = env.get_ok("/api/tenants/T1/promises");
    assert_eq!(listed["promises"].as_array().map(Vec::len), Some(2), "{listed}");
    assert_eq!(listed["promises"][1]["status"], "replaced", "{listed}");
    assert!(problems.is_empty(), "replies that do not match {OPENAPI}:\n  {}", problems.join("\n  "));
}

#[test]
fn the_schema_check_itself_catches_drift() {
    // The checker above must be able to fail, or the test proves nothing.
    let doc = document();
    let schema = json!({"$ref": "#/components/schemas/ImportReport"});
    let mut problems = Vec::new();
    check(&doc, &schema, &json!({"created": 1, "updated": 0, "unchanged": 0, "rejected": [], "extra": 1}), "r", &mut problems);
    check(&doc, &schema, &json!({"created": "1", "updated": 0, "unchanged": 0, "rejected": [{"line": 2}]}), "r", &mut problems);
    check(&doc, &json!({"$ref": "#/components/schemas/ConsentStatus"}), &json!("maybe"), "s", &mut problems);
    assert_eq!(
        problems,
        [
            "r: property `extra` is not documented",
            "r.created: string where the schema says [\"integer\"]",
            "r.rejected[0]: required property `reason` is missing",
            "s: \"maybe\" is not one of [String(\"opted_in\"), String(\"opted_out\")]",
        ]
    );
}

#[test]
fn console_replies_match_the_documented_schemas() {
    let doc = document();
    let env = Env::new();
    env.seed();
    let mut problems = Vec::new();
    let mut expect = |method: &str, template: &str, r: rentmsg::base::http::Response| {
        let schema = response_schema(&doc, method, template, r.status);
        check(&doc, schema, &r.body_json(), &format!("{method} {template} {}", r.status), &mut problems);
    };
    let post = |path: &str, body: &Json| env.send("POST", path, Some("application/json"), body.to_string().as_bytes());
    expect("GET", "/api/call-list", env.get("/api/call-list"));
    expect("GET", "/api/call-list", env.get("/api/call-list?limit=0"));
    let call = post("/api/tenants/T1/calls", &json!({"result_code": 101, "notes": "ok", "promise": {"date": "2024-03-12"}}));
    assert_eq!(call.status, 201, "{}", call.body_json());
    expect("POST", "/api/tenants/{tenant_id}/calls", call);
    expect("POST", "/api/tenants/{tenant_id}/calls", post("/api/tenants/T1/calls", &json!({"result_code": 108})));
    expect("POST", "/api/tenants/{tenant_id}/calls", post("/api/tenants/T1/calls", &json!({"result_code": 108, "override_reason": "asked"})));
    expect("POST", "/api/tenants/{tenant_id}/calls", post("/api/tenants/T1/calls", &json!({"result_code": 999})));
    expect("POST", "/api/tenants/{tenant_id}/calls", post("/api/tenants/nobody/calls", &json!({"result_code": 101})));
    expect("GET", "/api/call-list", env.get("/api/call-list"));
    expect("GET", "/api/tenants/{tenant_id}/promises", env.get("/api/tenants/T1/promises"));
    expect("GET", "/api/tenants/{tenant_id}/promises", env.get("/api/tenants/nobody/promises"));
    let msg = post("/api/tenants/T1/messages", &json!({"channel": "email", "purpose": "balance_reminder", "template_stage": 1}));
    assert_eq!(msg.status, 201, "{}", msg.body_json());
    expect("POST", "/api/tenants/{tenant_id}/messages", msg);
    expect("POST", "/api/tenants/{tenant_id}/messages", post("/api/tenants/T3/messages", &json!({"channel": "text", "purpose": "balance_reminder", "body": "Hi"})));
    expect("POST", "/api/tenants/{tenant_id}/messages", post("/api/tenants/T1/messages", &json!({"channel": "text", "purpose": "ads", "body": "Hi"})));
    expect("GET", "/api/reports", env.get("/api/reports"));
    expect("GET", "/api/reports", env.get("/api/reports?from=2024-03-01&to=2024-03-10&property_id=P1"));
    expect("GET", "/api/reports", env.get("/api/reports?from=nope"));
    expect("GET", "/api/reports", env.get("/api/reports?property_id=P9"));
    expect("GET", "/api/reports/chart.svg", env.get("/api/reports/chart.svg?from=2024-03-11&to=2024-03-01"));
    assert!(problems.is_empty(), "replies that do not match {OPENAPI}:\n  {}", problems.join("\n  "));
}

fn document_text() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../staff-console/openapi.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {OPENAPI}: {e}"))
}

/// What a typed OpenAPI 3.1 reader (the `oas3` crate) finds wrong with a
/// document given as JSON: it must deserialize as an OpenAPI 3.1 `Spec`,
/// and every parameter, request body, response and schema must resolve.
fn openapi_3_1_problems(doc: &Json) -> Vec<String> {
    let spec = match oas3::from_json(doc.to_string()) {
        Ok(spec) => spec,
        Err(e) => return vec![format!("not an OpenAPI 3.1 document: {e}")],
    };
    let mut problems = Vec::new();
    if let Err(e) = spec.validate_version() {
        problems.push(format!("openapi version: {e}"));
    }
    let schema_problem =
        |schema: &oas3::spec::Schema, at: &str| schema.resolve(&spec).err().map(|e| format!("{at}: schema: {e}"));
    for (path, method, op) in spec.operations() {
        let at = format!("{method} {path}");
        for p in &op.parameters {
            match p.resolve(&spec) {
                Ok(p) => problems.extend(p.schema.as_ref().and_then(|s| schema_problem(s, &format!("{at} parameter {}", p.name)))),
                Err(e) => problems.push(format!("{at}: parameter: {e}")),
            }
        }
        if let Some(body) = &op.request_body {
            match body.resolve(&spec) {
                Ok(b) => problems.extend(b.content.values().filter_map(|m| m.schema.as_ref().and_then(|s| schema_problem(s, &at)))),
                Err(e) => problems.push(format!("{at}: request body: {e}")),
            }
        }
        for (status, response) in op.responses.iter().flatten() {
            match response.resolve(&spec) {
                Ok(r) => problems.extend(
                    r.content.values().filter_map(|m| m.schema.as_ref().and_then(|s| schema_problem(s, &format!("{at} {status}")))),
                ),
                Err(e) => problems.push(format!("{at} {status}: response: {e}")),
            }
        }
    }
    for (name, schema) in spec.components.iter().flat_map(|c| c.schemas.iter()) {
        problems.extend(schema_problem(schema, &format!("components.schemas.{name}")));
    }
    problems
}

#[test]
fn openapi_document_is_valid_openapi_3_1() {
    let problems = openapi_3_1_problems(&document());
    assert!(problems.is_empty(), "{OPENAPI}:\n  {}", problems.join("\n  "));
}

#[test]
fn the_openapi_3_1_check_itself_catches_broken_documents() {
    let doc = document();
    let mut old = doc.clone();
    old["openapi"] = json!("3.0.3");
    assert!(openapi_3_1_problems(&old).iter().any(|p| p.contains("version")), "3.0 accepted");
    let mut no_info = doc.clone();
    no_info.as_object_mut().map(|m| m.remove("info"));
    assert!(!openapi_3_1_problems(&no_info).is_empty(), "a document without info accepted");
    let mut dangling = doc;
    dangling["paths"]["/api/me"]["get"]["parameters"] = json!([{"$ref": "#/components/parameters/Nope"}]);
    assert!(openapi_3_1_problems(&dangling).iter().any(|p| p.contains("/api/me")), "a dangling $ref accepted");
}

/// A YAML node with what a YAML 1.1 reader needs to know: whether a scalar
/// was written plain (unquoted), and where.
#[derive(Debug)]
enum Yaml {
    Scalar { text: String, plain: bool, line: usize },
    Seq(Vec<Yaml>),
    Map(Vec<(Yaml, Yaml)>),
    Alias,
}

fn yaml_tree(text: &str) -> Yaml {
    use saphyr_parser::{Event, Parser, ScalarStyle};
    let events: Vec<(Event, usize)> = Parser::new_from_str(text)
        .map(|e| e.unwrap_or_else(|e| panic!("{OPENAPI} is not valid YAML: {e}")))
        .map(|(e, span)| (e, span.start.line()))
        .filter(|(e, _)| !matches!(e, Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing))
        .collect();
    fn node(events: &[(Event, usize)], i: &mut usize) -> Yaml {
        let (event, line) = &events[*i];
        *i += 1;
        match event {
            // An explicit tag (`!!str on`) says what it is: not plain.
            Event::Scalar(text, style, _, tag) => {
                Yaml::Scalar { text: text.to_string(), plain: *style == ScalarStyle::Plain && tag.is_none(), line: *line }
            }
            Event::SequenceStart(..) => {
                let mut items = Vec::new();
                while !matches!(events[*i].0, Event::SequenceEnd) {
                    items.push(node(events, i));
                }
                *i += 1;
                Yaml::Seq(items)
            }
            Event::MappingStart(..) => {
                let mut pairs = Vec::new();
                while !matches!(events[*i].0, Event::MappingEnd) {
                    let key = node(events, i);
                    pairs.push((key, node(events, i)));
                }
                *i += 1;
                Yaml::Map(pairs)
            }
            Event::Alias(_) => Yaml::Alias,
            other => panic!("unexpected YAML event {other:?}"),
        }
    }
    assert!(!events.is_empty(), "{OPENAPI} is empty");
    node(&events, &mut 0)
}

/// YAML 1.1's boolean spellings that YAML 1.2 reads as strings: a plain one
/// means a string to the author and a boolean to a YAML 1.1 tool.
const YAML11_ONLY_BOOLEANS: &[&str] =
    &["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"];
/// Booleans and nulls in both YAML versions.
const YAML_BOOLEANS_AND_NULLS: &[&str] = &["true", "True", "TRUE", "false", "False", "FALSE", "~", "null", "Null", "NULL"];
/// Keywords whose values (or list items) are names or text, never booleans
/// or null: a plain boolean or null spelling there is a string gone wrong
/// (`required` only as a list).
const STRING_KEYWORDS: &[&str] = &[
    "required", "type", "name", "in", "format", "operationId", "summary", "description", "title", "pattern", "tags",
    "$ref", "style", "contentEncoding", "contentMediaType",
];

/// Plain scalars a YAML 1.1 reader takes for booleans or nulls where the
/// document means a string: every property name (mapping key); in value
/// position, YAML 1.1's extra boolean spellings (`on`, `yes`, `n`...)
/// anywhere, and any boolean or null spelling as an `enum` / `const` value
/// (unless the schema's `type` allows booleans or null) or under a keyword
/// that takes names or text. Booleans as values of boolean keywords
/// (`required: true`, `nullable: true`, `default: false`) read the same in
/// both versions and pass.
fn yaml_1_1_problems(node: &Yaml) -> Vec<String> {
    fn is(spellings: &[&str], node: &Yaml) -> Option<(String, usize)> {
        match node {
            Yaml::Scalar { text, plain: true, line } if spellings.contains(&text.as_str()) => Some((text.clone(), *line)),
            _ => None,
        }
    }
    fn any(node: &Yaml) -> Option<(String, usize)> {
        is(YAML11_ONLY_BOOLEANS, node).or_else(|| is(YAML_BOOLEANS_AND_NULLS, node))
    }
    /// Whether a schema's `type` lets `value` be the boolean or null it is.
    fn type_allows(map: &[(Yaml, Yaml)], value: &str) -> bool {
        let wanted = if ["~", "null", "Null", "NULL"].contains(&value) { "null" } else { "boolean" };
        map.iter().any(|(k, v)| {
            matches!(k, Yaml::Scalar { text, .. } if text == "type")
                && match v {
                    Yaml::Scalar { text, .. } => text == wanted,
                    Yaml::Seq(items) => items.iter().any(|i| matches!(i, Yaml::Scalar { text, .. } if text == wanted)),
                    _ => false,
                }
        })
    }
    fn walk(node: &Yaml, out: &mut Vec<String>) {
        match node {
            Yaml::Scalar { .. } => {
                if let Some((text, line)) = is(YAML11_ONLY_BOOLEANS, node) {
                    out.push(format!("line {line}: value {text} is a boolean to YAML 1.1: quote it ('{text}')"));
                }
            }
            Yaml::Seq(items) => items.iter().for_each(|i| walk(i, out)),
            Yaml::Map(pairs) => {
                for (key, value) in pairs {
                    if let Some((text, line)) = any(key) {
                        out.push(format!("line {line}: key {text} is not a string to YAML 1.1: quote it ('{text}')"));
                    }
                    let Yaml::Scalar { text: keyword, .. } = key else { continue };
                    let enum_like = keyword == "enum" || keyword == "const";
                    if enum_like || STRING_KEYWORDS.contains(&keyword.as_str()) {
                        let items: Vec<&Yaml> = match value {
                            Yaml::Seq(items) => items.iter().collect(),
                            // `required` is a list of names in a schema, a
                            // boolean on a parameter or request body.
                            _ if keyword == "required" => Vec::new(),
                            one => vec![one],
                        };
                        for item in items {
                            if let Some((text, line)) = is(YAML_BOOLEANS_AND_NULLS, item) {
                                if !(enum_like && type_allows(pairs, &text)) {
                                    out.push(format!("line {line}: {keyword} value {text} is not a string: quote it ('{text}')"));
                                }
                            }
                        }
                    }
                    walk(value, out);
                }
            }
            Yaml::Alias => {}
        }
    }
    let mut out = Vec::new();
    walk(node, &mut out);
    out
}

#[test]
fn openapi_document_reads_the_same_to_yaml_1_1_tools() {
    let problems = yaml_1_1_problems(&yaml_tree(&document_text()));
    assert!(problems.is_empty(), "{OPENAPI} (YAML 1.1 tools read these as booleans or null):\n  {}", problems.join("\n  "));
}

#[test]
fn the_yaml_1_1_check_itself_flags_names_and_string_values_only() {
    let flagged = |text: &str| yaml_1_1_problems(&yaml_tree(text));
    for bad in [
        "properties:\n  on: {type: boolean}\n",
        "required: [on, reason]\n",
        "example:\n  n: 1\n",
        "schema: {type: string, enum: [yes, no]}\n",
        "schema: {type: string, enum: [true, 'false']}\n",
        "parameters:\n  - name: off\n",
        "type: [string, null]\n",
        "answer: Yes\n",
        "~: 1\n",
    ] {
        assert!(!flagged(bad).is_empty(), "not flagged: {bad}");
    }
    for good in [
        "properties:\n  'on': {type: boolean}\n",
        "required: ['on', \"off\", reason]\n",
        "parameters:\n  - {name: id, in: path, required: true}\n",
        "schema: {type: boolean, enum: [true, false], default: false}\n",
        "schema: {type: [string, 'null'], const: null}\n",
        "schema: {type: [string, 'null'], nullable: true, deprecated: false, example: null}\n",
        "answer: !!str on\n",
        "description: on time, yes\n",
    ] {
        assert!(flagged(good).is_empty(), "flagged: {good}: {:?}", flagged(good));
    }
}

/// Each operation's `x-required-role` is the route table's: the document
/// says who may call what, and cannot drift from what is enforced. Routes
/// served by other components (scan, send) need `api::RUN_NEED` (manager).
#[test]
fn openapi_required_roles_match_the_route_table() {
    use rentmsg::api::Need;
    let doc = document();
    let mut problems = Vec::new();
    for (method, path, need) in rentmsg::api::route_needs() {
        let want = match need {
            Need::Public => "public".to_owned(),
            Need::SelfOrAdmin => "self-or-admin".to_owned(),
            Need::Role(r) => r.as_str().to_owned(),
        };
        let got = &doc["paths"][path][method.to_ascii_lowercase()]["x-required-role"];
        if got.as_str() != Some(want.as_str()) {
            problems.push(format!("{method} {path}: x-required-role is {got}, the route table says {want}"));
        }
    }
    // Scan and send are gated by `api::run_gate`: the same callers, a manager or stronger.
    for (method, path, _) in SERVED_ELSEWHERE {
        let got = &doc["paths"][path][method.to_ascii_lowercase()]["x-required-role"];
        if got.as_str() != Some(rentmsg::api::RUN_NEED.as_str()) {
            problems.push(format!("{method} {path}: x-required-role is {got}, run_gate needs {}", rentmsg::api::RUN_NEED.as_str()));
        }
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) && op["x-required-role"].is_null() {
                problems.push(format!("{method} {path} has no x-required-role"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
