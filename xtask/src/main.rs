//! Project tasks, so that two commands do everything on a fresh machine:
//!
//! - `cargo xtask up`   build every wasm component and the local host, then serve the app
//!   on 127.0.0.1:3000 with the embedded defaults (SQLite files under `.spin/`);
//! - `cargo xtask test` install what the tests need when it is missing (`redis-server`,
//!   `chromium`, the wasm target), build every wasm component, then run every test.
//!
//! Other tasks: `build-wasm` (components only), `bench` (all benchmarks).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};

/// Cargo profile for native code: the host and the tests share one optimised build.
const HOST_PROFILE: &str = "host";
/// Where Spin and the rest of the world expect wasm components to be built.
const WASM_TARGET: &str = "wasm32-wasip2";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let root = workspace_root()?;
    match task.as_str() {
        "up" => up(&root, &rest),
        "test" => test(&root, &rest),
        "build-wasm" => build_wasm(&root),
        "bench" => bench(&root, &rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n  up [host args]   build everything and serve the app on 127.0.0.1:3000\n  test [args]      build the wasm components and run every test\n  build-wasm       build the wasm components only\n  bench [args]     run the benchmarks"
            );
            if task.is_empty() || task == "help" || task == "--help" {
                Ok(())
            } else {
                bail!("unknown task {task:?}")
            }
        }
    }
}

fn workspace_root() -> anyhow::Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map(Path::to_path_buf).context("xtask is not inside the workspace")
}

fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root);
    cmd
}

fn status(mut cmd: Command) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    let st = cmd.status().with_context(|| format!("cannot run {shown}"))?;
    if !st.success() {
        bail!("{shown} failed ({st})");
    }
    Ok(())
}

/// Workspace packages that build wasm components (those with a cdylib target).
fn wasm_packages(root: &Path) -> anyhow::Result<Vec<String>> {
    let out = cargo(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let mut names = Vec::new();
    for pkg in meta["packages"].as_array().into_iter().flatten() {
        let is_component = pkg["targets"].as_array().into_iter().flatten().any(|t| {
            t["crate_types"].as_array().into_iter().flatten().any(|c| c == "cdylib")
        });
        if is_component {
            if let Some(name) = pkg["name"].as_str() {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// A fresh machine has Rust but not the wasm target: add it (rustup) when missing,
/// so the README's two commands are all a new user runs.
fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match installed {
        Ok(out) if String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == WASM_TARGET) => Ok(()),
        Ok(_) => {
            eprintln!("xtask: adding the Rust target {WASM_TARGET} with rustup (the components build for it)");
            status({
                let mut cmd = Command::new("rustup");
                cmd.args(["target", "add", WASM_TARGET]);
                cmd
            })
        }
        // No rustup (a distribution toolchain): let cargo report a missing target itself.
        Err(_) => Ok(()),
    }
}

/// A Debian package the tests run, and why.
struct TestPackage {
    /// The package `apt-get` installs.
    name: &'static str,
    /// Which tests need it (printed when it is installed or missing).
    why: &'static str,
    /// Whether the tests would find it (the same places the tests look).
    present: fn() -> bool,
}

const TEST_PACKAGES: &[TestPackage] = &[
    TestPackage {
        name: "redis-server",
        why: "the Redis key-value tests start a real redis-server",
        present: redis_server_present,
    },
    TestPackage {
        name: "chromium",
        why: "the payment page and console tests drive headless Chromium",
        present: chromium_present,
    },
];

/// `$REDIS_SERVER`, else `redis-server` on `PATH` (tests/src/redis.rs).
fn redis_server_present() -> bool {
    match std::env::var_os("REDIS_SERVER") {
        Some(p) => Path::new(&p).exists() || on_path(&p.to_string_lossy()),
        None => on_path("redis-server"),
    }
}

/// `$CHROMIUM`, else Debian's paths (tests/src/browser.rs).
fn chromium_present() -> bool {
    match std::env::var_os("CHROMIUM") {
        Some(p) => Path::new(&p).exists(),
        None => ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().any(|p| Path::new(p).exists()),
    }
}

fn on_path(command: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(command).is_file()))
}

/// Whether this process runs as root (`id -u` is 0).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Whether `sudo` runs without asking for a password.
fn passwordless_sudo() -> bool {
    Command::new("sudo")
        .args(["-n", "true"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|st| st.success())
}

/// The tests fail (never skip) without redis-server and Chromium, and a
/// failure after a long build wastes the build: install what is missing
/// first, with apt-get as root or through passwordless sudo, or stop before
/// building anything and say what to run.
fn ensure_test_packages() -> anyhow::Result<()> {
    let missing: Vec<&TestPackage> = TEST_PACKAGES.iter().filter(|p| !(p.present)()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|p| p.name).collect();
    let names = names.join(" ");
    for p in &missing {
        eprintln!("xtask: {} is missing: {}", p.name, p.why);
    }
    let manual = format!(
        "sudo apt-get update && sudo apt-get install -y --no-install-recommends {names}"
    );
    if !on_path("apt-get") {
        bail!(
            "no apt-get here to install {names}: install them with your package manager (on Debian: {manual}), \
             or point REDIS_SERVER / CHROMIUM at the binaries, then run `cargo xtask test` again"
        );
    }
    let sudo = if is_root() {
        false
    } else if passwordless_sudo() {
        true
    } else {
        bail!("cannot install {names} without a password (not root, and `sudo -n true` fails); run\n\n    {manual}\n\nthen `cargo xtask test` again");
    };
    let apt = |args: &[&str]| {
        let mut cmd = Command::new(if sudo { "sudo" } else { "env" });
        if sudo {
            cmd.arg("env");
        }
        cmd.arg("DEBIAN_FRONTEND=noninteractive").arg("apt-get").args(args);
        cmd
    };
    eprintln!("xtask: installing {names} with apt-get{}", if sudo { " (through sudo)" } else { "" });
    status(apt(&["update"]))?;
    let mut install = apt(&["install", "-y", "--no-install-recommends"]);
    install.args(missing.iter().map(|p| p.name));
    status(install)?;
    let still: Vec<&str> = missing.iter().filter(|p| !(p.present)()).map(|p| p.name).collect();
    if !still.is_empty() {
        bail!("apt-get installed {names}, but the tests still cannot find {}", still.join(" "));
    }
    Ok(())
}

fn build_wasm(root: &Path) -> anyhow::Result<()> {
    let packages = wasm_packages(root)?;
    if packages.is_empty() {
        return Ok(());
    }
    ensure_wasm_target()?;
    let mut cmd = cargo(root);
    cmd.args(["build", "--release", "--target", WASM_TARGET]);
    for p in &packages {
        cmd.args(["--package", p]);
    }
    status(cmd)
}

/// Development secrets for a local run, created once under `.spin/` (never printed).
fn dev_secrets(root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let dir = root.join(".spin");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("dev-secrets.env");
    if !file.exists() {
        let mut text = String::from("# Local development secrets, generated by `cargo xtask up`.\n");
        for name in ["staff_token", "link_key"] {
            text.push_str(&format!("SPIN_VARIABLE_{}={}\n", name.to_uppercase(), random_hex(32)?));
        }
        std::fs::write(&file, text)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
        eprintln!("xtask: generated local secrets in {} (the staff token is there)", file.display());
    }
    let text = std::fs::read_to_string(&file)?;
    Ok(text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect())
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn up(root: &Path, host_args: &[String]) -> anyhow::Result<()> {
    build_wasm(root)?;
    let mut cmd = cargo(root);
    cmd.args(["run", "--profile", HOST_PROFILE, "--package", "spin-host", "--", "up", "--from", "spin.toml"]);
    cmd.args(host_args);
    for (k, v) in dev_secrets(root)? {
        // Values already in the environment win over the generated ones.
        if std::env::var_os(&k).is_none() {
            cmd.env(k, v);
        }
    }
    status(cmd)
}

fn test(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    ensure_test_packages()?;
    build_wasm(root)?;
    let mut cmd = cargo(root);
    cmd.args(["test", "--profile", HOST_PROFILE, "--workspace"]);
    for p in wasm_packages(root)? {
        cmd.args(["--exclude", &p]);
    }
    cmd.args(extra);
    status(cmd)
}

fn bench(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    build_wasm(root)?;
    let mut cmd = cargo(root);
    cmd.args(["bench", "--profile", HOST_PROFILE, "--workspace", "--features", "spin-host/bench-floor"]);
    for p in wasm_packages(root)? {
        cmd.args(["--exclude", &p]);
    }
    cmd.args(extra);
    status(cmd)
}
