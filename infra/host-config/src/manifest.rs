//! The Spin application manifest, `spin.toml` with `spin_manifest_version = 2`.
//!
//! Parsing is strict the way Spin's is: unknown fields, unknown trigger types,
//! components referenced but not defined and malformed ids are errors, each
//! reported with the file, line and column where they occur.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// A problem in a manifest, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestError {
    /// The manifest file.
    pub file: PathBuf,
    /// 1-based line of the offending item (0 when not known).
    pub line: usize,
    /// 1-based column of the offending item (0 when not known).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)
        }
    }
}

impl std::error::Error for ManifestError {}

/// A parsed, validated application manifest. Paths are absolute.
#[derive(Debug, Clone)]
pub struct AppManifest {
    /// Directory holding the manifest; relative paths resolve against it.
    pub dir: PathBuf,
    /// `application.name`.
    pub name: String,
    /// `application.version` (empty when not given).
    pub version: String,
    /// `application.description` (empty when not given).
    pub description: String,
    /// Application variables by name.
    pub variables: BTreeMap<String, VariableDecl>,
    /// Base path all HTTP routes are under (`/`; Spin 3 removed other bases).
    pub http_base: String,
    /// `[[trigger.http]]` entries in manifest order.
    pub http_triggers: Vec<HttpTrigger>,
    /// `[[trigger.cron]]` entries in manifest order.
    pub cron_triggers: Vec<CronTrigger>,
    /// Components in manifest order (inline trigger components included).
    pub components: Vec<ComponentDecl>,
}

/// One application variable.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableDecl {
    /// Value used when no provider has one.
    pub default: Option<String>,
    /// The app does not start without a value.
    pub required: bool,
    /// The value is never printed or logged.
    pub secret: bool,
}

/// Where an HTTP trigger listens.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpRoute {
    /// A public route pattern such as `/api/...` or `/pay/:token`.
    Path(String),
    /// `route = { private = true }`: reachable only from inside the app.
    Private,
}

/// One `[[trigger.http]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpTrigger {
    /// The route.
    pub route: HttpRoute,
    /// Component id handling it.
    pub component: String,
}

/// One `[[trigger.cron]]` (the Spin cron trigger plugin).
#[derive(Debug, Clone, PartialEq)]
pub struct CronTrigger {
    /// Component id to fire.
    pub component: String,
    /// Six- (or seven-) field cron expression, seconds first.
    pub cron_expression: String,
}

/// One file mount of a component.
#[derive(Debug, Clone, PartialEq)]
pub struct FileMount {
    /// Absolute host path or glob.
    pub source: PathBuf,
    /// Where the guest sees it (absolute guest path).
    pub destination: String,
    /// `source` is a glob pattern (string form of `files`).
    pub is_glob: bool,
}

/// How a component's wasm is built.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildDecl {
    /// Shell command(s), joined with `&&` when the manifest gives a list.
    pub command: String,
    /// Directory the command runs in.
    pub workdir: PathBuf,
    /// Watch globs (kept for `spin watch` compatibility; unused here).
    pub watch: Vec<String>,
}

/// What satisfies one dependency.
#[derive(Debug, Clone, PartialEq)]
pub enum DependencyTarget {
    /// A wasm file on disk.
    Path(PathBuf),
    /// Another component of this app (Spin 3.5+: `{ component = "id" }`).
    AppComponent(String),
}

/// One `[component.<id>.dependencies]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct DependencyDecl {
    /// The key: `ns:pkg/iface[@version]` or `ns:pkg[@version]`.
    pub import: String,
    /// The component providing it.
    pub target: DependencyTarget,
    /// Name of the provider's export when it differs from the import.
    pub export: Option<String>,
}

/// One `[component.<id>]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentDecl {
    /// Component id.
    pub id: String,
    /// Absolute path of the wasm file.
    pub source: PathBuf,
    /// Files mounted read-only into the guest.
    pub files: Vec<FileMount>,
    /// Globs (relative to the mount source) left out of `files`.
    pub exclude_files: Vec<String>,
    /// Outbound HTTP destinations allowed (may hold `{{ variable }}` templates).
    pub allowed_outbound_hosts: Vec<String>,
    /// Key-value store labels the component may open.
    pub key_value_stores: Vec<String>,
    /// SQLite database labels the component may open.
    pub sqlite_databases: Vec<String>,
    /// Component variables: name to template over application variables.
    pub variables: BTreeMap<String, String>,
    /// Environment variables of the guest.
    pub environment: BTreeMap<String, String>,
    /// Imports satisfied by other components.
    pub dependencies: Vec<DependencyDecl>,
    /// Dependencies get this component's stores, hosts and variables.
    pub dependencies_inherit_configuration: bool,
    /// Build command, if any.
    pub build: Option<BuildDecl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: Spanned<toml::Value>,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, Spanned<RawVariable>>,
    #[serde(default)]
    trigger: BTreeMap<String, Spanned<Vec<Spanned<toml::Table>>>>,
    #[serde(default)]
    component: BTreeMap<String, Spanned<RawComponent>>,
}

/// The inline components of the triggers, parsed from the manifest text a
/// second time so their fields keep their positions (a `toml::Table` has none).
#[derive(Deserialize)]
struct RawInlineComponents {
    /// Trigger entries by trigger type, in manifest order.
    #[serde(default)]
    trigger: BTreeMap<String, Vec<RawInlineTrigger>>,
}

/// One trigger entry, reduced to its component.
#[derive(Deserialize)]
struct RawInlineTrigger {
    /// The entry's `component`.
    #[serde(default)]
    component: Option<InlineComponent>,
}

/// A trigger's `component`: an id, or an inline component table.
enum InlineComponent {
    /// A component id (resolved from the first parse).
    Id,
    /// An inline component, parsed with positions.
    Inline(Box<RawComponent>),
}

impl<'de> Deserialize<'de> for InlineComponent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = InlineComponent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a component id or an inline component table")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<InlineComponent, E> {
                Ok(InlineComponent::Id)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<InlineComponent, A::Error> {
                RawComponent::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|c| InlineComponent::Inline(Box::new(c)))
            }
        }
        d.deserialize_any(Visit)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
    name: Spanned<String>,
    #[serde(default)]
    version: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    #[allow(dead_code)]
    authors: Vec<String>,
    #[serde(default)]
    #[allow(dead_code)]
    targets: Vec<String>,
    #[serde(default)]
    trigger: BTreeMap<String, toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    default: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    secret: bool,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    source: Spanned<toml::Value>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    files: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    exclude_files: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<Spanned<String>>,
    #[serde(default)]
    allowed_http_hosts: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    ai_models: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    dependencies_inherit_configuration: bool,
    #[serde(default)]
    dependencies: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    build: Option<Spanned<RawBuild>>,
    #[serde(default)]
    #[allow(dead_code)]
    tool: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    command: toml::Value,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    watch: Vec<String>,
}

/// Builds errors located in one manifest text.
struct Locator<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> ManifestError {
        let (line, column) = crate::line_col(self.text, span.start);
        ManifestError { file: self.file.to_path_buf(), line, column, message: message.into() }
    }

    fn whole(&self, message: impl Into<String>) -> ManifestError {
        ManifestError { file: self.file.to_path_buf(), line: 0, column: 0, message: message.into() }
    }
}

/// Spin's id rule: kebab-case of lower-case letters and digits, starting with a letter.
pub fn is_valid_id(id: &str) -> bool {
    let mut parts = id.split('-');
    let first_ok = id.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    first_ok
        && parts.all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

/// Spin's variable-name rule: lower-case letters, digits and `_`, starting with a letter.
pub fn is_valid_variable_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl AppManifest {
    /// Read and validate the manifest at `path`.
    pub fn load(path: &Path) -> Result<AppManifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read manifest: {e}"),
        })?;
        let dir = match path.parent() {
            Some(d) if d.as_os_str().is_empty() => std::env::current_dir().unwrap_or_default(),
            Some(d) if d.is_relative() => std::env::current_dir().unwrap_or_default().join(d),
            Some(d) => d.to_path_buf(),
            None => std::env::current_dir().unwrap_or_default(),
        };
        Self::parse(&text, path, &dir)
    }

    /// Parse manifest `text` (named `file` in errors) whose paths resolve against `dir`.
    pub fn parse(text: &str, file: &Path, dir: &Path) -> Result<AppManifest, ManifestError> {
        let loc = Locator { file, text };
        let toml_error = |e: toml::de::Error| {
            let message = e.message().to_string();
            match e.span() {
                Some(span) => loc.at(span, message),
                None => loc.whole(message),
            }
        };
        let raw: RawManifest = toml::from_str(text).map_err(toml_error)?;
        let mut inline: RawInlineComponents = toml::from_str(text).map_err(toml_error)?;

        let version_ok = matches!(raw.spin_manifest_version.get_ref(), toml::Value::Integer(2))
            || matches!(raw.spin_manifest_version.get_ref(), toml::Value::String(s) if s == "2");
        if !version_ok {
            return Err(loc.at(
                raw.spin_manifest_version.span(),
                "spin_manifest_version must be 2 (this host reads the Spin 2+ manifest format)",
            ));
        }
        if raw.application.name.get_ref().trim().is_empty() {
            return Err(loc.at(raw.application.name.span(), "application.name must not be empty"));
        }
        let mut http_base = "/".to_string();
        for (kind, table) in &raw.application.trigger {
            if kind == "http" {
                if let Some(base) = table.get("base").and_then(|b| b.as_str()) {
                    http_base = base.to_string();
                }
            }
        }

        let mut variables = BTreeMap::new();
        for (name, decl) in raw.variables {
            let span = decl.span();
            let decl = decl.into_inner();
            if !is_valid_variable_name(&name) {
                return Err(loc.at(span, format!(
                    "variable name {name:?} is invalid: use lower-case letters, digits and underscores, starting with a letter"
                )));
            }
            if decl.required && decl.default.is_some() {
                return Err(loc.at(span, format!("variable {name:?} cannot be both required and have a default")));
            }
            if !decl.required && decl.default.is_none() {
                return Err(loc.at(span, format!("variable {name:?} needs a default or `required = true`")));
            }
            variables.insert(name, VariableDecl { default: decl.default, required: decl.required, secret: decl.secret });
        }

        let mut components = Vec::new();
        for (id, raw_component) in raw.component {
            let span = raw_component.span();
            if !is_valid_id(&id) {
                return Err(loc.at(span, format!(
                    "component id {id:?} is invalid: use kebab-case of lower-case letters and digits, starting with a letter"
                )));
            }
            components.push(component_decl(&loc, dir, id, raw_component.into_inner(), &variables)?);
        }

        let mut http_triggers = Vec::new();
        let mut cron_triggers = Vec::new();
        let mut inline_count = 0usize;
        for (kind, entries) in raw.trigger {
            let kind_span = entries.span();
            let mut inline_entries = inline.trigger.remove(&kind).unwrap_or_default().into_iter();
            for entry in entries.into_inner() {
                let span = entry.span();
                let table = entry.into_inner();
                let inline_component = match inline_entries.next().and_then(|t| t.component) {
                    Some(InlineComponent::Inline(c)) => Some(*c),
                    _ => None,
                };
                let target = TriggerTarget { kind: &kind, span: span.clone(), table: &table, inline: inline_component };
                let component = trigger_component(&loc, dir, target, &mut components, &mut inline_count, &variables)?;
                match kind.as_str() {
                    "http" => {
                        check_keys(&loc, span.clone(), &table, &["route", "component", "executor", "id"])?;
                        if let Some(executor) = table.get("executor") {
                            let ty = executor.get("type").and_then(|t| t.as_str()).unwrap_or("");
                            if ty != "spin" {
                                return Err(loc.at(span, format!(
                                    "HTTP executor type {ty:?} is not supported by this host (only spin-sdk components, executor \"spin\")"
                                )));
                            }
                        }
                        let route = match table.get("route") {
                            Some(toml::Value::String(r)) => {
                                validate_route(r).map_err(|m| loc.at(span.clone(), m))?;
                                HttpRoute::Path(r.clone())
                            }
                            Some(toml::Value::Table(t)) if t.get("private").and_then(|p| p.as_bool()) == Some(true) => HttpRoute::Private,
                            Some(_) => return Err(loc.at(span, "route must be a string such as \"/...\" or { private = true }")),
                            None => return Err(loc.at(span, "HTTP trigger is missing `route`")),
                        };
                        http_triggers.push(HttpTrigger { route, component });
                    }
                    "cron" => {
                        check_keys(&loc, span.clone(), &table, &["component", "cron_expression", "id"])?;
                        let Some(expr) = table.get("cron_expression").and_then(|c| c.as_str()) else {
                            return Err(loc.at(span, "cron trigger is missing `cron_expression` (six fields, seconds first, e.g. \"0 */15 * * * *\")"));
                        };
                        cron_triggers.push(CronTrigger { component, cron_expression: expr.to_string() });
                    }
                    other => {
                        return Err(loc.at(kind_span.clone(), format!(
                            "trigger type {other:?} is not supported by this host (it serves \"http\" and \"cron\")"
                        )))
                    }
                }
            }
        }

        for c in &components {
            for dep in &c.dependencies {
                if let DependencyTarget::AppComponent(target) = &dep.target {
                    if target == &c.id {
                        return Err(loc.whole(format!("component {:?} cannot depend on itself", c.id)));
                    }
                    if !components.iter().any(|o| &o.id == target) {
                        return Err(loc.whole(format!(
                            "component {:?}: dependency {:?} names component {target:?}, which is not defined",
                            c.id, dep.import
                        )));
                    }
                }
            }
        }

        Ok(AppManifest {
            dir: dir.to_path_buf(),
            name: raw.application.name.into_inner(),
            version: raw.application.version,
            description: raw.application.description,
            variables,
            http_base,
            http_triggers,
            cron_triggers,
            components,
        })
    }

    /// The component with id `id`.
    pub fn component(&self, id: &str) -> Option<&ComponentDecl> {
        self.components.iter().find(|c| c.id == id)
    }
}

fn check_keys(loc: &Locator<'_>, span: Range<usize>, table: &toml::Table, allowed: &[&str]) -> Result<(), ManifestError> {
    for key in table.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(loc.at(span, format!("unknown field `{key}`, expected one of {}", allowed.join(", "))));
        }
    }
    Ok(())
}

/// A trigger entry whose component is being resolved.
struct TriggerTarget<'a> {
    /// Trigger type (`http`, `cron`).
    kind: &'a str,
    /// Where the entry is.
    span: Range<usize>,
    /// The entry.
    table: &'a toml::Table,
    /// Its inline component, parsed with positions.
    inline: Option<RawComponent>,
}

fn trigger_component(
    loc: &Locator<'_>,
    dir: &Path,
    target: TriggerTarget<'_>,
    components: &mut Vec<ComponentDecl>,
    inline_count: &mut usize,
    variables: &BTreeMap<String, VariableDecl>,
) -> Result<String, ManifestError> {
    let TriggerTarget { kind, span, table, inline } = target;
    match table.get("component") {
        Some(toml::Value::String(id)) => {
            if components.iter().any(|c| &c.id == id) {
                Ok(id.clone())
            } else {
                Err(loc.at(span, format!("{kind} trigger names component {id:?}, which is not defined ([component.{id}])")))
            }
        }
        Some(toml::Value::Table(_)) => {
            // An inline component: Spin names it after its trigger.
            *inline_count += 1;
            let id = match table.get("id").and_then(|i| i.as_str()) {
                Some(id) => id.to_string(),
                None => format!("{kind}-component-{inline_count}"),
            };
            let raw = inline.ok_or_else(|| loc.at(span.clone(), "inline component could not be read"))?;
            let decl = component_decl(loc, dir, id.clone(), raw, variables)?;
            components.push(decl);
            Ok(id)
        }
        Some(_) => Err(loc.at(span, "`component` must be a component id or an inline component table")),
        None => Err(loc.at(span, format!("{kind} trigger is missing `component`"))),
    }
}

/// Check a route pattern the way Spin does.
fn validate_route(route: &str) -> Result<(), String> {
    if !route.starts_with('/') {
        return Err(format!("route {route:?} must start with '/'"));
    }
    let segments: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        if *seg == "..." && i + 1 != segments.len() {
            return Err(format!("route {route:?}: the `...` wildcard may only end a route"));
        }
        if let Some(name) = seg.strip_prefix(':') {
            if name.is_empty() {
                return Err(format!("route {route:?}: a `:` segment needs a name"));
            }
        }
    }
    Ok(())
}

fn component_decl(
    loc: &Locator<'_>,
    dir: &Path,
    id: String,
    raw: RawComponent,
    variables: &BTreeMap<String, VariableDecl>,
) -> Result<ComponentDecl, ManifestError> {
    let source_span = raw.source.span();
    let source = match raw.source.into_inner() {
        toml::Value::String(p) => dir.join(p),
        toml::Value::Table(t) if t.contains_key("url") => {
            return Err(loc.at(source_span, format!(
                "component {id:?}: remote sources (url + digest) are not supported by this host; download the file and use a path"
            )))
        }
        toml::Value::Table(t) if t.contains_key("registry") || t.contains_key("package") => {
            return Err(loc.at(source_span, format!("component {id:?}: registry sources are not supported by this host")))
        }
        _ => return Err(loc.at(source_span, format!("component {id:?}: `source` must be a path to a .wasm file"))),
    };
    if let Some(hosts) = &raw.allowed_http_hosts {
        return Err(loc.at(hosts.span(), format!(
            "component {id:?}: `allowed_http_hosts` is the Spin 1 name; use `allowed_outbound_hosts` with schemes, e.g. \"https://example.com\""
        )));
    }
    if let Some(models) = &raw.ai_models {
        if !models.get_ref().is_empty() {
            return Err(loc.at(models.span(), format!("component {id:?}: `ai_models` (Serverless AI) is not provided by this host")));
        }
    }

    // Rules without templates are checked now, where their line is known;
    // templated ones once variables have values.
    for rule in &raw.allowed_outbound_hosts {
        if !rule.get_ref().contains("{{") {
            crate::outbound::AllowedHosts::parse(std::slice::from_ref(rule.get_ref()), &|t| Ok(t.to_string()))
                .map_err(|e| loc.at(rule.span(), format!("component {id:?}: allowed_outbound_hosts {e}")))?;
        }
    }

    let mut files = Vec::new();
    for entry in raw.files {
        let span = entry.span();
        match entry.into_inner() {
            toml::Value::String(pattern) => {
                if Path::new(&pattern).is_absolute() || pattern.split('/').any(|p| p == "..") {
                    return Err(loc.at(span, format!("component {id:?}: files entry {pattern:?} must be relative and inside the app directory")));
                }
                files.push(FileMount { source: dir.join(&pattern), destination: "/".into(), is_glob: true });
            }
            toml::Value::Table(t) => {
                let (Some(source), Some(destination)) =
                    (t.get("source").and_then(|s| s.as_str()), t.get("destination").and_then(|d| d.as_str()))
                else {
                    return Err(loc.at(span, format!("component {id:?}: a files mapping needs `source` and `destination`")));
                };
                if !destination.starts_with('/') {
                    return Err(loc.at(span, format!("component {id:?}: files destination {destination:?} must be absolute")));
                }
                files.push(FileMount { source: dir.join(source), destination: destination.into(), is_glob: false });
            }
            _ => return Err(loc.at(span, format!("component {id:?}: a files entry is a glob string or {{ source, destination }}"))),
        }
    }

    for (name, template) in &raw.variables {
        if !is_valid_variable_name(name) {
            return Err(loc.whole(format!("component {id:?}: variable name {name:?} is invalid")));
        }
        for reference in crate::variables::template_references(template)
            .map_err(|m| loc.whole(format!("component {id:?}: variable {name:?}: {m}")))?
        {
            if !variables.contains_key(&reference) {
                return Err(loc.whole(format!(
                    "component {id:?}: variable {name:?} refers to application variable {reference:?}, which is not declared in [variables]"
                )));
            }
        }
    }

    let mut dependencies = Vec::new();
    for (import, value) in raw.dependencies {
        let span = value.span();
        let table = match value.into_inner() {
            toml::Value::Table(t) => t,
            _ => return Err(loc.at(span, format!(
                "component {id:?}: dependency {import:?}: registry versions are not supported by this host; use {{ path = \"...\" }} or {{ component = \"...\" }}"
            ))),
        };
        let export = table.get("export").and_then(|e| e.as_str()).map(str::to_string);
        let target = if let Some(p) = table.get("path").and_then(|p| p.as_str()) {
            DependencyTarget::Path(dir.join(p))
        } else if let Some(c) = table.get("component").and_then(|c| c.as_str()) {
            DependencyTarget::AppComponent(c.to_string())
        } else {
            return Err(loc.at(span, format!(
                "component {id:?}: dependency {import:?} needs `path` or `component` (url and registry sources are not supported by this host)"
            )));
        };
        if !import.contains(':') {
            return Err(loc.at(span, format!("component {id:?}: dependency key {import:?} must be a WIT name like \"ns:pkg/iface\"")));
        }
        dependencies.push(DependencyDecl { import, target, export });
    }

    let build = match raw.build {
        None => None,
        Some(b) => {
            let span = b.span();
            let b = b.into_inner();
            let command = match b.command {
                toml::Value::String(c) => c,
                toml::Value::Array(list) => {
                    let mut cmds = Vec::new();
                    for c in list {
                        match c {
                            toml::Value::String(s) => cmds.push(s),
                            _ => return Err(loc.at(span, format!("component {id:?}: build commands must be strings"))),
                        }
                    }
                    cmds.join(" && ")
                }
                _ => return Err(loc.at(span, format!("component {id:?}: build command must be a string or a list of strings"))),
            };
            let workdir = match b.workdir {
                Some(w) => dir.join(w),
                None => dir.to_path_buf(),
            };
            Some(BuildDecl { command, workdir, watch: b.watch })
        }
    };

    Ok(ComponentDecl {
        id,
        source,
        files,
        exclude_files: raw.exclude_files,
        allowed_outbound_hosts: raw.allowed_outbound_hosts.into_iter().map(Spanned::into_inner).collect(),
        key_value_stores: raw.key_value_stores,
        sqlite_databases: raw.sqlite_databases,
        variables: raw.variables,
        environment: raw.environment,
        dependencies,
        dependencies_inherit_configuration: raw.dependencies_inherit_configuration,
        build,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AppManifest, ManifestError> {
        AppManifest::parse(text, Path::new("spin.toml"), Path::new("/app"))
    }

    const GOOD: &str = r#"
spin_manifest_version = 2

[application]
name = "demo"
version = "1.0.0"

[variables]
token = { required = true, secret = true }
base = { default = "https://example.com" }

[[trigger.http]]
route = "/api/..."
component = "api"

[[trigger.cron]]
component = "tick"
cron_expression = "0 */15 * * * *"

[component.api]
source = "target/api.wasm"
key_value_stores = ["default"]
allowed_outbound_hosts = ["{{ base }}"]
[component.api.variables]
token = "{{ token }}"
[component.api.dependencies]
"acme:rules/check" = { component = "rules" }
[component.api.build]
command = "cargo build"

[component.tick]
source = "target/tick.wasm"

[component.rules]
source = "target/rules.wasm"
"#;

    #[test]
    fn parses_a_full_manifest() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.name, "demo");
        assert_eq!(m.http_triggers[0].route, HttpRoute::Path("/api/...".into()));
        assert_eq!(m.cron_triggers[0].cron_expression, "0 */15 * * * *");
        let api = m.component("api").unwrap();
        assert_eq!(api.source, PathBuf::from("/app/target/api.wasm"));
        assert_eq!(api.dependencies[0].target, DependencyTarget::AppComponent("rules".into()));
        assert_eq!(api.build.as_ref().unwrap().workdir, PathBuf::from("/app"));
        assert!(m.variables["token"].secret);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = GOOD.replace("key_value_stores = [\"default\"]", "key_value_store = [\"default\"]");
        let e = parse(&bad).unwrap_err();
        let line = bad.lines().position(|l| l.starts_with("key_value_store =")).unwrap() + 1;
        assert_eq!(e.line, line, "{e}");
        assert!(e.message.contains("key_value_store"), "{e}");
    }

    #[test]
    fn rejects_unknown_component_in_trigger() {
        let bad = GOOD.replace("component = \"tick\"", "component = \"tock\"");
        let e = parse(&bad).unwrap_err();
        assert!(e.message.contains("tock"), "{e}");
        assert!(e.line > 0);
    }

    #[test]
    fn rejects_bad_ids_versions_and_variables() {
        assert!(parse(&GOOD.replace("spin_manifest_version = 2", "spin_manifest_version = 1")).is_err());
        assert!(parse(&GOOD.replace("[component.tick]", "[component.Tick]").replace("\"tick\"", "\"Tick\"")).is_err());
        assert!(parse(&GOOD.replace("{ default = \"https://example.com\" }", "{ }")).is_err());
        assert!(parse(&GOOD.replace("token = \"{{ token }}\"", "token = \"{{ nope }}\"")).is_err());
        assert!(parse(&GOOD.replace("[[trigger.cron]]", "[[trigger.redis]]")).is_err());
        assert!(parse(&GOOD.replace("route = \"/api/...\"", "route = \"/a/.../b\"")).is_err());
    }

    #[test]
    fn inline_components_keep_positions() {
        let text = "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = { source = \"a.wasm\", key_value_stores = [\"default\"] }\n[[trigger.http]]\nroute = \"/b\"\nid = \"second\"\ncomponent = { source = \"b.wasm\" }\n";
        let m = parse(text).unwrap();
        assert_eq!(m.components[0].id, "http-component-1");
        assert_eq!(m.components[0].key_value_stores, vec!["default".to_string()]);
        assert_eq!(m.components[1].id, "second");
        let bad = text.replace("key_value_stores", "key_value_storez");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(e.message.contains("key_value_storez"), "{e}");
    }

    #[test]
    fn outbound_rules_are_checked_where_they_are_written() {
        let bad = GOOD.replace("allowed_outbound_hosts = [\"{{ base }}\"]", "allowed_outbound_hosts = [\"{{ base }}\",\n  \"example.com\"]");
        let e = parse(&bad).unwrap_err();
        let line = bad.lines().position(|l| l.contains("\"example.com\"")).unwrap() + 1;
        assert_eq!(e.line, line, "{e}");
        assert!(e.message.contains("scheme"), "{e}");
    }

    #[test]
    fn ids_follow_spin_rules() {
        assert!(is_valid_id("staff-console"));
        assert!(is_valid_id("a1"));
        assert!(!is_valid_id("1a"));
        assert!(!is_valid_id("a--b"));
        assert!(!is_valid_id("a_b"));
        assert!(!is_valid_id("a-"));
    }
}

