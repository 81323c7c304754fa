//! Per-request instantiation cost of each app component against the trivial
//! `hello` fixture, in the same process and the same run: a new store (which
//! also instantiates the component's dependencies, e.g. compliance) plus
//! `instantiate_async` of the pre-instantiated component, no guest call.
//! Also prints, per component, the time to compile it from scratch (an engine
//! without the compile cache, once) and to load it through the host's engine
//! (its compile cache warm: what a restart pays), best of 3.
//!
//! `cargo xtask build-wasm && cargo build --profile host -p spin-host --example instantiate`,
//! then `target/host/examples/instantiate [N] [WASM_DIR ...]`: each WASM_DIR
//! (default `target/wasm32-wasip2/release`) holds the six component files and
//! `fixture_hello.wasm`; several dirs (e.g. a saved "before" build) are
//! measured in the same run, rounds interleaved.

use std::path::{Path, PathBuf};
use std::time::Instant;

use spin_host::app::{App, HostOptions, Trigger};

/// The allocator the `spin-host` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COMPONENTS: &[(&str, &str)] = &[
    ("hello", "fixture_hello.wasm"),
    ("staff-console", "staff_console.wasm"),
    ("staff-intake", "staff_intake.wasm"),
    ("staff-messaging", "staff_messaging.wasm"),
    ("compliance-alone", "compliance.wasm"),
    ("phone-numbers-alone", "phone_numbers.wasm"),
    ("outbound-send", "outbound_send.wasm"),
    ("payment-link", "payment_link.wasm"),
    ("overdue-scan", "overdue_scan.wasm"),
    ("inbound-webhook", "inbound_webhook.wasm"),
];

/// The app's own manifest with its sources read from `wasm`, plus `hello`
/// and the compliance and phone-numbers components on their own.
fn manifest(root: &Path, wasm: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(root.join("spin.toml"))?;
    let w = wasm.display().to_string();
    let mut text = text.replace("target/wasm32-wasip2/release/", &format!("{w}/"));
    text.push_str(&format!(
        "\n[[trigger.http]]\nroute = \"/instantiate-hello\"\ncomponent = \"hello\"\n\n[component.hello]\nsource = \"{w}/fixture_hello.wasm\"\n\n\
         [component.compliance-alone]\nsource = \"{w}/compliance.wasm\"\nsqlite_databases = [\"default\"]\n\n\
         [component.phone-numbers-alone]\nsource = \"{w}/phone_numbers.wasm\"\n"
    ));
    std::fs::create_dir_all(out)?;
    let path = out.join("spin.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|s| s.parse().unwrap()).unwrap_or(2000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let mut dirs: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if dirs.is_empty() {
        dirs.push(root.join("target/wasm32-wasip2/release"));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let tmp = std::env::temp_dir().join(format!("instantiate-{}", std::process::id()));
        let mut apps = Vec::new();
        for (i, dir) in dirs.iter().enumerate() {
            let dir = dir.canonicalize()?;
            let m = manifest(&root, &dir, &tmp.join(format!("app{i}")))?;
            let app = App::load(HostOptions {
                manifest: m,
                state_dir: Some(tmp.join(format!("state{i}"))),
                variables: vec![("staff_token".into(), "x".repeat(32)), ("link_key".into(), "y".repeat(32))],
                ..Default::default()
            })
            .await?;
            let uncached = wasmtime::Engine::new(&wasmtime::Config::new())?;
            for (id, file) in COMPONENTS {
                let t = Instant::now();
                drop(wasmtime::component::Component::from_file(&uncached, dir.join(file))?);
                let cold = t.elapsed().as_secs_f64();
                let mut best = f64::MAX;
                for _ in 0..3 {
                    let t = Instant::now();
                    let c = wasmtime::component::Component::from_file(&app.engine, dir.join(file))?;
                    best = best.min(t.elapsed().as_secs_f64());
                    drop(c);
                }
                let bytes = std::fs::metadata(dir.join(file))?.len();
                println!("{}: {id}: {bytes} bytes, compile {:.0} ms, cached load {:.1} ms", dir.display(), cold * 1e3, best * 1e3);
            }
            apps.push((dir, app));
        }
        // Instantiation: 9 interleaved rounds, median per component.
        let mut times: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); COMPONENTS.len()]; apps.len()];
        for _round in 0..9 {
            for (a, (_, app)) in apps.iter().enumerate() {
                for (c, (id, _)) in COMPONENTS.iter().enumerate() {
                    let component = app.component(id)?;
                    let t = Instant::now();
                    for _ in 0..n {
                        let mut store = app.new_store(&component, Trigger::Http).await?;
                        let instance = component.pre.instantiate_async(&mut store).await?;
                        std::hint::black_box(&instance);
                    }
                    times[a][c].push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
                }
            }
        }
        println!("\n| build | component | µs / instantiation (median of 9 rounds of {n}) | / hello |");
        println!("|---|---|---:|---:|");
        for (a, (dir, _)) in apps.iter().enumerate() {
            let med = |v: &mut Vec<f64>| {
                v.sort_by(|x, y| x.partial_cmp(y).unwrap());
                v[v.len() / 2]
            };
            let hello = med(&mut times[a][0].clone());
            for (c, (id, _)) in COMPONENTS.iter().enumerate() {
                let m = med(&mut times[a][c]);
                println!("| {} | {id} | {m:.1} | {:.2}x |", dir.display(), m / hello);
            }
        }
        let _ = std::fs::remove_dir_all(&tmp);
        anyhow::Ok(())
    })
}
