//! `spin-host build`: run each component's `[component.<id>.build] command`.

use std::path::Path;

use anyhow::{bail, Context as _};
use spin_host_config::manifest::AppManifest;

/// Run every build command in manifest order; stop at the first failure.
pub fn build(manifest_path: &Path, only: &[String]) -> anyhow::Result<()> {
    let manifest = AppManifest::load(manifest_path)?;
    for c in &manifest.components {
        if !only.is_empty() && !only.contains(&c.id) {
            continue;
        }
        let Some(build) = &c.build else {
            eprintln!("{}: no build command, skipping", c.id);
            continue;
        };
        eprintln!("Building component {} with `{}`", c.id, build.command);
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(&build.command)
            .current_dir(&build.workdir)
            .status()
            .with_context(|| format!("component {:?}: cannot run its build command", c.id))?;
        if !status.success() {
            bail!("component {:?}: build command `{}` failed ({status})", c.id, build.command);
        }
    }
    eprintln!("Finished building all Spin components");
    Ok(())
}
