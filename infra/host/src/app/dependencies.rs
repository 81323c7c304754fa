//! Component dependencies (Spin 3): an interface a component imports is
//! satisfied by another component's export.
//!
//! Spin composes the two at load. This host resolves and type-checks the
//! pairing at load too, then links the importer's import to the dependency's
//! export, instantiating both in one store per request. Doing the link in the
//! host rather than by rewriting the wasm keeps Spin's configuration rule
//! exact: while a dependency runs, it has its importer's stores, databases,
//! hosts and variables only with `dependencies_inherit_configuration = true`,
//! and none otherwise.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use spin_host_config::manifest::{AppManifest, ComponentDecl, DependencyTarget};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker};
use wasmtime::Engine;

use super::grants::Grants;
use super::state::HostState;

/// A dependency ready to instantiate next to its importer.
pub struct LoadedDependency {
    /// The manifest key (`ns:pkg/iface[@version]` or `ns:pkg[@version]`).
    pub key: String,
    /// Pre-instantiated dependency.
    pub pre: InstancePre<HostState>,
    /// What the dependency may use while it runs.
    pub grants: Arc<Grants>,
}

/// `ns:pkg/iface@1.2.3` split into its parts.
#[derive(Debug, PartialEq)]
struct InterfaceName<'a> {
    /// `ns:pkg`.
    package: &'a str,
    /// `iface`, when the name has one.
    interface: Option<&'a str>,
    /// `1.2.3`, when the name has one.
    version: Option<&'a str>,
}

fn split_name(name: &str) -> InterfaceName<'_> {
    let (path, version) = match name.split_once('@') {
        Some((p, v)) => (p, Some(v)),
        None => (name, None),
    };
    let (package, interface) = match path.split_once('/') {
        Some((p, i)) => (p, Some(i)),
        None => (path, None),
    };
    InterfaceName { package, interface, version }
}

/// Whether the manifest key `key` names the import `import`.
fn key_matches(key: &str, import: &str) -> bool {
    let k = split_name(key);
    let i = split_name(import);
    if k.package != i.package || i.interface.is_none() {
        return false;
    }
    if k.interface.is_some() && k.interface != i.interface {
        return false;
    }
    k.version.is_none() || k.version == i.version
}

/// Find the export of `provider` that satisfies the import `import`:
/// the same name, or the same interface at another version.
fn find_export(engine: &Engine, provider: &Component, wanted: &str) -> Option<String> {
    let ty = provider.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    if exports.iter().any(|e| e == wanted) {
        return Some(wanted.to_string());
    }
    let w = split_name(wanted);
    exports.into_iter().find(|e| {
        let n = split_name(e);
        n.package == w.package && n.interface == w.interface
    })
}

/// Resolve and link every dependency of `decl` into `linker`.
#[allow(clippy::too_many_arguments)]
pub fn link(
    engine: &Engine,
    base_linker: &Linker<HostState>,
    linker: &mut Linker<HostState>,
    manifest: &AppManifest,
    decl: &ComponentDecl,
    component: &Component,
    compiled: &HashMap<PathBuf, Component>,
    importer_grants: &Arc<Grants>,
) -> anyhow::Result<Vec<LoadedDependency>> {
    let imports: Vec<(String, ComponentItem)> = component
        .component_type()
        .imports(engine)
        .map(|(n, item)| (n.to_string(), item.ty))
        .collect();
    let mut loaded = Vec::new();
    for dep in &decl.dependencies {
        let provider_source = match &dep.target {
            DependencyTarget::Path(p) => p.clone(),
            DependencyTarget::AppComponent(id) => manifest
                .component(id)
                .map(|c| c.source.clone())
                .with_context(|| format!("dependency {:?}: no component named {id:?}", dep.import))?,
        };
        let provider = compiled
            .get(&provider_source)
            .with_context(|| format!("dependency {:?}: source not compiled", dep.import))?;
        let matched: Vec<&(String, ComponentItem)> =
            imports.iter().filter(|(name, _)| key_matches(&dep.import, name)).collect();
        if matched.is_empty() {
            bail!("dependency {:?} matches nothing the component imports", dep.import);
        }
        if dep.export.is_some() && matched.len() > 1 {
            bail!("dependency {:?}: `export` can only rename a single interface", dep.import);
        }
        let grants =
            Arc::new(Grants::for_dependency(importer_grants, &dep.import, decl.dependencies_inherit_configuration));
        let index = loaded.len();
        for (import_name, item) in matched {
            let ComponentItem::ComponentInstance(instance_ty) = item else {
                bail!("import {import_name:?} is not an interface");
            };
            let export_name = match &dep.export {
                Some(e) => e.clone(),
                None => find_export(engine, provider, import_name).with_context(|| {
                    format!("dependency {:?} does not export {import_name:?}", dep.import)
                })?,
            };
            let (_, iface_index) = provider
                .get_export(None, &export_name)
                .with_context(|| format!("dependency {:?} does not export {export_name:?}", dep.import))?;
            let mut target = linker.instance(import_name)?;
            for (func_name, func_item) in instance_ty.exports(engine) {
                match func_item.ty {
                    ComponentItem::ComponentFunc(_) => {}
                    ComponentItem::Type(_) => continue,
                    ComponentItem::Resource(_) => bail!(
                        "import {import_name:?} uses resources, which dependencies linked by this host cannot pass"
                    ),
                    _ => bail!("import {import_name:?} item {func_name:?} is not a function"),
                }
                let (_, func_index) = provider
                    .get_export(Some(&iface_index), func_name)
                    .with_context(|| format!("dependency export {export_name:?} has no function {func_name:?}"))?;
                forward(&mut target, func_name, index, func_index, grants.clone())?;
            }
        }
        let pre = base_linker.instantiate_pre(provider).map_err(|e| {
            anyhow::anyhow!("dependency {:?} cannot be linked: {e:#}", dep.import)
        })?;
        loaded.push(LoadedDependency { key: dep.import.clone(), pre, grants });
    }
    Ok(loaded)
}

/// Define `name` in the importer's linker as a call into dependency `index`.
fn forward(
    target: &mut wasmtime::component::LinkerInstance<'_, HostState>,
    name: &str,
    index: usize,
    func_index: ComponentExportIndex,
    grants: Arc<Grants>,
) -> anyhow::Result<()> {
    target.func_new_async(name, move |mut store, _ty, params, results| {
        let grants = grants.clone();
        Box::new(async move {
            let instance = store
                .data()
                .dependency_instances
                .get(index)
                .copied()
                .flatten()
                .ok_or_else(|| wasmtime::format_err!("dependency was not instantiated"))?;
            let func = instance
                .get_func(&mut store, func_index)
                .ok_or_else(|| wasmtime::format_err!("dependency function missing"))?;
            store.data_mut().push_grants(grants);
            let outcome = func.call_async(&mut store, params, results).await;
            store.data_mut().pop_grants();
            outcome
        })
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_interfaces_packages_and_versions() {
        assert!(key_matches("a:b/c@1.0.0", "a:b/c@1.0.0"));
        assert!(key_matches("a:b/c", "a:b/c@1.0.0"));
        assert!(key_matches("a:b", "a:b/c@1.0.0"));
        assert!(key_matches("a:b@1.0.0", "a:b/d@1.0.0"));
        assert!(!key_matches("a:b/c@2.0.0", "a:b/c@1.0.0"));
        assert!(!key_matches("a:b/c", "a:b/d"));
        assert!(!key_matches("a:x/c", "a:b/c"));
        assert!(!key_matches("a:b", "a:b"));
    }
}
