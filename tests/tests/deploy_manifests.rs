//! The deployment files in `infra/` against the app they deploy: what the
//! SpinKube manifests name must exist in `spin.toml`, what `spin.toml`
//! needs must be in the manifests, and the runtime-config examples must
//! parse as the host (and Spin) read them. A component, route, variable or
//! cron schedule added to `spin.toml` without its deployment counterpart
//! fails here rather than in a cluster.

use std::collections::BTreeSet;
use std::path::Path;

use e2e::workspace_root;
use serde_yaml::Value as Yaml;
use spin_host_config::manifest::AppManifest;
use spin_host_config::runtime_config::{KeyValueStoreConfig, RuntimeConfig, SqliteDatabaseConfig, VariablesProvider};

fn manifest() -> AppManifest {
    AppManifest::load(&workspace_root().join("spin.toml")).unwrap_or_else(|e| panic!("spin.toml: {e}"))
}

/// Every YAML document of `infra/spinkube/<file>`.
fn documents(file: &str) -> Vec<Yaml> {
    let text = std::fs::read_to_string(workspace_root().join("infra/spinkube").join(file)).expect("read manifest");
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{file}: {e}")))
        .collect()
}

fn spin_app() -> Yaml {
    let docs = documents("spinapp.yaml");
    assert_eq!(docs.len(), 1);
    docs.into_iter().next().unwrap_or(Yaml::Null)
}

fn strings(v: &Yaml) -> Vec<String> {
    v.as_sequence().map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

#[test]
fn the_spin_app_runs_exactly_the_http_components() {
    let app = spin_app();
    assert_eq!(app["apiVersion"].as_str(), Some("core.spinkube.dev/v1alpha1"));
    assert_eq!(app["kind"].as_str(), Some("SpinApp"));
    assert_eq!(app["spec"]["executor"].as_str(), Some("containerd-shim-spin"));
    assert!(app["spec"]["image"].as_str().is_some_and(|i| !i.is_empty()));
    assert!(app["spec"]["replicas"].as_u64().is_some_and(|r| r >= 2), "replicas keep webhooks up during rollouts");

    let m = manifest();
    let cron: BTreeSet<String> = m.cron_triggers.iter().map(|t| t.component.clone()).collect();
    let http: BTreeSet<String> = m.http_triggers.iter().map(|t| t.component.clone()).collect();
    let listed: BTreeSet<String> = strings(&app["spec"]["components"]).into_iter().collect();
    // containerd-shim-spin refuses an app that keeps a cron trigger.
    for c in &listed {
        assert!(!cron.contains(c), "{c} has a cron trigger: the shim would refuse the app; serve its HTTP route from a component without one");
        assert!(http.contains(c), "{c} is listed in spinapp.yaml but has no HTTP route in spin.toml");
    }
    let expected: BTreeSet<String> = http.difference(&cron).cloned().collect();
    assert_eq!(listed, expected, "spinapp.yaml `components` must be spin.toml's HTTP components without a cron trigger");
    // Every route (the contract's, and private ones for service chaining) is
    // served on SpinKube: none may belong to a component the shim cannot run.
    for t in &m.http_triggers {
        assert!(
            listed.contains(&t.component),
            "route {:?} is served by {:?}, which has a cron trigger: on SpinKube it would not be served \
             (give the route a component of its own with the same source and no cron trigger)",
            t.route,
            t.component
        );
    }
}

#[test]
fn the_spin_app_sets_only_declared_non_secret_variables_and_loads_the_runtime_config() {
    let app = spin_app();
    let m = manifest();
    let mut names = BTreeSet::new();
    for v in app["spec"]["variables"].as_sequence().cloned().unwrap_or_default() {
        let name = v["name"].as_str().unwrap_or_default().to_string();
        let decl = m.variables.get(&name).unwrap_or_else(|| panic!("spinapp.yaml sets {name:?}, which spin.toml does not declare"));
        // Secrets come from the runtime config's secrets provider, never in clear in a manifest.
        assert!(!decl.secret, "spinapp.yaml sets the secret {name:?}");
        assert!(names.insert(name.clone()), "{name:?} set twice");
    }
    for (name, decl) in &m.variables {
        if decl.required && !decl.secret {
            assert!(names.contains(name), "required variable {name:?} is not set in spinapp.yaml");
        }
    }
    assert_eq!(app["spec"]["runtimeConfig"]["loadFromSecret"].as_str(), Some("rentmsg-runtime-config"));
}

#[test]
fn the_production_runtime_config_puts_key_value_on_redis_sqlite_on_libsql_and_secrets_in_vault() {
    let file = workspace_root().join("infra/runtime-config.production.toml");
    let rc = RuntimeConfig::load(&file, Path::new("/state")).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&rc.key_value_stores["default"], KeyValueStoreConfig::Redis { url } if url.starts_with("rediss://")));
    assert!(matches!(&rc.sqlite_databases["default"], SqliteDatabaseConfig::LibSql { url, .. } if url.starts_with("https://")));
    assert!(rc.variables_providers.iter().any(|p| matches!(p, VariablesProvider::Vault { .. })));
    // Every store and database a component uses is configured there, not left to a pod-local file.
    let m = manifest();
    for c in &m.components {
        for label in &c.key_value_stores {
            assert!(matches!(rc.key_value_stores[label], KeyValueStoreConfig::Redis { .. }), "{}: key-value {label:?}", c.id);
        }
        for label in &c.sqlite_databases {
            assert!(matches!(rc.sqlite_databases[label], SqliteDatabaseConfig::LibSql { .. }), "{}: sqlite {label:?}", c.id);
        }
    }
}

#[test]
fn the_local_redis_runtime_config_parses() {
    let file = workspace_root().join("infra/runtime-config.redis.toml");
    let rc = RuntimeConfig::load(&file, Path::new("/state")).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&rc.key_value_stores["default"], KeyValueStoreConfig::Redis { .. }));
    assert!(matches!(&rc.sqlite_databases["default"], SqliteDatabaseConfig::Spin { .. }), "SQLite stays the local file");
}

/// `(component label, schedule, URL, header values)` of each CronJob.
fn cron_jobs() -> Vec<(String, String, String, Vec<String>)> {
    documents("cronjobs.yaml")
        .into_iter()
        .map(|job| {
            assert_eq!(job["apiVersion"].as_str(), Some("batch/v1"));
            assert_eq!(job["kind"].as_str(), Some("CronJob"));
            assert_eq!(job["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"));
            let container = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
            assert_eq!(strings(&container["command"]), vec!["curl"]);
            let env = &container["env"][0];
            assert_eq!(env["name"].as_str(), Some("STAFF_TOKEN"));
            assert_eq!(env["valueFrom"]["secretKeyRef"]["name"].as_str(), Some("rentmsg-cron"));
            assert_eq!(env["valueFrom"]["secretKeyRef"]["key"].as_str(), Some("staff_token"));
            let args = strings(&container["args"]);
            assert!(args.contains(&"--fail-with-body".to_string()), "a failed pass must fail the Job");
            let headers: Vec<String> =
                args.windows(2).filter(|w| w[0] == "--header").map(|w| w[1].clone()).collect();
            assert!(headers.contains(&"Authorization: Bearer $(STAFF_TOKEN)".to_string()), "{headers:?}");
            (
                job["metadata"]["labels"]["rentmsg/cron-component"].as_str().unwrap_or_default().to_string(),
                job["spec"]["schedule"].as_str().unwrap_or_default().to_string(),
                args.last().cloned().unwrap_or_default(),
                headers,
            )
        })
        .collect()
}

#[test]
fn cron_jobs_post_to_the_contract_routes_on_the_manifest_schedules() {
    let jobs = cron_jobs();
    let service = spin_app()["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let urls: BTreeSet<&str> = jobs.iter().map(|j| j.2.as_str()).collect();
    // The contract's routes for hosts without cron (shared/CONTRACT.md), on the SpinApp's Service.
    assert_eq!(
        urls,
        [format!("http://{service}/api/scan"), format!("http://{service}/api/send")].iter().map(String::as_str).collect()
    );
    // Every cron trigger of spin.toml has its CronJob, on the same schedule
    // less the seconds field (Kubernetes has none, so it must be 0).
    for t in manifest().cron_triggers {
        let job = jobs
            .iter()
            .find(|j| j.0 == t.component)
            .unwrap_or_else(|| panic!("no CronJob for the cron component {:?}", t.component));
        let (seconds, rest) = t.cron_expression.trim().split_once(' ').unwrap_or_default();
        assert_eq!(seconds, "0", "{}: Kubernetes cannot schedule below the minute", t.component);
        assert_eq!(job.1, rest.trim(), "{}: schedule differs from spin.toml", t.component);
        // The route the CronJob calls runs the cron component's code with
        // its configuration (its HTTP-only twin on SpinKube).
        let path = job.2.strip_prefix(&format!("http://{service}")).unwrap_or_default();
        let route = routed_component(path).unwrap_or_else(|| panic!("{path} is not routed in spin.toml"));
        assert_same_component(&t.component, &route);
    }
}

fn routed_component(path: &str) -> Option<String> {
    manifest()
        .http_triggers
        .into_iter()
        .find(|t| t.route == spin_host_config::manifest::HttpRoute::Path(path.to_string()))
        .map(|t| t.component)
}

/// Every staff API route, its path parameters filled in (a number, an
/// address, a template stage), is routed by spin.toml to the component
/// serving its group, and no other component; a path no group serves
/// reaches staff-console, which answers 404 with the reason.
#[test]
fn every_staff_api_route_reaches_the_component_serving_its_group() {
    let m = manifest();
    let router = spin_host_config::routes::Router::for_manifest(&m).expect("spin.toml routes");
    let routed = |path: &str| router.route(path).map(|r| r.component);
    let samples = ["T1", "%2B14155552671", "pat%40example.com", "reminder_1"];
    let mut wrong = Vec::new();
    for group in rentmsg::api::GROUPS {
        assert!(m.components.iter().any(|c| c.id == group.component), "spin.toml has no component {:?}", group.component);
        for route in group.routes {
            for sample in samples {
                let path: String = route
                    .path
                    .split('/')
                    .map(|seg| if seg.starts_with('{') { sample } else { seg })
                    .collect::<Vec<_>>()
                    .join("/");
                let got = routed(&path);
                if got.as_deref() != Some(group.component) {
                    wrong.push(format!("{} {path}: routed to {got:?}, served by {:?}", route.method, group.component));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    for path in ["/api/no-such-thing", "/api/import", "/api/tenants/T1/unknown", "/console"] {
        assert_eq!(routed(path).as_deref(), Some(rentmsg::api::CONSOLE.component), "{path}");
    }
}

/// `twin` has `original`'s source, stores, databases, outbound hosts,
/// variables and dependencies (it differs only in its triggers).
fn assert_same_component(original: &str, twin: &str) {
    let m = manifest();
    let find = |id: &str| m.components.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no component {id:?}")).clone();
    let (a, b) = (find(original), find(twin));
    assert_eq!(a.source, b.source, "{twin} must run {original}'s .wasm");
    assert_eq!(
        (&a.key_value_stores, &a.sqlite_databases, &a.allowed_outbound_hosts, &a.variables, &a.environment),
        (&b.key_value_stores, &b.sqlite_databases, &b.allowed_outbound_hosts, &b.variables, &b.environment),
        "{twin} must have {original}'s configuration"
    );
    assert_eq!(a.dependencies_inherit_configuration, b.dependencies_inherit_configuration, "{twin} vs {original}");
    assert_eq!(format!("{:?}", a.dependencies), format!("{:?}", b.dependencies), "{twin} must link {original}'s dependencies");
}

#[test]
fn every_route_of_a_cron_component_has_a_twin_without_the_cron_trigger() {
    let m = manifest();
    let cron: BTreeSet<String> = m.cron_triggers.iter().map(|t| t.component.clone()).collect();
    for c in &cron {
        let source = &m.components.iter().find(|x| &x.id == c).expect("cron component declared").source;
        // Routes running this component's code are served by a twin.
        for t in &m.http_triggers {
            let serving = m.components.iter().find(|x| x.id == t.component).expect("routed component declared");
            if &serving.source == source {
                assert!(!cron.contains(&serving.id), "{:?} is served by the cron component {}", t.route, serving.id);
                assert_same_component(c, &serving.id);
            }
        }
    }
}

#[test]
fn the_ingress_reaches_the_spin_app_service() {
    let docs = documents("ingress.yaml");
    let service = spin_app()["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let backend = &docs[0]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"].as_str(), Some(service.as_str()));
    assert_eq!(backend["port"]["number"].as_u64(), Some(80));
    // One prefix forwards every public route (webhooks, tenant pages, staff API).
    let paths = &docs[0]["spec"]["rules"][0]["http"]["paths"];
    assert_eq!(paths.as_sequence().map(Vec::len), Some(1));
    assert_eq!(paths[0]["path"].as_str(), Some("/"));
    assert_eq!(paths[0]["pathType"].as_str(), Some("Prefix"));
}
