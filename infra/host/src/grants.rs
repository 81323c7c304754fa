//! What one component (or a dependency running on its behalf) may use.

use std::collections::BTreeSet;
use std::sync::Arc;

use spin_host_config::manifest::ComponentDecl;
use spin_host_config::outbound::AllowedHosts;

/// The capabilities granted to the code currently running in a store.
#[derive(Debug)]
pub struct Grants {
    /// The component id the grants come from (for logs and error messages).
    pub component_id: String,
    /// Key-value store labels the code may open.
    pub key_value_stores: BTreeSet<String>,
    /// SQLite database labels the code may open.
    pub sqlite_databases: BTreeSet<String>,
    /// Outbound HTTP destinations the code may reach.
    pub allowed_hosts: Arc<AllowedHosts>,
    /// The manifest entry whose `variables` table answers `variables::get`;
    /// `None` for a dependency that did not inherit configuration.
    pub variables_from: Option<Arc<ComponentDecl>>,
}

impl Grants {
    /// Grants of a dependency that does not inherit its importer's configuration:
    /// Spin gives it no stores, databases, hosts or variables.
    pub fn deny_all(component_id: &str) -> Grants {
        Grants {
            component_id: component_id.to_string(),
            key_value_stores: BTreeSet::new(),
            sqlite_databases: BTreeSet::new(),
            allowed_hosts: Arc::new(AllowedHosts::none()),
            variables_from: None,
        }
    }
}
