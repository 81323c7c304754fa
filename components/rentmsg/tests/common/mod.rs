//! Helpers shared by the integration tests: an in-memory database and a
//! client that calls `rentmsg::api::handle` like the component does.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use rentmsg::api::{self, ApiContext};
use rentmsg::base::http::{Request, Response};
use rentmsg::base::db::{Db, NativeDb};
use serde_json::Value as Json;

pub const TOKEN: &str = "test-staff-token-0123456789";

pub struct Env {
    pub db: NativeDb,
    pub now: DateTime<Utc>,
    /// The shared sign-in counters (the key-value store in production).
    pub counters: rentmsg::staff::throttle::MemCounter,
}

/// The deployment's `public_base_url` in tests.
pub const BASE_URL: &str = "https://console.example";

impl Env {
    /// Fresh in-memory database; the clock reads 2024-03-10 16:00 UTC
    /// (11:00 in New York).
    pub fn new() -> Self {
        Env { db: NativeDb::open_in_memory().unwrap(), now: Utc.with_ymd_and_hms(2024, 3, 10, 16, 0, 0).unwrap(), counters: Default::default() }
    }

    pub fn request(&self, req: Request) -> Response {
        let ctx = ApiContext { db: &self.db, staff_token: TOKEN, now: self.now, public_base_url: BASE_URL, counters: &self.counters, sleep: |_| {} };
        api::handle(&req, &ctx)
    }

    pub fn send(&self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Response {
        let mut headers = vec![("Authorization".to_owned(), format!("Bearer {TOKEN}"))];
        if let Some(ct) = content_type {
            headers.push(("Content-Type".to_owned(), ct.to_owned()));
        }
        self.request(Request { method: method.into(), path: path.into(), headers, body: body.to_vec(), client_addr: None })
    }

    /// A request with exactly these headers (no token added).
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.request(Request { method: method.into(), path: path.into(), headers, body: body.to_vec(), client_addr: None })
    }

    /// The JSON body of a GET, asserting 200.
    pub fn get_ok(&self, path: &str) -> Json {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", String::from_utf8_lossy(&r.body));
        r.body_json()
    }

    pub fn get(&self, path: &str) -> Response {
        self.send("GET", path, None, b"")
    }

    pub fn put_json(&self, path: &str, body: &Json) -> Response {
        self.send("PUT", path, Some("application/json"), body.to_string().as_bytes())
    }

    pub fn import(&self, kind: &str, csv: &str) -> Response {
        self.send("POST", &format!("/api/import/{kind}"), Some("text/csv"), csv.as_bytes())
    }

    /// Import and return the report, asserting 200.
    pub fn import_ok(&self, kind: &str, csv: &str) -> Json {
        let r = self.import(kind, csv);
        assert_eq!(r.status, 200, "{kind}: {}", String::from_utf8_lossy(&r.body));
        r.body_json()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db.execute(sql, &[]).unwrap().first().unwrap().i64("n").unwrap()
    }

    /// A small portfolio: two properties, three tenants, a few ledger rows.
    pub fn seed(&self) {
        self.import_ok("properties", PROPERTIES);
        self.import_ok("tenants", TENANTS);
        self.import_ok("ledger", LEDGER);
    }
}

pub const PROPERTIES: &str = "\
property_id,name,time_zone,state,country
P1,Maple Court,America/New_York,MA,US
P2,Lakeview,America/Toronto,ON,CA
";

pub const TENANTS: &str = "\
tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id
T1,P1,Pat Smith,1A,(415) 555-2671,617-555-0123,,Pat@Example.com,,,,,
T2,P2,Lee Wong,2B,416 555 0199,,,lee@example.org,,,,,G7
T3,P1,Sam Roe,3C,,,,,,,,America/Chicago,
";

pub const LEDGER: &str = "\
tenant_id,date,due_date,kind,amount,reference
T1,2024-02-01,2024-02-01,charge,1200.00,RENT-2024-02
T1,2024-03-01,2024-03-01,charge,1200.00,RENT-2024-03
T1,2024-03-05,,payment,1500,PAY-1
T2,2024-03-01,2024-03-05,charge,950.50,RENT-2024-03
";
