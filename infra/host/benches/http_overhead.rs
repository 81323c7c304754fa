//! Per-request overhead of the local host: the trivial HTTP component
//! (`fixtures/hello`) served by `spin_host`, against a bare hyper handler
//! answering the same request, measured in the same run on loopback.
//!
//! A third server shows the floor under the host: the same component served
//! by `wasmtime-wasi-http` alone, the way `wasmtime serve` does it (a fresh
//! store and instance per request, no Spin interfaces, no routing), on the
//! host's own engine settings.
//!
//! For each server: warm up, then 200 keep-alive connections send requests
//! back to back for a fixed time; every latency is recorded. Also one
//! connection at a time (pure per-request cost, no queueing). Prints p50,
//! p99, throughput, the host's ratio to the floor (the target) and to bare
//! hyper, and the host's compile and instance counters (components compile
//! at load, never per request).
//!
//! The target is set against the floor, not bare hyper: an instance per
//! request through wasmtime-wasi-http alone costs about 5x a bare handler
//! here, so no host of that design can come near bare hyper; what the host
//! itself adds is what it can answer for.
//!
//! Run: `cargo xtask bench` (or `cargo bench --profile host -p spin-host --bench http_overhead`).
//! Fixtures must be built first (`cargo xtask build-wasm`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// The allocator the `spin-host` binary uses (both servers of this process share it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Connections sending at once in the concurrent phase.
const CONCURRENCY: usize = 200;
/// How long each measured phase runs.
const PHASE: Duration = Duration::from_secs(5);
/// Warm-up before each measured phase.
const WARMUP: Duration = Duration::from_secs(1);
/// The target: host p50 within this factor of the wasmtime-wasi-http floor's,
/// at one connection and at 200.
const TARGET_RATIO: f64 = 1.3;

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wasm = root.join("../../target/wasm32-wasip2/release/fixture_hello.wasm");
    anyhow::ensure!(wasm.exists(), "build the fixtures first: cargo xtask build-wasm");

    // Servers and clients get separate runtimes so neither starves the other's scheduler;
    // they still share the machine's cores, equally for both servers.
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;

    let state = tempfile::tempdir()?;
    let host = server_rt.block_on(spin_host::Host::load(spin_host::HostOptions {
        manifest: root.join("fixtures/apps/hello.toml"),
        state_dir: Some(state.path().join("state")),
        ..Default::default()
    }))?;
    let host_addr = server_rt.block_on(async {
        let listener = spin_host::triggers::http::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let serving = host.clone();
        tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });
        anyhow::Ok(addr)
    })?;
    let bare_addr = server_rt.block_on(bare_server())?;
    let reference_addr = server_rt.block_on(reference_server(&wasm))?;
    let (compiled_at_load, _) = host.stats();

    println!("Local host: per-request overhead (trivial component vs bare hyper handler, loopback)");
    println!("{:<38} {:>10} {:>10} {:>10} {:>12}", "phase", "p50 ms", "p99 ms", "mean ms", "req/s");
    let mut results = Vec::new();
    for (label, concurrency) in [("1 connection", 1), ("200 connections", CONCURRENCY)] {
        // Alternate bare and host twice; keep each server's better run (less noise from neighbours).
        let mut bare = Vec::new();
        let mut reference = Vec::new();
        let mut hosted = Vec::new();
        for _ in 0..2 {
            bare.push(client_rt.block_on(load(bare_addr, concurrency))?);
            reference.push(client_rt.block_on(load(reference_addr, concurrency))?);
            hosted.push(client_rt.block_on(load(host_addr, concurrency))?);
        }
        let bare = best(bare);
        let reference = best(reference);
        let hosted = best(hosted);
        print_row(&format!("bare hyper, {label}"), &bare);
        print_row(&format!("wasmtime-wasi-http, {label}"), &reference);
        print_row(&format!("spin-host, {label}"), &hosted);
        results.push((label, bare, reference, hosted));
    }
    let (compiled_after, instances) = host.stats();
    println!();
    for (label, bare, reference, hosted) in &results {
        let over_floor = hosted.p50 / reference.p50;
        let verdict = if over_floor <= TARGET_RATIO { "within" } else { "OVER" };
        println!(
            "ratio host/wasmtime-wasi-http floor, {label}: p50 {over_floor:.2}x ({verdict} the {TARGET_RATIO}x target), p99 {:.2}x, throughput {:.2}x",
            hosted.p99 / reference.p99,
            hosted.rps / reference.rps
        );
        println!(
            "  against bare hyper: floor p50 {:.2}x, host p50 {:.2}x, host throughput {:.2}x",
            reference.p50 / bare.p50,
            hosted.p50 / bare.p50,
            hosted.rps / bare.rps
        );
    }
    println!(
        "components compiled: {compiled_at_load} at load, {} during {instances} requests (each request: a fresh instance from the pre-instantiated component)",
        compiled_after - compiled_at_load
    );
    Ok(())
}

/// Latency figures of one phase.
#[derive(Clone, Copy)]
struct Figures {
    /// Median latency, ms.
    p50: f64,
    /// 99th percentile latency, ms.
    p99: f64,
    /// Mean latency, ms.
    mean: f64,
    /// Completed requests per second.
    rps: f64,
}

fn best(runs: Vec<Figures>) -> Figures {
    runs.into_iter().min_by(|a, b| a.p50.total_cmp(&b.p50)).expect("at least one run")
}

fn print_row(label: &str, f: &Figures) {
    println!("{label:<38} {:>10.3} {:>10.3} {:>10.3} {:>12.0}", f.p50, f.p99, f.mean, f.rps);
}

/// Accept connections on a loopback port; `service(addr)` serves each one.
async fn serve_loopback<S, B>(service: impl Fn(SocketAddr) -> S + Send + 'static) -> anyhow::Result<SocketAddr>
where
    S: hyper::service::Service<Request<hyper::body::Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = spin_host::triggers::http::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let service = service(addr);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(addr)
}

/// A hyper server answering every request like the hello fixture does.
async fn bare_server() -> anyhow::Result<SocketAddr> {
    serve_loopback(|_| {
        hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
            let mut resp = Response::new(Full::new(Bytes::from_static(b"hello")));
            resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
            Ok::<_, std::convert::Infallible>(resp)
        })
    })
    .await
}

/// The floor under the host: `wasm` served by wasmtime-wasi-http alone, as
/// `wasmtime serve` does (a fresh store and instance per request, the guest
/// on a task of its own), on the host's engine settings.
async fn reference_server(wasm: &Path) -> anyhow::Result<SocketAddr> {
    use wasmtime_wasi_http::WasiHttpView as _;

    let (engine, pre) = spin_host::floor::pre_instantiate(wasm)?;
    serve_loopback(move |addr| {
        let (engine, pre) = (engine.clone(), pre.clone());
        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let (engine, pre) = (engine.clone(), pre.clone());
            async move {
                let mut store = spin_host::floor::new_store(&engine);
                let (sender, receiver) = tokio::sync::oneshot::channel();
                let (parts, body) = req.into_parts();
                let mut uri = http::Uri::builder().scheme("http").authority(addr.to_string());
                if let Some(pq) = parts.uri.path_and_query() {
                    uri = uri.path_and_query(pq.clone());
                }
                let mut req = Request::from_parts(parts, body.map_err(wasmtime_wasi_http::p2::hyper_request_error));
                *req.uri_mut() = uri.build()?;
                let request = store.data_mut().http().new_incoming_request(wasmtime_wasi_http::p2::bindings::http::types::Scheme::Http, req)?;
                let outparam = store.data_mut().http().new_response_outparam(sender)?;
                let guest = tokio::spawn(async move {
                    let proxy = pre.instantiate_async(&mut store).await?;
                    proxy.wasi_http_incoming_handler().call_handle(&mut store, request, outparam).await
                });
                match receiver.await {
                    Ok(Ok(resp)) => anyhow::Ok(resp),
                    Ok(Err(code)) => anyhow::bail!("guest answered with error {code:?}"),
                    Err(_) => anyhow::bail!("guest set no response: {:?}", guest.await),
                }
            }
        })
    })
    .await
}

/// Warm up, then run `concurrency` connections for [`PHASE`]; latencies of the measured part.
async fn load(addr: SocketAddr, concurrency: usize) -> anyhow::Result<Figures> {
    run(addr, concurrency, WARMUP).await?;
    let started = Instant::now();
    let mut latencies = run(addr, concurrency, PHASE).await?;
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    anyhow::ensure!(!latencies.is_empty(), "no request completed");
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64() * 1e3;
    let mean = latencies.iter().map(Duration::as_secs_f64).sum::<f64>() / latencies.len() as f64 * 1e3;
    Ok(Figures { p50: at(0.50), p99: at(0.99), mean, rps: latencies.len() as f64 / elapsed })
}

async fn run(addr: SocketAddr, concurrency: usize, duration: Duration) -> anyhow::Result<Vec<Duration>> {
    let deadline = Instant::now() + duration;
    let start = Arc::new(tokio::sync::Barrier::new(concurrency));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            start.wait().await;
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let req = Request::get("/hello").header("host", addr.to_string()).body(Empty::<Bytes>::new())?;
                let t = Instant::now();
                let resp = sender.send_request(req).await?;
                let body = resp.into_body().collect().await?.to_bytes();
                latencies.push(t.elapsed());
                anyhow::ensure!(&body[..] == b"hello", "unexpected body {body:?}");
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}
