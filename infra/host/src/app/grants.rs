//! What one component (or a dependency running on its behalf) may use.

use std::collections::BTreeSet;
use std::sync::Arc;

use spin_host_config::manifest::ComponentDecl;
use spin_host_config::outbound::AllowedHosts;

/// Whose configuration the running code has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// A manifest component, or a dependency with
    /// `dependencies_inherit_configuration = true`: the component's own grants.
    Component,
    /// A dependency that does not inherit: Spin composes its deny-all adapter
    /// in front of every host capability, so it gets no stores, databases,
    /// variables, outbound HTTP, environment or files.
    Isolated,
}

/// The capabilities granted to the code currently running in a store.
#[derive(Debug)]
pub struct Grants {
    /// The component id the grants come from (for logs and error messages).
    pub component_id: String,
    /// Whether the code runs with a component's configuration or none.
    pub isolation: Isolation,
    /// Key-value store labels the code may open.
    pub key_value_stores: BTreeSet<String>,
    /// SQLite database labels the code may open.
    pub sqlite_databases: BTreeSet<String>,
    /// Outbound HTTP destinations the code may reach.
    pub allowed_hosts: Arc<AllowedHosts>,
    /// The manifest entry whose `variables` table answers `variables::get`.
    pub variables_from: Arc<ComponentDecl>,
}

impl Grants {
    /// Whether the code runs with no configuration (a dependency that does not inherit).
    pub fn is_isolated(&self) -> bool {
        self.isolation == Isolation::Isolated
    }

    /// The grants of a dependency of the component granted `importer`.
    pub fn for_dependency(importer: &Grants, key: &str, inherit: bool) -> Grants {
        let component_id = format!("{} (dependency {key})", importer.component_id);
        if inherit {
            Grants {
                component_id,
                isolation: Isolation::Component,
                key_value_stores: importer.key_value_stores.clone(),
                sqlite_databases: importer.sqlite_databases.clone(),
                allowed_hosts: importer.allowed_hosts.clone(),
                variables_from: importer.variables_from.clone(),
            }
        } else {
            Grants {
                component_id,
                isolation: Isolation::Isolated,
                key_value_stores: BTreeSet::new(),
                sqlite_databases: BTreeSet::new(),
                allowed_hosts: Arc::new(AllowedHosts::none()),
                variables_from: importer.variables_from.clone(),
            }
        }
    }
}
