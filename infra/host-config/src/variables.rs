//! Application variables: declared in `[variables]`, given values by
//! providers, exposed to each component through its own `variables` table of
//! `{{ name }}` templates.
//!
//! Where a value comes from, highest priority first: `--variable` on the
//! command line, the environment (`SPIN_VARIABLE_<NAME>`), a `.env` file next
//! to the manifest, providers from the runtime config in file order, then the
//! manifest default. Secret values are never formatted by this module.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::manifest::{is_valid_variable_name, ComponentDecl, VariableDecl};
use crate::runtime_config::VariablesProvider;

/// Why a variable has no value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VariableError {
    /// Not a valid variable name.
    #[error("invalid variable name {0:?}")]
    InvalidName(String),
    /// Not declared, or declared without any value.
    #[error("undefined variable {0:?}")]
    Undefined(String),
    /// A provider failed.
    #[error("variable provider error: {0}")]
    Provider(String),
    /// A template is malformed.
    #[error("invalid template: {0}")]
    Template(String),
}

/// Names referenced by `{{ name }}` in `template`.
pub fn template_references(template: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { return Err(format!("unclosed `{{{{` in {template:?}")) };
        let name = after[..end].trim();
        if !is_valid_variable_name(name) {
            return Err(format!("{name:?} is not a valid variable name"));
        }
        names.push(name.to_string());
        rest = &after[end + 2..];
    }
    Ok(names)
}

/// Parse a dotenv file: `KEY=value` lines, `#` comments, optional quotes and `export`.
pub fn parse_dotenv(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        let value = if value.len() >= 2
            && ((value.starts_with('"') && value.ends_with('"')) || (value.starts_with('\'') && value.ends_with('\'')))
        {
            &value[1..value.len() - 1]
        } else {
            value
        };
        out.insert(key.trim().to_string(), value.to_string());
    }
    out
}

/// Resolved application variables.
pub struct VariableResolver {
    /// Declared variables.
    decls: BTreeMap<String, VariableDecl>,
    /// Resolved values by name (absent: no value anywhere).
    values: BTreeMap<String, String>,
}

impl fmt::Debug for VariableResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: values may be secrets.
        f.debug_struct("VariableResolver").field("defined", &self.values.keys().collect::<Vec<_>>()).finish()
    }
}

fn env_name(prefix: &str, name: &str) -> String {
    format!("{prefix}_{}", name.to_ascii_uppercase())
}

impl VariableResolver {
    /// Resolve every declared variable from the sources, in priority order.
    pub fn new(
        decls: &BTreeMap<String, VariableDecl>,
        command_line: &[(String, String)],
        env: &dyn Fn(&str) -> Option<String>,
        dotenv: BTreeMap<String, String>,
        providers: &[VariablesProvider],
    ) -> anyhow::Result<VariableResolver> {
        for (name, _) in command_line {
            if !decls.contains_key(name) {
                anyhow::bail!("--variable {name}: the manifest declares no variable {name:?}");
            }
        }
        let mut provider_maps: Vec<BTreeMap<String, String>> = Vec::new();
        for p in providers {
            match p {
                VariablesProvider::Env { prefix, dotenv_path } => {
                    let file = match dotenv_path {
                        Some(path) => parse_dotenv(&std::fs::read_to_string(path).map_err(|e| {
                            anyhow::anyhow!("env provider: cannot read {}: {e}", path.display())
                        })?),
                        None => BTreeMap::new(),
                    };
                    let mut m = BTreeMap::new();
                    for name in decls.keys() {
                        let key = env_name(prefix, name);
                        if let Some(v) = env(&key).or_else(|| file.get(&key).cloned()) {
                            m.insert(name.clone(), v);
                        }
                    }
                    provider_maps.push(m);
                }
                VariablesProvider::Static { values } => provider_maps.push(values.clone()),
                VariablesProvider::Vault { .. } => anyhow::bail!(
                    "the vault variables provider is not available in this local host; use it on Spin/SpinKube, or set SPIN_VARIABLE_* locally"
                ),
                VariablesProvider::AzureKeyVault { .. } => anyhow::bail!(
                    "the azure_key_vault variables provider is not available in this local host; set SPIN_VARIABLE_* locally"
                ),
            }
        }
        let mut values = BTreeMap::new();
        for (name, decl) in decls {
            let key = env_name("SPIN_VARIABLE", name);
            let value = command_line
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .or_else(|| env(&key))
                .or_else(|| dotenv.get(&key).cloned())
                .or_else(|| provider_maps.iter().find_map(|m| m.get(name).cloned()))
                .or_else(|| decl.default.clone());
            if let Some(v) = value {
                values.insert(name.clone(), v);
            }
        }
        Ok(VariableResolver { decls: decls.clone(), values })
    }

    /// Fail when a required variable has no value (names only, never values).
    pub fn validate(&self) -> anyhow::Result<()> {
        let missing: BTreeSet<&String> =
            self.decls.iter().filter(|(n, d)| d.required && !self.values.contains_key(*n)).map(|(n, _)| n).collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing
                .iter()
                .map(|n| format!("{n} (set SPIN_VARIABLE_{} or --variable {n}=...)", n.to_ascii_uppercase()))
                .collect();
            anyhow::bail!("required variables have no value: {}", names.join(", "));
        }
        Ok(())
    }

    /// Value of application variable `name`.
    pub fn get(&self, name: &str) -> Result<String, VariableError> {
        self.values.get(name).cloned().ok_or_else(|| VariableError::Undefined(name.to_string()))
    }

    /// Whether `name` is declared secret.
    pub fn is_secret(&self, name: &str) -> bool {
        self.decls.get(name).is_some_and(|d| d.secret)
    }

    /// Expand `{{ name }}` templates over application variables.
    pub fn expand(&self, template: &str) -> Result<String, VariableError> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| VariableError::Template("unclosed `{{`".into()))?;
            let name = after[..end].trim();
            if !is_valid_variable_name(name) {
                return Err(VariableError::InvalidName(name.to_string()));
            }
            out.push_str(&self.get(name)?);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Value of component variable `name` as `component` sees it.
    pub fn component_variable(&self, component: &ComponentDecl, name: &str) -> Result<String, VariableError> {
        if !is_valid_variable_name(name) {
            return Err(VariableError::InvalidName(name.to_string()));
        }
        let template = component.variables.get(name).ok_or_else(|| VariableError::Undefined(name.to_string()))?;
        self.expand(template)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls() -> BTreeMap<String, VariableDecl> {
        let mut d = BTreeMap::new();
        d.insert("token".into(), VariableDecl { default: None, required: true, secret: true });
        d.insert("base".into(), VariableDecl { default: Some("https://x".into()), required: false, secret: false });
        d
    }

    #[test]
    fn priority_is_cli_env_dotenv_provider_default() {
        let env = |k: &str| (k == "SPIN_VARIABLE_TOKEN").then(|| "from-env".to_string());
        let mut dotenv = BTreeMap::new();
        dotenv.insert("SPIN_VARIABLE_BASE".to_string(), "from-dotenv".to_string());
        let r = VariableResolver::new(&decls(), &[], &env, dotenv.clone(), &[]).unwrap();
        assert_eq!(r.get("token").unwrap(), "from-env");
        assert_eq!(r.get("base").unwrap(), "from-dotenv");
        let cli = vec![("token".to_string(), "from-cli".to_string())];
        let r = VariableResolver::new(&decls(), &cli, &env, dotenv, &[]).unwrap();
        assert_eq!(r.get("token").unwrap(), "from-cli");
        let none = |_: &str| None;
        let r = VariableResolver::new(&decls(), &[], &none, BTreeMap::new(), &[]).unwrap();
        assert_eq!(r.get("base").unwrap(), "https://x");
        let err = r.validate().unwrap_err().to_string();
        assert!(err.contains("token"), "{err}");
        assert!(format!("{r:?}").contains("base"));
    }

    #[test]
    fn expands_component_templates() {
        let env = |k: &str| (k == "SPIN_VARIABLE_TOKEN").then(|| "s3cret".to_string());
        let r = VariableResolver::new(&decls(), &[], &env, BTreeMap::new(), &[]).unwrap();
        assert_eq!(r.expand("{{ base }}/api?t={{token}}").unwrap(), "https://x/api?t=s3cret");
        assert!(!format!("{r:?}").contains("s3cret"));
        assert_eq!(r.expand("{{ nope }}"), Err(VariableError::Undefined("nope".into())));
        assert!(template_references("{{ a }} and {{ b_2 }}").unwrap() == vec!["a", "b_2"]);
        assert!(template_references("{{ A }}").is_err());
    }

    #[test]
    fn unknown_cli_variable_is_an_error() {
        let cli = vec![("nope".to_string(), "1".to_string())];
        assert!(VariableResolver::new(&decls(), &cli, &|_| None, BTreeMap::new(), &[]).is_err());
    }

    #[test]
    fn dotenv_parsing() {
        let m = parse_dotenv("# c\nA=1\nexport B=\"two words\"\n\nC='x=y'\n");
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "two words");
        assert_eq!(m["C"], "x=y");
    }
}
