//! Profiling driver: the host's per-request cost for a signed STOP webhook
//! (`inbound-webhook`, one SQLite write transaction) without TCP, one request
//! at a time on one thread, each STOP from a new number.
//!
//! `cargo build --profile host -p spin-host --example micro_stop`, then
//! `target/host/examples/micro_stop [N]` (components built: `cargo xtask build-wasm`).

use std::time::Instant;

use bytes::Bytes;
use e2e::twilio::{form_body, inbound_sms, signature};
use http_body_util::{BodyExt, Full};

/// The webhook's auth token (the `sms_auth_token` variable) and public base URL, as signed.
const AUTH: &str = "bench-sms-auth-token-0c9e44";
const PUBLIC: &str = "https://rent.example.test";

/// The allocator the `spin-host` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(3000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = std::env::temp_dir().join(format!("micro-stop-{}", std::process::id()));
        let app = spin_host::app::App::load(spin_host::HostOptions {
            manifest: root.join("spin.toml"),
            state_dir: Some(dir),
            variables: vec![
                ("sms_auth_token".into(), AUTH.into()), ("public_base_url".into(), PUBLIC.into()),
                ("sms_from".into(), "+16175550100".into()), ("staff_token".into(), "x".repeat(32)), ("link_key".into(), "y".repeat(32)),
            ],
            ..Default::default()
        }).await?;
        let url = format!("{PUBLIC}/webhooks/sms");
        let mut k = 0;
        for round in 0..3 {
            let t = Instant::now();
            for _ in 0..n {
                k += 1;
                let sid = format!("SM{k:032}");
                let from = format!("+1617{:03}{:04}", 201 + k / 10_000, k % 10_000);
                let fields = inbound_sms(&sid, &from, "+16175550100", "STOP");
                let body = form_body(&fields);
                let sig = signature(AUTH, &url, &fields);
                let req = http::Request::post("http://127.0.0.1:1/webhooks/sms").header("host", "127.0.0.1:1")
                    .header("content-type", "application/x-www-form-urlencoded").header("X-Twilio-Signature", sig)
                    .body(Full::new(Bytes::from(body)).map_err(|e: std::convert::Infallible| -> wasmtime_wasi_http::Error { match e {} }))?;
                let route = app.router.route("/webhooks/sms").unwrap();
                let resp = spin_host::triggers::http::dispatch(&app, req, route, "http://127.0.0.1:1/webhooks/sms", "127.0.0.1:5555").await?;
                let status = resp.status();
                let _ = resp.into_body().collect().await.map_err(|e| anyhow::anyhow!("{e:?}"))?.to_bytes();
                anyhow::ensure!(status == 200, "status {status}");
            }
            println!("round {round}: {:.2} us/request", t.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
        anyhow::Ok(())
    })
}
