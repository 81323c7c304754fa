//! Harness for end-to-end tests: start the real local host (`spin-host`) on
//! the app's `spin.toml` with a fresh state directory, drive it over HTTP and
//! cron ticks only, and stand up fake provider servers on 127.0.0.1 that
//! record what they receive.
//!
//! Components must be built first (`cargo xtask test` does it); the harness
//! builds the host binary if it is missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

pub mod redis;
pub mod twilio;
// Headless Chromium for page tests (payment page, staff console).
pub mod browser;
// Signing payment webhooks as Stripe does.
pub mod stripe;

pub use reqwest::blocking::Response;
pub use serde_json::{json, Value as Json};

/// The staff token every test app is started with.
pub const STAFF_TOKEN: &str = "e2e-staff-token-7f3a9c";
/// The link key every test app is started with.
pub const LINK_KEY: &str = "e2e-link-key-2b8d41";

/// A fixed-offset `Etc/GMT±N` zone where the local hour is about `hour` now,
/// so that tests and benchmarks run inside send windows and calling hours
/// whenever they run. (`Etc/GMT-5` is UTC+5; offsets stay within -12..=14.)
/// Where two zones qualify, the one whose local date is today's UTC date:
/// tests write due dates from the UTC date and read days past due in the
/// property's zone (at 22:00 UTC, UTC+14 is already tomorrow, UTC-10 not).
pub fn zone_at_local_hour(hour: i64) -> String {
    let utc_hour = i64::from(chrono::Timelike::hour(&chrono::Utc::now()));
    offset_zone(offset_for_local_hour(hour, utc_hour))
}

/// The UTC offset (hours, -12..=14) at which it is `hour` o'clock when it is
/// `utc_hour` o'clock in UTC, on the same date where one exists.
fn offset_for_local_hour(hour: i64, utc_hour: i64) -> i64 {
    let offset = hour.rem_euclid(24) - utc_hour;
    if offset < -12 {
        offset + 24
    } else if offset > 14 {
        offset - 24
    } else {
        offset
    }
}

fn offset_zone(offset: i64) -> String {
    match offset {
        0 => "Etc/GMT".to_owned(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}

#[cfg(test)]
mod zone_tests {
    use super::offset_for_local_hour;

    #[test]
    fn the_zone_at_a_local_hour_keeps_the_utc_date_when_it_can() {
        for utc_hour in 0..24 {
            for hour in 0..24 {
                let offset = offset_for_local_hour(hour, utc_hour);
                assert!((-12..=14).contains(&offset), "{hour} at {utc_hour} UTC: {offset}");
                assert_eq!((utc_hour + offset).rem_euclid(24), hour, "{hour} at {utc_hour} UTC: {offset}");
                let same_date = (0..24).contains(&(utc_hour + offset));
                let could_be = (-12..=14).contains(&(hour - utc_hour));
                assert_eq!(same_date, could_be, "{hour} at {utc_hour} UTC: {offset}");
            }
        }
        // Noon is on the UTC date at every hour.
        assert!((0..24).all(|u| (0..24).contains(&(u + offset_for_local_hour(12, u)))));
    }
}

/// Helpers the benchmarks share.
pub mod bench {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// The mobile number of STOP bench tenant `i` (`B{i}`): one per tenant.
    pub fn stop_tenant_number(i: usize) -> String {
        format!("+1617{:03}{:04}", 201 + i / 10_000, i % 10_000)
    }

    /// Import property P1 and `n` tenants `B0..` each with its own mobile
    /// number ([`stop_tenant_number`]), as the STOP benchmarks need.
    pub fn import_stop_tenants(app: &crate::App, n: usize) {
        let (s, b) = app.import("properties", "property_id,name,time_zone,state,country\nP1,Maple Court,America/New_York,MA,US\n");
        assert_eq!(s, 200, "{b}");
        let mut csv = String::from(
            "tenant_id,property_id,name,unit,mobile_phone,home_phone,work_phone,email,work_email,state,country,time_zone,group_id\n",
        );
        for i in 0..n {
            csv.push_str(&format!("B{i},P1,Bench Tenant {i},{i},{},,,,,,,,\n", stop_tenant_number(i)));
        }
        let (s, b) = app.import("tenants", &csv);
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["created"].as_u64(), Some(n as u64), "every bench tenant imported: {b}");
    }

    /// How many of the `n` STOP bench tenants' numbers are excluded by the
    /// customer (read through the staff API).
    pub fn stops_stored(app: &crate::App, n: usize) -> usize {
        (0..n)
            .filter(|i| {
                let (s, t) = app.staff_get(&format!("/api/tenants/B{i}"));
                s == 200 && t["contact_points"][0]["exclusions"]["by_customer"]["on"] == serde_json::json!(true)
            })
            .count()
    }

    /// A signed SMS webhook ready to send: form body and `X-Twilio-Signature`.
    pub struct SignedWebhook {
        /// `application/x-www-form-urlencoded` body.
        pub body: String,
        /// Its signature.
        pub signature: String,
    }

    /// What [`post_webhooks`] saw.
    pub struct Posted {
        /// Latencies of the measured webhooks, µs, in no order.
        pub latencies: Vec<u64>,
        /// Webhooks that failed, measured or not: transport errors or a
        /// status other than 200.
        pub failed: usize,
        /// From the first measured webhook's start to the last answer.
        pub time: Duration,
        /// Answers received in that time, measured or not.
        pub answered: usize,
        /// Latencies of the first webhook of each client (all sent at the
        /// same instant), µs, in no order.
        pub first_wave: Vec<u64>,
    }

    /// A client's keep-alive HTTP/1.1 connection to `authority`.
    async fn connect(authority: &str) -> Option<hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>> {
        let stream = tokio::net::TcpStream::connect(authority).await.ok()?;
        stream.set_nodelay(true).ok()?;
        let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.ok()?;
        tokio::spawn(connection);
        Some(sender)
    }

    /// Send one webhook on `sender`: whether it was answered 200 with a
    /// whole body.
    async fn post_one(
        sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
        authority: &str,
        path: &str,
        w: &SignedWebhook,
    ) -> bool {
        use http_body_util::BodyExt;
        let request = http::Request::post(path)
            .header(http::header::HOST, authority)
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", &w.signature)
            .body(http_body_util::Full::new(bytes::Bytes::from(w.body.clone())));
        let Ok(request) = request else { return false };
        if sender.ready().await.is_err() {
            return false;
        }
        match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                response.into_body().collect().await.is_ok() && status == http::StatusCode::OK
            }
            Err(_) => false,
        }
    }

    /// POST every webhook to `url` (`http://host:port/path`) from `clients`
    /// concurrent clients, each on a keep-alive connection of its own and
    /// taking the next webhook as soon as its last was answered. The first
    /// `ramp` are sent but not measured: they bring the clients from one
    /// synchronised start (every client's first request at once) to the
    /// staggered arrivals of a steady load.
    pub async fn post_webhooks(url: &str, webhooks: Arc<Vec<SignedWebhook>>, ramp: usize, clients: usize) -> Posted {
        let uri: http::Uri = url.parse().expect("an http://host:port/path URL");
        let authority = uri.authority().map(ToString::to_string).expect("URL with host:port");
        let path = uri.path().to_owned();
        // Every client connected before the first webhook is sent.
        let connecting: Vec<_> = (0..clients)
            .map(|_| {
                let authority = authority.clone();
                tokio::spawn(async move { connect(&authority).await })
            })
            .collect();
        let mut senders = Vec::new();
        for c in connecting {
            senders.push(c.await.ok().flatten());
        }
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for mut sender in senders {
            let (authority, path, webhooks, next) = (authority.clone(), path.clone(), webhooks.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                // (index, sent, answered) of each webhook this client sent.
                let mut sent = Vec::new();
                let mut failed = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(w) = webhooks.get(i) else { break };
                    let t = Instant::now();
                    if sender.as_ref().is_none_or(|s: &hyper::client::conn::http1::SendRequest<_>| s.is_closed()) {
                        sender = connect(&authority).await;
                    }
                    let ok = match sender.as_mut() {
                        Some(s) => tokio::time::timeout(Duration::from_secs(60), post_one(s, &authority, &path, w)).await == Ok(true),
                        None => false,
                    };
                    if !ok {
                        // Whatever went wrong, the next one starts on a new connection.
                        sender = None;
                    }
                    sent.push((i, t, Instant::now()));
                    failed += usize::from(!ok);
                }
                (sent, failed)
            }));
        }
        let (mut sent, mut failed) = (Vec::new(), 0);
        for t in tasks {
            let (s, f) = t.await.expect("client task");
            sent.extend(s);
            failed += f;
        }
        let end = Instant::now();
        let from = sent.iter().filter(|(i, _, _)| *i >= ramp).map(|(_, t, _)| *t).min().unwrap_or(end);
        let micros = |t: &Instant, done: &Instant| done.duration_since(*t).as_micros() as u64;
        let latencies = sent.iter().filter(|(i, _, _)| *i >= ramp).map(|(_, t, done)| micros(t, done)).collect();
        let answered = sent.iter().filter(|(_, _, done)| *done >= from).count();
        let first_wave = sent.iter().filter(|(i, _, _)| *i < clients).map(|(_, t, done)| micros(t, done)).collect();
        Posted { latencies, failed, time: end.duration_since(from), answered, first_wave }
    }

    /// CPU time (user + system, all threads, seconds) process `pid` (or
    /// `"self"`) has used so far, from `/proc/<pid>/stat`; 0 where that is
    /// not available.
    pub fn cpu_seconds(pid: &str) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
        // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
        let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        // Linux reports these in USER_HZ, 100 per second.
        (ticks(11) + ticks(12)) / 100.0
    }

    /// A count from the environment (`default` when unset or not a number).
    pub fn env_usize(name: &str, default: usize) -> usize {
        std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
    }

    /// The `p`th percentile (nearest rank) of sorted latencies in µs, in ms.
    pub fn percentile_ms(sorted_micros: &[u64], p: f64) -> f64 {
        if sorted_micros.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * sorted_micros.len() as f64).ceil() as usize;
        sorted_micros[rank.clamp(1, sorted_micros.len()) - 1] as f64 / 1000.0
    }
}

/// The workspace root (where spin.toml is).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Path of the host binary, built on first use when missing.
pub fn host_binary() -> PathBuf {
    static BUILD: Once = Once::new();
    let root = workspace_root();
    let bin = root.join("target/host/spin-host");
    BUILD.call_once(|| {
        if !bin.exists() {
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["build", "--profile", "host", "-p", "spin-host"])
                .current_dir(&root)
                .status()
                .expect("run cargo to build spin-host");
            assert!(status.success(), "building spin-host failed");
        }
    });
    bin
}

/// How to start an app.
#[derive(Clone)]
pub struct AppBuilder {
    /// Manifest to run.
    manifest: PathBuf,
    /// `SPIN_VARIABLE_*` values (lower-case names).
    variables: Vec<(String, String)>,
    /// Extra host arguments.
    args: Vec<String>,
    /// State directory to reuse (a second host on the same data).
    state_dir: Option<PathBuf>,
    /// Spin runtime-config file, for `up` and for `cron` runs alike.
    runtime_config: Option<PathBuf>,
}

impl Default for AppBuilder {
    fn default() -> Self {
        AppBuilder {
            manifest: workspace_root().join("spin.toml"),
            variables: vec![
                ("staff_token".into(), STAFF_TOKEN.into()),
                ("link_key".into(), LINK_KEY.into()),
            ],
            args: Vec::new(),
            state_dir: None,
            runtime_config: None,
        }
    }
}

impl AppBuilder {
    /// Run another manifest (host fixtures, benchmarks).
    pub fn manifest(mut self, path: impl Into<PathBuf>) -> Self {
        self.manifest = path.into();
        self
    }

    /// Set an application variable.
    pub fn variable(mut self, name: &str, value: impl Into<String>) -> Self {
        self.variables.retain(|(n, _)| n != name);
        self.variables.push((name.to_string(), value.into()));
        self
    }

    /// Pass an extra argument to `spin-host up`.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Use this state directory instead of a fresh one.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Use this runtime-config file (`--runtime-config-file`), in `up` and in
    /// every `cron` run, so both see the same stores (a shared Redis, say).
    pub fn runtime_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.runtime_config = Some(path.into());
        self
    }

    /// Start the host and wait until it serves.
    pub fn start(self) -> App {
        let temp = tempfile::tempdir().expect("temp dir");
        let state_dir = self.state_dir.clone().unwrap_or_else(|| temp.path().join("state"));
        let mut cmd = self.command("up");
        cmd.args(["--listen", "127.0.0.1:0", "--no-cron"]).args(&self.args);
        cmd.arg("--state-dir").arg(&state_dir);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start spin-host");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if std::env::var_os("E2E_HOST_LOG").is_some() {
                        eprintln!("[host] {line}");
                    }
                    if let Ok(mut l) = log.lock() {
                        l.push_str(&line);
                        l.push('\n');
                    }
                }
            });
        }
        let mut lines = BufReader::new(stdout).lines();
        let mut base = None;
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(url) = line.strip_prefix("Serving ") {
                base = Some(url.trim().to_string());
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let Some(base) = base else {
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            panic!("spin-host did not start:\n{}", log.lock().map(|l| l.clone()).unwrap_or_default());
        };
        App {
            child,
            base,
            builder: self,
            state_dir,
            log,
            cron_log: Arc::new(Mutex::new(String::new())),
            _temp: temp,
            client: reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .expect("http client"),
        }
    }

    fn command(&self, sub: &str) -> Command {
        let mut cmd = Command::new(host_binary());
        cmd.arg(sub).arg("--from").arg(&self.manifest);
        if let Some(rc) = &self.runtime_config {
            cmd.arg("--runtime-config-file").arg(rc);
        }
        cmd.env_clear();
        for key in ["PATH", "HOME", "XDG_CACHE_HOME", "SPIN_HOST_CACHE_DIR", "SPIN_HOST_LOG", "SPIN_HOST_PERFMAP", "TMPDIR"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        for (name, value) in &self.variables {
            cmd.env(format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()), value);
        }
        cmd
    }
}

/// A running app.
pub struct App {
    /// The host process.
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// How it was started (for cron runs and restarts).
    builder: AppBuilder,
    /// Its state directory.
    pub state_dir: PathBuf,
    /// Everything the host wrote to stderr.
    log: Arc<Mutex<String>>,
    /// Everything the `spin-host cron` runs started through [`App::cron`]
    /// wrote to stderr, run after run.
    cron_log: Arc<Mutex<String>>,
    /// Owns the fresh state directory.
    _temp: tempfile::TempDir,
    /// HTTP client (no redirects followed).
    pub client: reqwest::blocking::Client,
}

impl App {
    /// Start the product on its default manifest with test secrets.
    pub fn start() -> App {
        AppBuilder::default().start()
    }

    /// A builder with the test secrets set.
    pub fn builder() -> AppBuilder {
        AppBuilder::default()
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The host's process id (benchmarks read its memory use).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Host stderr so far (for assertions on logs).
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The log once `done` holds for it, or after 10 s whatever it is then:
    /// guests may log after their response has gone out, and the host's
    /// output reaches the pipe a moment later on a loaded machine.
    pub fn log_when(&self, done: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let log = self.log();
            if done(&log) || std::time::Instant::now() >= deadline {
                return log;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Fire a cron component once through `spin-host cron`, on the same
    /// state. Its stderr is returned in the output and also kept in
    /// [`App::cron_log`], so log assertions can cover every process that ran
    /// the app, not only the serving host.
    pub fn cron(&self, component: &str) -> std::process::Output {
        let out = self.cron_command(component).output().expect("run spin-host cron");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if std::env::var_os("E2E_HOST_LOG").is_some() {
            for line in stderr.lines() {
                eprintln!("[cron {component}] {line}");
            }
        }
        if let Ok(mut l) = self.cron_log.lock() {
            l.push_str(&stderr);
            if !stderr.is_empty() && !stderr.ends_with('\n') {
                l.push('\n');
            }
        }
        out
    }

    /// What every `spin-host cron` run through [`App::cron`] wrote to
    /// stderr so far (each run has exited, so nothing is still on its way).
    pub fn cron_log(&self) -> String {
        self.cron_log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The `spin-host cron <component>` command on the same state, not yet
    /// started (tests that stop a tick midway spawn and kill it).
    pub fn cron_command(&self, component: &str) -> Command {
        let mut cmd = self.builder.command("cron");
        cmd.arg(component).arg("--state-dir").arg(&self.state_dir);
        cmd
    }

    /// `GET path` without credentials.
    pub fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().expect("GET")
    }

    /// A staff API request builder with the bearer token set.
    pub fn staff(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(STAFF_TOKEN)
    }

    /// `GET` a staff route; returns status and JSON body.
    pub fn staff_get(&self, path: &str) -> (u16, Json) {
        json_of(self.staff(reqwest::Method::GET, path).send().expect("GET"))
    }

    /// `POST` JSON to a staff route.
    pub fn staff_post(&self, path: &str, body: &Json) -> (u16, Json) {
        json_of(self.staff(reqwest::Method::POST, path).json(body).send().expect("POST"))
    }

    /// `PUT` JSON to a staff route.
    pub fn staff_put(&self, path: &str, body: &Json) -> (u16, Json) {
        json_of(self.staff(reqwest::Method::PUT, path).json(body).send().expect("PUT"))
    }

    /// `POST` a CSV import.
    pub fn import(&self, kind: &str, csv: &str) -> (u16, Json) {
        json_of(
            self.staff(reqwest::Method::POST, &format!("/api/import/{kind}"))
                .header("content-type", "text/csv")
                .body(csv.to_string())
                .send()
                .expect("POST import"),
        )
    }

    /// Stop the host (also done on drop).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Status and JSON body of a response (`Null` when the body is not JSON).
pub fn json_of(resp: Response) -> (u16, Json) {
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Json::Null))
}

/// One request a fake provider received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query.
    pub url: String,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// First header value by (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Body as UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Form-encoded body fields.
    pub fn form(&self) -> Vec<(String, String)> {
        form_decode(&self.text())
    }

    /// A form field by name.
    pub fn form_field(&self, name: &str) -> Option<String> {
        self.form().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// JSON body.
    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or(Json::Null)
    }
}

/// Decode `application/x-www-form-urlencoded`.
pub fn form_decode(s: &str) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[i], hex) {
                (b'+', _) => out.push(b' '),
                (b'%', Some(b)) => {
                    out.push(b);
                    i += 2;
                }
                (b, _) => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

/// What a fake answers: status, content type, body.
pub type Reply = (u16, String, String);

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// A fake provider on 127.0.0.1 that records every request.
pub struct FakeServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Requests received, in order.
    requests: Arc<Mutex<Vec<Recorded>>>,
    /// The handler (replaceable while running).
    handler: Arc<Mutex<Arc<Handler>>>,
    /// The server (unblocked on drop).
    server: Arc<tiny_http::Server>,
}

impl FakeServer {
    /// Start a fake answering with `handler`.
    pub fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> FakeServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind fake server"));
        let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or(0);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Mutex<Arc<Handler>>> = Arc::new(Mutex::new(Arc::new(handler)));
        for _ in 0..4 {
            let server = server.clone();
            let requests = requests.clone();
            let handler = handler.clone();
            std::thread::spawn(move || {
                while let Ok(mut req) = server.recv() {
                    let mut body = Vec::new();
                    let _ = req.as_reader().read_to_end(&mut body);
                    let recorded = Recorded {
                        method: req.method().to_string(),
                        url: req.url().to_string(),
                        headers: req
                            .headers()
                            .iter()
                            .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.as_str().to_string()))
                            .collect(),
                        body,
                    };
                    let h = handler.lock().map(|h| h.clone());
                    let (status, content_type, text) = match h {
                        Ok(h) => h(&recorded),
                        Err(_) => (500, "text/plain".into(), "poisoned".into()),
                    };
                    if let Ok(mut r) = requests.lock() {
                        r.push(recorded);
                    }
                    let mut resp = tiny_http::Response::from_string(text).with_status_code(status);
                    if let Ok(h) = tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes()) {
                        resp = resp.with_header(h);
                    }
                    let _ = req.respond(resp);
                }
            });
        }
        FakeServer { base: format!("http://127.0.0.1:{port}"), requests, handler, server }
    }

    /// Replace the handler.
    pub fn set_handler(&self, handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) {
        if let Ok(mut h) = self.handler.lock() {
            *h = Arc::new(handler);
        }
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Forget recorded requests.
    pub fn clear(&self) {
        if let Ok(mut r) = self.requests.lock() {
            r.clear();
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

