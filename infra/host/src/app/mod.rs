//! The app and its loading: manifest, runtime config, variables, stores,
//! and one pre-instantiated wasm component per manifest component; the
//! engine they run on; the per-instance state ([`state`]), what each
//! component may use ([`grants`]), its dependencies ([`dependencies`]),
//! files ([`files`]) and variables ([`variables`]); guest output
//! ([`output`]) and build commands ([`build_cmd`]).
//!
//! What can be wrong with the app is checked at load, so the app either
//! starts whole or not at all: unknown store labels, missing required
//! variables, imports this host does not provide, dependencies that do not
//! match (the triggers' own checks are in [`crate::Host::load`]).
//!
//! This module must not touch the triggers: they drive the app (requests,
//! ticks, requests a component sends to the app), the app never calls them.
//! Capabilities (`key_value`, `sqlite`) see an instance only through the
//! views [`HostState`] gives them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use anyhow::{bail, Context as _};
use spin_host_config::manifest::{AppManifest, ComponentDecl};
use spin_host_config::outbound::AllowedHosts;
use spin_host_config::routes::Router;
use spin_host_config::runtime_config::RuntimeConfig;
use spin_host_config::variables::{parse_dotenv, VariableResolver};
use wasmtime::component::{Component, InstancePre};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

pub mod build_cmd;
mod dependencies;
mod files;
mod grants;
mod linker;
pub mod output;
mod state;
mod variables;

use self::dependencies::LoadedDependency;
use self::grants::{Grants, Isolation};
use self::output::{GuestOutput, Stream};
pub use self::linker::SELF_AUTHORITY;
pub use self::state::{HostState, OutboundHooks, Trigger};
use crate::key_value::KeyValueStores;
use crate::sqlite::SqliteDatabases;

/// How to load an app.
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// Path of the spin.toml manifest.
    pub manifest: PathBuf,
    /// Where default stores and databases live; default `.spin` next to the manifest.
    pub state_dir: Option<PathBuf>,
    /// Spin runtime-config file (`--runtime-config-file`).
    pub runtime_config_file: Option<PathBuf>,
    /// Variables given on the command line (`--variable name=value`); highest priority.
    pub variables: Vec<(String, String)>,
}

/// State every instance of the app shares.
pub struct AppShared {
    /// Configured key-value stores.
    pub key_value: KeyValueStores,
    /// Configured SQLite databases.
    pub sqlite: SqliteDatabases,
    /// Variable values (app and component).
    pub variables: VariableResolver,
    /// The loaded app, for requests a component sends to the app itself.
    app: OnceLock<Weak<App>>,
    /// Where the HTTP trigger listens (the authority of requests to the app itself).
    origin: OnceLock<SocketAddr>,
    /// Counters proving how instances are made.
    pub stats: Stats,
}

/// What the host has done, for tests and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// Wasm components compiled (at load; never per request).
    pub compilations: AtomicU64,
    /// Instances made from a pre-instantiated component.
    pub instantiations: AtomicU64,
    /// Instances alive now (a request or tick in progress).
    pub live: AtomicU64,
}

impl AppShared {
    /// The app these stores belong to, once loading finished.
    pub fn app(&self) -> Option<Arc<App>> {
        self.app.get().and_then(Weak::upgrade)
    }

    /// Where the HTTP trigger listens, once it does.
    pub fn origin(&self) -> Option<SocketAddr> {
        self.origin.get().copied()
    }

    /// Record the HTTP trigger's address (first call wins).
    pub fn set_origin(&self, addr: SocketAddr) {
        let _ = self.origin.set(addr);
    }

    /// Whether the app has a component `id`.
    pub fn has_component(&self, id: &str) -> bool {
        self.app().is_some_and(|app| app.components.contains_key(id))
    }
}

/// One component ready to instantiate.
pub struct LoadedComponent {
    /// Manifest id.
    pub id: String,
    /// Manifest entry.
    pub decl: Arc<ComponentDecl>,
    /// What the component may use.
    pub grants: Arc<Grants>,
    /// Pre-instantiated component (imports resolved once, at load).
    pub pre: InstancePre<HostState>,
    /// The HTTP entry point, when the component exports `wasi:http/incoming-handler`.
    pub proxy: Option<ProxyPre<HostState>>,
    /// Components linked into this one's imports.
    pub dependencies: Vec<LoadedDependency>,
    /// Host directory mounted at `/` holding the component's `files`.
    pub files_root: Option<PathBuf>,
}

/// A loaded, runnable app.
pub struct App {
    /// The manifest as parsed.
    pub manifest: AppManifest,
    /// The wasmtime engine all components are compiled for.
    pub engine: Engine,
    /// State shared by all instances.
    pub shared: Arc<AppShared>,
    /// Components by id.
    pub components: HashMap<String, Arc<LoadedComponent>>,
    /// HTTP routes.
    pub router: Router,
    /// Where the state directory is.
    pub state_dir: PathBuf,
}

impl App {
    /// Load and validate the app described by `options`.
    pub async fn load(options: HostOptions) -> anyhow::Result<Arc<App>> {
        let manifest_path = if options.manifest.is_dir() {
            options.manifest.join("spin.toml")
        } else {
            options.manifest.clone()
        };
        let manifest = AppManifest::load(&manifest_path)?;
        let state_dir = match &options.state_dir {
            Some(dir) => absolute(dir)?,
            None => manifest.dir.join(".spin"),
        };
        std::fs::create_dir_all(&state_dir)
            .with_context(|| format!("cannot create state directory {}", state_dir.display()))?;

        let runtime_config = match &options.runtime_config_file {
            Some(file) => RuntimeConfig::load(&absolute(file)?, &state_dir)?,
            None => RuntimeConfig::defaults(&state_dir),
        };

        let dotenv = match std::fs::read_to_string(manifest.dir.join(".env")) {
            Ok(text) => parse_dotenv(&text),
            Err(_) => Default::default(),
        };
        let variables = VariableResolver::new(
            &manifest.variables,
            &options.variables,
            &|name| std::env::var(name).ok(),
            dotenv,
            &runtime_config.variables_providers,
        )?;
        variables.validate()?;
        // Spin only notices a bad outbound-host variable at the first request;
        // refuse it here, naming the component, the entry and the variable.
        variables.check_allowed_outbound_hosts(&manifest.components)?;

        // Every store and database a component lists must be configured:
        // Spin refuses to start otherwise.
        for c in &manifest.components {
            for label in &c.key_value_stores {
                if !runtime_config.key_value_stores.contains_key(label) {
                    bail!("component {:?} uses key-value store {label:?}, which is not configured (add [key_value_store.{label}] to a runtime config file)", c.id);
                }
            }
            for label in &c.sqlite_databases {
                if !runtime_config.sqlite_databases.contains_key(label) {
                    bail!("component {:?} uses sqlite database {label:?}, which is not configured (add [sqlite_database.{label}] to a runtime config file)", c.id);
                }
            }
        }
        let used_kv: std::collections::BTreeMap<_, _> = runtime_config
            .key_value_stores
            .iter()
            .filter(|(label, _)| manifest.components.iter().any(|c| c.key_value_stores.contains(label)))
            .map(|(l, c)| (l.clone(), c.clone()))
            .collect();
        let used_db: std::collections::BTreeMap<_, _> = runtime_config
            .sqlite_databases
            .iter()
            .filter(|(label, _)| manifest.components.iter().any(|c| c.sqlite_databases.contains(label)))
            .map(|(l, c)| (l.clone(), c.clone()))
            .collect();

        let shared = Arc::new(AppShared {
            key_value: KeyValueStores::open(&used_kv)?,
            sqlite: SqliteDatabases::open(&used_db)?,
            variables,
            app: OnceLock::new(),
            origin: OnceLock::new(),
            stats: Stats::default(),
        });

        let engine = new_engine()?;
        let base_linker = linker::base_linker(&engine)?;

        let router = Router::for_manifest(&manifest)?;
        for dup in router.duplicates() {
            tracing::error!(
                "route {} of component {:?} duplicates the one of component {:?} and will never be used",
                dup.route,
                dup.replaced,
                dup.effective
            );
        }
        for reserved in router.reserved_routes() {
            tracing::error!("route {reserved} is under /.well-known/spin/, which the host answers itself: it will never be reached");
        }

        // Compile every distinct source once, in parallel (cranelift is the slow part).
        let mut sources: Vec<PathBuf> = Vec::new();
        for c in &manifest.components {
            push_unique(&mut sources, c.source.clone());
            for d in &c.dependencies {
                if let spin_host_config::manifest::DependencyTarget::Path(p) = &d.target {
                    push_unique(&mut sources, p.clone());
                }
            }
        }
        let compiled = compile_all(&engine, &sources).await?;
        shared.stats.compilations.fetch_add(compiled.len() as u64, Ordering::Relaxed);

        let http_components: std::collections::BTreeSet<&str> =
            manifest.http_triggers.iter().map(|t| t.component.as_str()).collect();

        let mut components = HashMap::new();
        for decl in &manifest.components {
            let decl = Arc::new(decl.clone());
            let grants = Arc::new(component_grants(&decl, &shared)?);
            let component = compiled
                .get(&decl.source)
                .with_context(|| format!("component {:?}: not compiled", decl.id))?;
            let mut linker = base_linker.clone();
            let deps = dependencies::link(
                &engine,
                &base_linker,
                &mut linker,
                &manifest,
                &decl,
                component,
                &compiled,
                &grants,
            )
            .with_context(|| format!("component {:?}: dependencies", decl.id))?;
            let pre = linker.instantiate_pre(component).map_err(|e| {
                anyhow::anyhow!("component {:?} cannot be linked: {e:#}", decl.id)
            })?;
            let proxy = if http_components.contains(decl.id.as_str()) {
                Some(ProxyPre::new(pre.clone()).map_err(|e| {
                    anyhow::anyhow!(
                        "component {:?} has an HTTP trigger but does not export wasi:http/incoming-handler@0.2.x: {e:#}",
                        decl.id
                    )
                })?)
            } else {
                None
            };
            let files_root = files::stage(&decl, &state_dir)
                .with_context(|| format!("component {:?}: files", decl.id))?;
            components.insert(
                decl.id.clone(),
                Arc::new(LoadedComponent { id: decl.id.clone(), decl, grants, pre, proxy, dependencies: deps, files_root }),
            );
        }

        let app = Arc::new(App { manifest, engine, shared, components, router, state_dir });
        let _ = app.shared.app.set(Arc::downgrade(&app));
        Ok(app)
    }

    /// A component by id.
    pub fn component(&self, id: &str) -> anyhow::Result<Arc<LoadedComponent>> {
        self.components.get(id).cloned().with_context(|| format!("no component named {id:?}"))
    }

    /// A fresh store for one run of `component` started by `trigger`, with
    /// its dependencies instantiated.
    pub async fn new_store(&self, component: &LoadedComponent, trigger: Trigger) -> anyhow::Result<Store<HostState>> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(GuestOutput(Stream::Stdout)).stderr(GuestOutput(Stream::Stderr));
        for (k, v) in &component.decl.environment {
            wasi.env(k, v);
        }
        if let Some(root) = &component.files_root {
            wasi.preopened_dir(root, "/", wasmtime_wasi::FsPerms::ReadOnly)?;
        }
        crate::outbound::sockets::install(&mut wasi, component.grants.allowed_hosts.clone());
        let mut state = HostState::new(self.shared.clone(), component.grants.clone(), wasi.build(), trigger);
        if component.dependencies.iter().any(|d| d.grants.isolation == Isolation::Isolated) {
            let mut isolated = WasiCtxBuilder::new();
            isolated.stdout(GuestOutput(Stream::Stdout)).stderr(GuestOutput(Stream::Stderr));
            state.isolated_wasi = Some(isolated.build());
        }
        let mut store = Store::new(&self.engine, state);
        // A guest that computes without calling the host yields to other
        // requests every epoch tick instead of holding a runtime thread.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            // Except inside a SQLite write transaction, which every other
            // writer of the database waits for: finish it first (a yield
            // queues the guest behind every runnable request; it is also
            // due at once after a long wait for the turn, as the epoch
            // moved on meanwhile).
            if state.sqlite.holds_write_turn() && state.ticks_holding_turn < MAX_TICKS_HOLDING_TURN {
                state.ticks_holding_turn += 1;
                return Ok(wasmtime::UpdateDeadline::Continue(1));
            }
            state.ticks_holding_turn = 0;
            Ok(wasmtime::UpdateDeadline::Yield(1))
        });
        for dep in &component.dependencies {
            let instance = dep.pre.instantiate_async(&mut store).await?;
            store.data_mut().dependency_instances.push(Some(instance));
        }
        self.shared.stats.instantiations.fetch_add(1, Ordering::Relaxed);
        Ok(store)
    }
}

fn push_unique(list: &mut Vec<PathBuf>, p: PathBuf) {
    if !list.contains(&p) {
        list.push(p);
    }
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir()?.join(p) })
}

/// Grants a component's manifest entry gives it.
fn component_grants(decl: &ComponentDecl, shared: &AppShared) -> anyhow::Result<Grants> {
    let allowed_hosts = AllowedHosts::parse(&decl.allowed_outbound_hosts, &|template| {
        shared.variables.expand(template).map_err(|e| e.to_string())
    })
    .with_context(|| format!("component {:?}: allowed_outbound_hosts", decl.id))?;
    Ok(Grants {
        component_id: decl.id.clone(),
        isolation: Isolation::Component,
        key_value_stores: decl.key_value_stores.iter().cloned().collect(),
        sqlite_databases: decl.sqlite_databases.iter().cloned().collect(),
        allowed_hosts: Arc::new(allowed_hosts),
        variables_from: Arc::new(decl.clone()),
    })
}

/// Most epoch ticks a guest holding a SQLite write turn runs on without yielding.
const MAX_TICKS_HOLDING_TURN: u32 = 10;

/// How often the engine's epoch advances (the longest a guest runs without yielding).
const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// Instances (and memories, stacks) the pooling allocator keeps ready: the
/// most requests and ticks that can run at once.
const POOLED_INSTANCES: u32 = 1000;

/// The engine apps run on: pooling allocator, epoch interruption, compile
/// cache. Also the floor server's (`bench-floor`), so that it runs on the
/// same engine settings.
pub(crate) fn new_engine() -> anyhow::Result<Engine> {
    let mut config = base_config();
    // Instantiation from a pool of ready memories and stacks is what makes a
    // fresh instance per request cheap (Spin does the same).
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(POOLED_INSTANCES)
        .total_memories(POOLED_INSTANCES)
        .total_tables(2 * POOLED_INSTANCES)
        .total_stacks(POOLED_INSTANCES)
        .total_core_instances(4 * POOLED_INSTANCES)
        .table_elements(100_000)
        .max_component_instance_size(10 << 20)
        .max_core_instance_size(10 << 20)
        .max_core_instances_per_component(200)
        .max_tables_per_component(64)
        .max_memories_per_component(32)
        .max_memory_size(4 << 30)
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(1 << 19)
        // Reset only the pages an instance touched (Linux 6.7+), not the
        // whole kept-resident prefix: most of the cost of a fresh instance.
        .pagemap_scan(wasmtime::Enabled::Auto);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    let engine = match Engine::new(&config) {
        Ok(engine) => engine,
        Err(e) => {
            // Not enough virtual address space for the pool (some CI sandboxes).
            tracing::warn!("pooling allocator unavailable ({e:#}); allocating instances on demand");
            Engine::new(&base_config())?
        }
    };
    start_epoch_ticker(&engine);
    Ok(engine)
}

fn base_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // `SPIN_HOST_PERFMAP=1` writes /tmp/perf-<pid>.map so `perf report` names guest functions.
    if std::env::var_os("SPIN_HOST_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    // Compiled code is cached on disk so restarts (and test runs) skip cranelift.
    let mut cache = wasmtime::CacheConfig::new();
    cache.with_directory(cache_dir());
    match wasmtime::Cache::new(cache) {
        Ok(c) => {
            config.cache(Some(c));
        }
        Err(e) => tracing::warn!("compile cache disabled: {e:#}"),
    }
    config
}

/// Advance the engine's epoch every [`EPOCH_TICK`] for as long as the engine lives.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new().name("epoch-ticker".into()).spawn(move || loop {
        std::thread::sleep(EPOCH_TICK);
        match weak.upgrade() {
            Some(engine) => engine.increment_epoch(),
            None => return,
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the epoch ticker ({e}); long-running guests will not yield");
    }
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SPIN_HOST_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("spin-host")
}

async fn compile_all(engine: &Engine, sources: &[PathBuf]) -> anyhow::Result<HashMap<PathBuf, Component>> {
    let mut tasks = Vec::new();
    for source in sources {
        let engine = engine.clone();
        let source = source.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            let bytes = std::fs::read(&source).with_context(|| {
                format!("cannot read component source {} (has it been built? try `spin-host build`)", source.display())
            })?;
            let component = Component::from_binary(&engine, &bytes)
                .map_err(|e| anyhow::anyhow!("{} is not a valid wasm component: {e:#}", source.display()))?;
            anyhow::Ok((source, component))
        }));
    }
    let mut out = HashMap::new();
    for t in tasks {
        let (source, component) = t.await??;
        out.insert(source, component);
    }
    Ok(out)
}
