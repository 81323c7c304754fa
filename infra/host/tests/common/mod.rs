//! Shared by the host's integration tests: load a fixture app in-process
//! through the `spin_host` library, serve it on a free loopback port, and
//! drive it over HTTP. Fixture components must be built for wasm32-wasip2
//! first (`cargo xtask test` does it).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub use serde_json::{json, Value as Json};
use spin_host::{Host, HostOptions};

/// The secret the probe app requires, as the tests set it.
pub const SECRET: &str = "probe-secret-51d3";

/// Path of a fixture manifest under `fixtures/apps`.
pub fn fixture(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/apps").join(name);
    let wasm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/wasm32-wasip2/release/fixture_probe.wasm");
    assert!(
        wasm.exists(),
        "fixture components are not built: run `cargo xtask build-wasm` (or `cargo xtask test`) first"
    );
    path
}

/// A runtime config giving the probe app's `cache` store a file in `dir`.
pub fn probe_runtime_config(dir: &Path) -> PathBuf {
    let file = dir.join("runtime-config.toml");
    let text = format!("[key_value_store.cache]\ntype = \"spin\"\npath = {:?}\n", dir.join("cache.db").display().to_string());
    std::fs::write(&file, text).expect("write runtime config");
    file
}

/// A runtime config putting the probe app's `default` store in database 0
/// and its `cache` store in database 1 of the Redis at `server_url`.
pub fn redis_runtime_config(dir: &Path, server_url: &str) -> PathBuf {
    let file = dir.join("runtime-config.redis.toml");
    let text = format!(
        "[key_value_store.default]\ntype = \"redis\"\nurl = \"{server_url}/0\"\n\n\
         [key_value_store.cache]\ntype = \"redis\"\nurl = \"{server_url}/1\"\n"
    );
    std::fs::write(&file, text).expect("write runtime config");
    file
}

/// A running app, served in this process.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The loaded host.
    pub host: Host,
    /// State directory (default stores and databases).
    pub state_dir: PathBuf,
    /// Owns the temporary directory, unless the caller gave one.
    _temp: Option<tempfile::TempDir>,
    /// Ends the serve loop.
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The serve loop.
    served: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// HTTP client.
    pub client: reqwest::Client,
}

/// How to start a fixture app.
pub struct Start {
    /// The host options (manifest set; state dir filled in if empty).
    pub options: HostOptions,
    /// Temporary directory for the state, when none was given.
    temp: Option<tempfile::TempDir>,
}

impl Start {
    /// Start `manifest` (a file under `fixtures/apps`) with a fresh state directory.
    pub fn fixture(manifest: &str) -> Start {
        let temp = tempfile::tempdir().expect("temp dir");
        let options = HostOptions {
            manifest: fixture(manifest),
            state_dir: Some(temp.path().join("state")),
            ..HostOptions::default()
        };
        Start { options, temp: Some(temp) }
    }

    /// The probe app with its secret and a runtime config for `cache`.
    pub fn probe() -> Start {
        let mut start = Start::fixture("probe.toml");
        let dir = start.temp_dir();
        start.options.runtime_config_file = Some(probe_runtime_config(&dir));
        start.variable("secret_token", SECRET)
    }

    /// The probe app with both its stores on the Redis at `server_url`.
    pub fn probe_on_redis(server_url: &str) -> Start {
        let mut start = Start::fixture("probe.toml");
        let dir = start.temp_dir();
        start.options.runtime_config_file = Some(redis_runtime_config(&dir, server_url));
        start.variable("secret_token", SECRET)
    }

    /// The temporary directory owned by this start.
    pub fn temp_dir(&self) -> PathBuf {
        self.temp.as_ref().map(|t| t.path().to_path_buf()).expect("temp dir")
    }

    /// Set a variable as `--variable` would.
    pub fn variable(mut self, name: &str, value: &str) -> Start {
        self.options.variables.push((name.to_string(), value.to_string()));
        self
    }

    /// Use this state directory.
    pub fn state_dir(mut self, dir: &Path) -> Start {
        self.options.state_dir = Some(dir.to_path_buf());
        self
    }

    /// Load the app (without serving it).
    pub async fn load(&self) -> anyhow::Result<Host> {
        Host::load(self.options.clone()).await
    }

    /// Load and serve the app on a free port.
    pub async fn start(self) -> TestApp {
        let host = Host::load(self.options.clone()).await.expect("load the app");
        let listener = spin_host::triggers::http::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = host.clone();
        let served = tokio::spawn(async move {
            serving
                .serve(listener, async move {
                    let _ = rx.await;
                })
                .await
        });
        TestApp {
            base,
            host,
            state_dir: self.options.state_dir.clone().unwrap_or_default(),
            _temp: self.temp,
            shutdown: Some(tx),
            served: Some(served),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .expect("client"),
        }
    }
}

impl TestApp {
    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POST `{"ops": ops}` to `path`; the whole probe answer.
    pub async fn probe_at(&self, path: &str, ops: Json) -> Json {
        let resp = self.client.post(self.url(path)).json(&json!({ "ops": ops })).send().await.expect("probe request");
        assert_eq!(resp.status(), 200, "probe at {path} answered {}", resp.status());
        resp.json().await.expect("probe JSON")
    }

    /// The results of running `ops` in the `probe` component.
    pub async fn probe(&self, ops: Json) -> Vec<Json> {
        self.results_at("/probe/run", ops).await
    }

    /// The results of running `ops` in the component routed at `path`.
    pub async fn results_at(&self, path: &str, ops: Json) -> Vec<Json> {
        let answer = self.probe_at(path, ops).await;
        answer["results"].as_array().cloned().unwrap_or_default()
    }

    /// The one result of running `op` in the `probe` component.
    pub async fn probe_one(&self, op: Json) -> Json {
        self.probe(json!([op])).await.into_iter().next().unwrap_or(Json::Null)
    }

    /// `GET path`: status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self.client.get(self.url(path)).send().await.expect("GET");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    /// Stop serving (requests in flight get the grace period) and wait.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.served.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.served.take() {
            task.abort();
        }
    }
}

/// `{"ok": value}`.
pub fn ok(value: Json) -> Json {
    json!({ "ok": value })
}

/// `{"err": message}`.
pub fn err(message: &str) -> Json {
    json!({ "err": message })
}
