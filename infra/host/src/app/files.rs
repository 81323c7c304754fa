//! A component's `files`: staged once at load into a directory the guest
//! sees, read-only, as `/` (the way Spin mounts them).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use spin_host_config::manifest::ComponentDecl;

/// Copy the component's files into `<state_dir>/files/<id>` and return that
/// directory, or `None` when the component has no files.
pub fn stage(decl: &ComponentDecl, state_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    if decl.files.is_empty() {
        return Ok(None);
    }
    let root = state_dir.join("files").join(&decl.id);
    if root.exists() {
        std::fs::remove_dir_all(&root).with_context(|| format!("cannot clear {}", root.display()))?;
    }
    std::fs::create_dir_all(&root)?;
    let excluded = |p: &Path| {
        decl.exclude_files.iter().any(|pattern| {
            glob::Pattern::new(pattern).map(|pat| pat.matches_path(p)).unwrap_or(false)
        })
    };
    for mount in &decl.files {
        let dest = root.join(mount.destination.trim_start_matches('/'));
        if mount.is_glob {
            let pattern = mount.source.to_string_lossy().into_owned();
            let base = glob_base(&mount.source);
            for entry in glob::glob(&pattern).with_context(|| format!("bad files pattern {pattern:?}"))? {
                let path = entry?;
                if path.is_file() {
                    let rel = path.strip_prefix(&base).unwrap_or(&path);
                    if excluded(rel) {
                        continue;
                    }
                    copy_file(&path, &dest.join(rel))?;
                }
            }
        } else if mount.source.is_dir() {
            copy_dir(&mount.source, &dest, &mount.source, &excluded)?;
        } else {
            copy_file(&mount.source, &dest)
                .with_context(|| format!("files entry {}", mount.source.display()))?;
        }
    }
    Ok(Some(root))
}

/// The directory part of a glob before its first wildcard.
fn glob_base(pattern: &Path) -> PathBuf {
    let mut base = PathBuf::new();
    for part in pattern.components() {
        let s = part.as_os_str().to_string_lossy();
        if s.contains(['*', '?', '[']) {
            break;
        }
        base.push(part);
    }
    base
}

fn copy_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path, base: &Path, excluded: &dyn Fn(&Path) -> bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let rel = path.strip_prefix(base).unwrap_or(&path);
        if excluded(rel) {
            continue;
        }
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target, base, excluded)?;
        } else {
            copy_file(&path, &target)?;
        }
    }
    Ok(())
}
