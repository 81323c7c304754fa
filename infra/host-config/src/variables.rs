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

/// An `allowed_outbound_hosts` entry that is not a valid rule once its
/// variables are filled in. The message names the component, the entry as
/// written and each variable in it (with its value unless it is secret).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("component {component:?}: allowed_outbound_hosts entry {template:?}{}: {reason}", describe_variables(variables))]
pub struct OutboundHostError {
    /// Component id.
    pub component: String,
    /// The entry as the manifest writes it.
    pub template: String,
    /// Variables the entry uses, each described as `name = "value"` or
    /// `name (secret)`.
    pub variables: Vec<String>,
    /// What is wrong with the expanded entry, and what to give instead.
    pub reason: String,
}

fn describe_variables(variables: &[String]) -> String {
    if variables.is_empty() {
        String::new()
    } else {
        format!(" (variable {})", variables.join(", variable "))
    }
}

/// Check a component's `allowed_outbound_hosts` entries once their
/// `{{ variable }}` templates are expanded with `value`: each must be a rule
/// Spin accepts (`scheme://host[:port]`, no path, not empty). Entries without
/// a template are left out: the manifest parser has already checked them,
/// with their line and column. Values of variables `is_secret` names are
/// never put in the error.
pub fn check_outbound_templates(
    component: &str,
    templates: &[String],
    value: &dyn Fn(&str) -> Option<String>,
    is_secret: &dyn Fn(&str) -> bool,
) -> Result<(), OutboundHostError> {
    for template in templates.iter().filter(|t| t.contains("{{")) {
        let error = |variables: Vec<String>, reason: String| OutboundHostError {
            component: component.to_string(),
            template: template.clone(),
            variables,
            reason,
        };
        let names = template_references(template).map_err(|e| error(Vec::new(), format!("invalid template: {e}")))?;
        let mut described = Vec::new();
        let mut expanded = template.clone();
        let mut any_secret = false;
        for name in &names {
            let setting = format!("SPIN_VARIABLE_{} or --variable {name}=...", name.to_ascii_uppercase());
            let Some(v) = value(name) else {
                return Err(error(vec![name.clone()], format!("the variable has no value (set {setting})")));
            };
            if is_secret(name) {
                any_secret = true;
                described.push(format!("{name} (secret)"));
            } else {
                described.push(format!("{name} = {v:?}"));
            }
            expanded = expand_one(&expanded, name, &v);
        }
        if let Err(reason) = crate::outbound::check_rule(&expanded) {
            // What the operator most likely meant: the same value cut after
            // its authority (`https://api.twilio.com/2010-04-01` → `https://api.twilio.com`).
            let hint = match authority_of(&expanded) {
                Some(a) if !any_secret && a != expanded.trim() && crate::outbound::check_rule(a).is_ok() => {
                    format!("; use {a:?}")
                }
                _ => String::new(),
            };
            let name_list = names.join(", ");
            let reason = if any_secret {
                // The parser's reason may quote the value: keep it out.
                format!("not a valid rule once {name_list} is filled in: give scheme://host[:port], with no path")
            } else {
                format!("{reason}{hint}")
            };
            return Err(error(described, reason));
        }
    }
    Ok(())
}

/// `template` with every `{{ name }}` (any spacing) replaced by `value`.
fn expand_one(template: &str, name: &str, value: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) if after[..end].trim() == name => {
                out.push_str(&rest[..start]);
                out.push_str(value);
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `scheme://authority` of a URL-like text, without what follows.
fn authority_of(text: &str) -> Option<&str> {
    let text = text.trim();
    let start = text.find("://")? + 3;
    let end = text[start..].find(['/', '?', '#']).map_or(text.len(), |i| start + i);
    Some(&text[..end])
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

    /// Check every component's `allowed_outbound_hosts` with the resolved
    /// values ([`check_outbound_templates`]), so that a bad value stops the
    /// app at load rather than at its first outbound request.
    pub fn check_allowed_outbound_hosts(&self, components: &[ComponentDecl]) -> Result<(), OutboundHostError> {
        for c in components {
            check_outbound_templates(
                &c.id,
                &c.allowed_outbound_hosts,
                &|name| self.values.get(name).cloned(),
                &|name| self.is_secret(name),
            )?;
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

    fn check(template: &str, value: &str) -> Result<(), OutboundHostError> {
        let value = value.to_string();
        check_outbound_templates("sender", &[template.to_string()], &|n| (n == "api_base").then(|| value.clone()), &|_| false)
    }

    #[test]
    fn outbound_variable_with_a_path_is_refused_naming_component_template_and_variable() {
        let e = check("{{ api_base }}", "https://api.twilio.com/2010-04-01").unwrap_err();
        assert_eq!(e.component, "sender");
        assert_eq!(e.template, "{{ api_base }}");
        let text = e.to_string();
        for part in ["\"sender\"", "{{ api_base }}", "variable api_base = \"https://api.twilio.com/2010-04-01\"", "must not include a path", "\"https://api.twilio.com\""] {
            assert!(text.contains(part), "{part} not in: {text}");
        }
        assert!(check("{{ api_base }}", "https://api.example.com:8443/v1").unwrap_err().to_string().contains("must not include a path"));
    }

    #[test]
    fn empty_outbound_variable_is_refused() {
        for empty in ["", "  "] {
            let text = check("{{ api_base }}", empty).unwrap_err().to_string();
            assert!(text.contains("is empty") && text.contains("api_base"), "{text}");
        }
        let none = check_outbound_templates("sender", &["{{ api_base }}".to_string()], &|_| None, &|_| false);
        assert!(none.unwrap_err().to_string().contains("SPIN_VARIABLE_API_BASE"));
    }

    #[test]
    fn valid_outbound_variables_pass() {
        check("{{ api_base }}", "https://api.twilio.com").unwrap();
        check("{{api_base}}", "https://api.twilio.com/").unwrap();
        check("{{ api_base }}", "http://127.0.0.1:8025").unwrap();
        check("{{ api_base }}", "https://[::1]:8443").unwrap();
        check("{{ api_base }}:8443", "https://api.example.com").unwrap();
        check("{{ api_base }}", "https://*.twilio.com").unwrap();
        check("{{ api_base }}", "*://*.example.com:*").unwrap();
        check("{{ api_base }}", "https://*.example.com:8000..8010").unwrap();
    }

    #[test]
    fn malformed_outbound_variables_are_refused() {
        for bad in ["api.twilio.com", "https://api.example.com:99999", "https://ex*ample.com", "ftp://files.example.com", "https://user@api.example.com"] {
            assert!(check("{{ api_base }}", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_outbound_values_stay_out_of_the_error() {
        let e = check_outbound_templates(
            "sender",
            &["{{ api_base }}".to_string()],
            &|_| Some("https://hunter2.example.com/path".to_string()),
            &|_| true,
        )
        .unwrap_err()
        .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("api_base (secret)"), "{e}");
    }

    #[test]
    fn resolver_checks_every_component() {
        let mut d = BTreeMap::new();
        d.insert("sms_api_base".to_string(), VariableDecl { default: Some("https://api.twilio.com".into()), required: false, secret: false });
        let component = ComponentDecl {
            id: "outbound-send".into(),
            source: "x.wasm".into(),
            files: Vec::new(),
            exclude_files: Vec::new(),
            allowed_outbound_hosts: vec!["{{ sms_api_base }}".into(), "https://api.postmarkapp.com".into()],
            key_value_stores: Vec::new(),
            sqlite_databases: Vec::new(),
            variables: BTreeMap::new(),
            environment: BTreeMap::new(),
            dependencies: Vec::new(),
            dependencies_inherit_configuration: false,
            build: None,
        };
        let components = [component];
        let r = VariableResolver::new(&d, &[], &|_| None, BTreeMap::new(), &[]).unwrap();
        r.check_allowed_outbound_hosts(&components).unwrap();
        let env = |k: &str| (k == "SPIN_VARIABLE_SMS_API_BASE").then(|| "https://api.twilio.com/2010-04-01".to_string());
        let r = VariableResolver::new(&d, &[], &env, BTreeMap::new(), &[]).unwrap();
        let e = r.check_allowed_outbound_hosts(&components).unwrap_err().to_string();
        assert!(e.contains("\"outbound-send\"") && e.contains("{{ sms_api_base }}") && e.contains("variable sms_api_base"), "{e}");
    }

    #[test]
    fn dotenv_parsing() {
        let m = parse_dotenv("# c\nA=1\nexport B=\"two words\"\n\nC='x=y'\n");
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "two words");
        assert_eq!(m["C"], "x=y");
    }
}
