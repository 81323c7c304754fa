//! `spin-host`: run a Spin app locally (see the README).

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use spin_host::{Host, HostOptions};

/// See the `mimalloc` entry in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "spin-host", version, about = "Run a Spin app (spin.toml v2) locally on wasmtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load the app and serve its HTTP and cron triggers.
    Up {
        #[command(flatten)]
        app: AppArgs,
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
        /// Run the components' build commands first.
        #[arg(long)]
        build: bool,
        /// Do not run the cron schedules (tests fire them with `spin-host cron`).
        #[arg(long)]
        no_cron: bool,
    },
    /// Run each component's build command.
    Build {
        /// Path of spin.toml (or its directory).
        #[arg(long = "from", short = 'f', default_value = "spin.toml")]
        manifest: PathBuf,
        /// Build only these components.
        #[arg(long = "component-id", short = 'c')]
        components: Vec<String>,
    },
    /// Fire one component's cron handler now and exit.
    Cron {
        /// The component id.
        component: String,
        #[command(flatten)]
        app: AppArgs,
    },
}

#[derive(Args)]
struct AppArgs {
    /// Path of spin.toml (or its directory).
    #[arg(long = "from", short = 'f', default_value = "spin.toml")]
    manifest: PathBuf,
    /// Directory for default stores and databases (default: .spin next to spin.toml).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Spin runtime configuration file.
    #[arg(long)]
    runtime_config_file: Option<PathBuf>,
    /// Set an application variable: NAME=VALUE (repeatable).
    #[arg(long = "variable", value_parser = parse_variable)]
    variables: Vec<(String, String)>,
}

impl AppArgs {
    fn options(self) -> HostOptions {
        HostOptions {
            manifest: resolve_manifest(self.manifest),
            state_dir: self.state_dir,
            runtime_config_file: self.runtime_config_file,
            variables: self.variables,
        }
    }
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("Shutting down");
}

/// How long exiting waits for guest output still queued to be written.
const GUEST_OUTPUT_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

fn resolve_manifest(p: PathBuf) -> PathBuf {
    if p.is_dir() { p.join("spin.toml") } else { p }
}

fn parse_variable(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got {s:?}")),
    }
}

fn main() {
    tracing_subscriber::fmt()
        // In order with guest output, and never blocking a runtime thread.
        .with_writer(spin_host::output::HostStderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SPIN_HOST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,wasmtime=warn,cranelift=warn")),
        )
        .init();
    let cli = Cli::parse();
    let code = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => match rt.block_on(run(cli)) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("Error: {e:#}");
                1
            }
        },
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            1
        }
    };
    // Guest output still queued (requests that ended during shutdown).
    spin_host::output::drain(GUEST_OUTPUT_DRAIN);
    std::process::exit(code);
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Build { manifest, components } => spin_host::build_cmd::build(&resolve_manifest(manifest), &components),
        Command::Cron { component, app } => {
            let host = Host::load(app.options()).await?;
            let fired = host.fire_cron(&component).await;
            // The handler's own output first.
            host.flush_guest_output(GUEST_OUTPUT_DRAIN);
            fired?;
            eprintln!("cron handler of {component:?} completed");
            Ok(())
        }
        Command::Up { app, listen, build, no_cron } => {
            let options = app.options();
            if build {
                spin_host::build_cmd::build(&options.manifest, &[])?;
            }
            let host = Host::load(options).await?;
            let listener = spin_host::triggers::http::bind(&listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            let addr = listener.local_addr()?;
            {
                let mut out = std::io::stdout().lock();
                writeln!(out, "Serving http://{addr}")?;
                writeln!(out, "Available Routes:")?;
                for (route, component) in host.routes() {
                    writeln!(out, "  {component}: http://{addr}{route}")?;
                }
                for (component, schedule) in host.cron_schedules() {
                    writeln!(out, "  {component}: cron {schedule:?}{}", if no_cron { " (not scheduled: --no-cron)" } else { "" })?;
                }
                out.flush()?;
            }
            let cron = if no_cron { Vec::new() } else { host.start_cron() };
            let served = host.serve(listener, shutdown_signal()).await;
            for task in cron {
                task.abort();
            }
            served
        }
    }
}
