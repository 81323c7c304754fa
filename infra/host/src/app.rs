//! Loading an app: manifest, runtime config, variables, stores, and one
//! pre-instantiated wasm component per manifest component.
//!
//! Everything that can be wrong with the app is checked here, at load, so the
//! app either starts whole or not at all: unknown store labels, missing
//! required variables, imports this host does not provide, dependencies that
//! do not match, cron components that do not export the cron handler.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};

use anyhow::{bail, Context as _};
use spin_host_config::manifest::{AppManifest, ComponentDecl};
use spin_host_config::outbound::AllowedHosts;
use spin_host_config::routes::Router;
use spin_host_config::runtime_config::RuntimeConfig;
use spin_host_config::variables::{parse_dotenv, VariableResolver};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::dependencies::{self, LoadedDependency};
use crate::files;
use crate::grants::Grants;
use crate::key_value::KeyValueStores;
use crate::sqlite::SqliteDatabases;
use crate::state::HostState;

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
    /// The loaded app, for requests a component sends to `self`.
    app: OnceLock<Weak<App>>,
}

impl AppShared {
    /// The app these stores belong to, once loading finished.
    pub fn app(&self) -> Option<Arc<App>> {
        self.app.get().and_then(Weak::upgrade)
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
        });

        let engine = new_engine()?;
        let base_linker = base_linker(&engine)?;

        let routes: Vec<(String, String)> = manifest
            .http_triggers
            .iter()
            .filter_map(|t| match &t.route {
                spin_host_config::manifest::HttpRoute::Path(p) => Some((p.clone(), t.component.clone())),
                spin_host_config::manifest::HttpRoute::Private => None,
            })
            .collect();
        let router = Router::build(&manifest.http_base, &routes)?;

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

        let http_components: std::collections::BTreeSet<&str> =
            manifest.http_triggers.iter().map(|t| t.component.as_str()).collect();
        let cron_components: std::collections::BTreeSet<&str> =
            manifest.cron_triggers.iter().map(|t| t.component.as_str()).collect();

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
            if cron_components.contains(decl.id.as_str())
                && component.get_export_index(None, crate::cron_trigger::HANDLER_EXPORT).is_none()
            {
                bail!(
                    "component {:?} has a cron trigger but does not export `{}` (world fermyon:spin-cron/spin-cron@2.0.0)",
                    decl.id,
                    crate::cron_trigger::HANDLER_EXPORT
                );
            }
            let files_root = files::stage(&decl, &state_dir)
                .with_context(|| format!("component {:?}: files", decl.id))?;
            components.insert(
                decl.id.clone(),
                Arc::new(LoadedComponent { id: decl.id.clone(), decl, grants, pre, proxy, dependencies: deps, files_root }),
            );
        }

        for t in &manifest.cron_triggers {
            crate::cron_trigger::parse_schedule(&t.cron_expression)
                .with_context(|| format!("cron trigger for component {:?}", t.component))?;
        }

        let app = Arc::new(App { manifest, engine, shared, components, router, state_dir });
        let _ = app.shared.app.set(Arc::downgrade(&app));
        Ok(app)
    }

    /// A component by id.
    pub fn component(&self, id: &str) -> anyhow::Result<Arc<LoadedComponent>> {
        self.components.get(id).cloned().with_context(|| format!("no component named {id:?}"))
    }

    /// A fresh store for one run of `component`, with its dependencies instantiated.
    pub async fn new_store(&self, component: &LoadedComponent) -> anyhow::Result<Store<HostState>> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.inherit_stdout().inherit_stderr();
        for (k, v) in &component.decl.environment {
            wasi.env(k, v);
        }
        if let Some(root) = &component.files_root {
            wasi.preopened_dir(root, "/", wasmtime_wasi::FsPerms::ReadOnly)?;
        }
        let state = HostState::new(
            self.shared.clone(),
            component.grants.clone(),
            wasi.build(),
            component.dependencies.len(),
        );
        let mut store = Store::new(&self.engine, state);
        for (i, dep) in component.dependencies.iter().enumerate() {
            let instance = dep.pre.instantiate_async(&mut store).await?;
            store.data_mut().dependency_instances[i] = Some(instance);
        }
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
        key_value_stores: decl.key_value_stores.iter().cloned().collect(),
        sqlite_databases: decl.sqlite_databases.iter().cloned().collect(),
        allowed_hosts: Arc::new(allowed_hosts),
        variables_from: Some(Arc::new(decl.clone())),
    })
}

fn new_engine() -> anyhow::Result<Engine> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    // Compiled code is cached on disk so restarts (and test runs) skip cranelift.
    let mut cache = wasmtime::CacheConfig::new();
    cache.with_directory(cache_dir());
    match wasmtime::Cache::new(cache) {
        Ok(c) => {
            config.cache(Some(c));
        }
        Err(e) => tracing::warn!("compile cache disabled: {e:#}"),
    }
    Ok(Engine::new(&config)?)
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

/// The imports every component gets: WASI 0.2, wasi-http, and fermyon:spin.
fn base_linker(engine: &Engine) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    crate::bindings::SpinImports::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    Ok(linker)
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

impl AppShared {
    /// A request a component sent to `http://self/...`: route it inside the
    /// app without touching the network (Spin's service chaining).
    pub async fn send_to_self(
        &self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
    ) -> wasmtime_wasi_http::Result<(
        http::Response<wasmtime_wasi_http::WasiBody>,
        Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    )> {
        use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
        let app = self.app().ok_or(wasmtime_wasi_http::Error::from(ErrorCode::DestinationUnavailable))?;
        let path = request.uri().path().to_string();
        let full_url = request.uri().to_string();
        match crate::http_trigger::dispatch(&app, request, &path, &full_url, "127.0.0.1:0").await {
            Ok(resp) => Ok((resp, Box::new(async { Ok(()) }) as Box<dyn std::future::Future<Output = _> + Send>)),
            Err(crate::http_trigger::Dispatch::NotFound) => {
                let body = http_body_util::BodyExt::boxed_unsync(http_body_util::BodyExt::map_err(
                    http_body_util::Full::new(bytes::Bytes::from_static(b"Not Found")),
                    |never| match never {},
                ));
                let mut resp = http::Response::new(body);
                *resp.status_mut() = http::StatusCode::NOT_FOUND;
                Ok((resp, Box::new(async { Ok(()) }) as Box<dyn std::future::Future<Output = _> + Send>))
            }
            Err(crate::http_trigger::Dispatch::Failed(e)) => {
                tracing::error!("self request to {path} failed: {e:#}");
                Err(ErrorCode::InternalError(Some(e.to_string())).into())
            }
        }
    }
}
