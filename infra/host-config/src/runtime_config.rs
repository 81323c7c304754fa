//! Spin's runtime-config file (`--runtime-config-file`): where key-value
//! stores and SQLite databases live, and which variable providers to ask.
//!
//! Relative paths resolve against the directory of the runtime-config file.
//! Without a file, `default` key-value and `default` SQLite are files under
//! the state directory, named as Spin names them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Backend of one key-value store label.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValueStoreConfig {
    /// Spin's own SQLite-file store.
    Spin {
        /// The SQLite file.
        path: PathBuf,
    },
    /// `type = "spin"` without a path: process memory, gone on restart.
    InMemory,
    /// A Redis server.
    Redis {
        /// `redis://` URL.
        url: String,
    },
}

/// Backend of one SQLite database label.
#[derive(Debug, Clone, PartialEq)]
pub enum SqliteDatabaseConfig {
    /// A local SQLite file.
    Spin {
        /// The database file.
        path: PathBuf,
    },
    /// `type = "spin"` without a path: an in-memory database, gone on restart.
    InMemory,
    /// A libSQL server (Turso, sqld) over HTTP.
    LibSql {
        /// `http(s)://` URL.
        url: String,
        /// Auth token.
        token: String,
    },
}

/// One application-variable provider.
#[derive(Debug, Clone, PartialEq)]
pub enum VariablesProvider {
    /// Environment variables `<prefix>_<NAME>` (and a dotenv file).
    Env {
        /// Prefix, `SPIN_VARIABLE` by default.
        prefix: String,
        /// Extra dotenv file to read.
        dotenv_path: Option<PathBuf>,
    },
    /// Fixed values from the file (tests, local overrides).
    Static {
        /// Variable values by name.
        values: BTreeMap<String, String>,
    },
    /// HashiCorp Vault.
    Vault {
        /// Vault address.
        url: String,
        /// Mount path.
        mount: String,
    },
    /// Azure Key Vault.
    AzureKeyVault {
        /// Vault URL.
        vault_url: String,
    },
}

/// A parsed runtime configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuntimeConfig {
    /// Key-value stores by label.
    pub key_value_stores: BTreeMap<String, KeyValueStoreConfig>,
    /// SQLite databases by label.
    pub sqlite_databases: BTreeMap<String, SqliteDatabaseConfig>,
    /// Variable providers in priority order (after the always-on env provider).
    pub variables_providers: Vec<VariablesProvider>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuntimeConfig {
    #[serde(default)]
    key_value_store: BTreeMap<String, toml::Spanned<toml::Table>>,
    #[serde(default)]
    sqlite_database: BTreeMap<String, toml::Spanned<toml::Table>>,
    #[serde(default)]
    config_provider: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    variables_provider: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    #[allow(dead_code)]
    llm_compute: Option<toml::Table>,
    #[serde(default)]
    #[allow(dead_code)]
    outbound_networking: Option<toml::Table>,
}

fn string(t: &toml::Table, key: &str) -> Option<String> {
    t.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

impl RuntimeConfig {
    /// The defaults Spin uses without a runtime-config file.
    pub fn defaults(state_dir: &Path) -> RuntimeConfig {
        let mut cfg = RuntimeConfig::default();
        cfg.key_value_stores
            .insert("default".into(), KeyValueStoreConfig::Spin { path: state_dir.join("sqlite_key_value.db") });
        cfg.sqlite_databases
            .insert("default".into(), SqliteDatabaseConfig::Spin { path: state_dir.join("sqlite_db.db") });
        cfg
    }

    /// Read `path`; labels it does not configure keep their defaults.
    pub fn load(path: &Path, state_dir: &Path) -> anyhow::Result<RuntimeConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read runtime config {}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, path, dir, state_dir)
    }

    /// Parse runtime-config `text` (named `file` in errors; paths relative to `dir`).
    pub fn parse(text: &str, file: &Path, dir: &Path, state_dir: &Path) -> anyhow::Result<RuntimeConfig> {
        let at = |span: std::ops::Range<usize>, msg: String| {
            let (line, col) = crate::line_col(text, span.start);
            anyhow::anyhow!("{}:{line}:{col}: {msg}", file.display())
        };
        let raw: RawRuntimeConfig = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => at(span, e.message().to_string()),
            None => anyhow::anyhow!("{}: {}", file.display(), e.message()),
        })?;
        let resolve = |p: &str| if Path::new(p).is_absolute() { PathBuf::from(p) } else { dir.join(p) };
        let mut cfg = RuntimeConfig::defaults(state_dir);

        for (label, table) in raw.key_value_store {
            let span = table.span();
            let t = table.into_inner();
            let store = match string(&t, "type").as_deref() {
                Some("spin") => match string(&t, "path") {
                    Some(p) => KeyValueStoreConfig::Spin { path: resolve(&p) },
                    None => KeyValueStoreConfig::InMemory,
                },
                Some("redis") => match string(&t, "url") {
                    Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => KeyValueStoreConfig::Redis { url },
                    Some(url) => return Err(at(span, format!("key_value_store.{label}: url {url:?} is not a redis:// URL"))),
                    None => return Err(at(span, format!("key_value_store.{label}: type \"redis\" needs `url`"))),
                },
                Some(other) => {
                    return Err(at(span, format!(
                        "key_value_store.{label}: type {other:?} is not supported by this host (use \"spin\" or \"redis\")"
                    )))
                }
                None => return Err(at(span, format!("key_value_store.{label}: missing `type`"))),
            };
            cfg.key_value_stores.insert(label, store);
        }

        for (label, table) in raw.sqlite_database {
            let span = table.span();
            let t = table.into_inner();
            let db = match string(&t, "type").as_deref() {
                Some("spin") => match string(&t, "path") {
                    Some(p) => SqliteDatabaseConfig::Spin { path: resolve(&p) },
                    None => SqliteDatabaseConfig::InMemory,
                },
                Some("libsql") => {
                    let (Some(url), Some(token)) = (string(&t, "url"), string(&t, "token")) else {
                        return Err(at(span, format!("sqlite_database.{label}: type \"libsql\" needs `url` and `token`")));
                    };
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(at(span, format!("sqlite_database.{label}: libsql url must be http(s)://")));
                    }
                    SqliteDatabaseConfig::LibSql { url, token }
                }
                Some(other) => {
                    return Err(at(span, format!(
                        "sqlite_database.{label}: type {other:?} is not supported (use \"spin\" or \"libsql\")"
                    )))
                }
                None => return Err(at(span, format!("sqlite_database.{label}: missing `type`"))),
            };
            cfg.sqlite_databases.insert(label, db);
        }

        for table in raw.config_provider.into_iter().chain(raw.variables_provider) {
            let span = table.span();
            let t = table.into_inner();
            let provider = match string(&t, "type").as_deref() {
                Some("env") => VariablesProvider::Env {
                    prefix: string(&t, "prefix").unwrap_or_else(|| "SPIN_VARIABLE".into()),
                    dotenv_path: string(&t, "dotenv_path").map(|p| resolve(&p)),
                },
                Some("static") => {
                    let mut values = BTreeMap::new();
                    if let Some(toml::Value::Table(v)) = t.get("values") {
                        for (k, v) in v {
                            let Some(s) = v.as_str() else {
                                return Err(at(span, format!("static provider: value of {k:?} must be a string")));
                            };
                            values.insert(k.clone(), s.to_string());
                        }
                    }
                    VariablesProvider::Static { values }
                }
                Some("vault") => VariablesProvider::Vault {
                    url: string(&t, "url").ok_or_else(|| at(span.clone(), "vault provider needs `url`".into()))?,
                    mount: string(&t, "mount").unwrap_or_else(|| "secret".into()),
                },
                Some("azure_key_vault") => VariablesProvider::AzureKeyVault {
                    vault_url: string(&t, "vault_url").ok_or_else(|| at(span.clone(), "azure_key_vault provider needs `vault_url`".into()))?,
                },
                Some(other) => return Err(at(span, format!("variables provider type {other:?} is not known"))),
                None => return Err(at(span, "variables provider is missing `type`".into())),
            };
            cfg.variables_providers.push(provider);
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_spin_files_under_the_state_dir() {
        let cfg = RuntimeConfig::defaults(Path::new("/s"));
        assert_eq!(cfg.key_value_stores["default"], KeyValueStoreConfig::Spin { path: "/s/sqlite_key_value.db".into() });
        assert_eq!(cfg.sqlite_databases["default"], SqliteDatabaseConfig::Spin { path: "/s/sqlite_db.db".into() });
    }

    #[test]
    fn parses_backends_and_providers() {
        let text = r#"
[key_value_store.default]
type = "redis"
url = "redis://127.0.0.1:6379"

[key_value_store.cache]
type = "spin"
path = "data/cache.db"

[sqlite_database.default]
type = "libsql"
url = "https://db.example.com"
token = "t"

[[config_provider]]
type = "static"
values = { staff_token = "x" }
"#;
        let cfg = RuntimeConfig::parse(text, Path::new("rc.toml"), Path::new("/etc/app"), Path::new("/s")).unwrap();
        assert_eq!(cfg.key_value_stores["default"], KeyValueStoreConfig::Redis { url: "redis://127.0.0.1:6379".into() });
        assert_eq!(cfg.key_value_stores["cache"], KeyValueStoreConfig::Spin { path: "/etc/app/data/cache.db".into() });
        assert!(matches!(cfg.sqlite_databases["default"], SqliteDatabaseConfig::LibSql { .. }));
        assert_eq!(cfg.variables_providers.len(), 1);
    }

    #[test]
    fn errors_carry_line_numbers() {
        let text = "[key_value_store.default]\ntype = \"azure_cosmos\"\n";
        let e = RuntimeConfig::parse(text, Path::new("rc.toml"), Path::new("/"), Path::new("/s")).unwrap_err();
        assert!(e.to_string().starts_with("rc.toml:"), "{e}");
        assert!(e.to_string().contains("azure_cosmos"), "{e}");
        let e = RuntimeConfig::parse("[bogus]\n", Path::new("rc.toml"), Path::new("/"), Path::new("/s")).unwrap_err();
        assert!(e.to_string().contains("rc.toml:1"), "{e}");
    }
}
