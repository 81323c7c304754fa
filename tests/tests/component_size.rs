//! What every Spin host compiles and instantiates: each `.wasm` file
//! `spin.toml` names (components and their dependencies), as built by
//! `cargo xtask build-wasm`, stays within 2 MB. Size is deterministic, so
//! a change that links a large dependency into a component (all of a time
//! zone database's tables, a phone-metadata library, a regex engine) fails
//! here rather than in a deploy.

use e2e::workspace_root;
use spin_host_config::manifest::{AppManifest, DependencyTarget};
use std::collections::BTreeMap;
use std::path::PathBuf;

const LIMIT: u64 = 2_000_000;

fn wasm_files() -> BTreeMap<String, PathBuf> {
    let m = AppManifest::load(&workspace_root().join("spin.toml")).unwrap_or_else(|e| panic!("spin.toml: {e}"));
    let mut files = BTreeMap::new();
    for c in &m.components {
        files.insert(c.source.clone(), ());
        for d in &c.dependencies {
            if let DependencyTarget::Path(p) = &d.target {
                files.insert(p.clone(), ());
            }
        }
    }
    files.into_keys().map(|p| (p.file_name().unwrap_or_default().to_string_lossy().into_owned(), p)).collect()
}

#[test]
fn every_component_is_at_most_2_mb() {
    let files = wasm_files();
    assert!(files.len() >= 9, "spin.toml names fewer .wasm files than the app has components: {files:?}");
    let mut over = Vec::new();
    for (name, path) in &files {
        let size = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask build-wasm`)", path.display())).len();
        if size > LIMIT {
            over.push(format!("{name}: {size} bytes > {LIMIT}"));
        }
    }
    assert!(over.is_empty(), "{over:?}");
}
