//! Variables capability (`fermyon:spin/variables@2.0.0`): a component reads
//! the variables its manifest entry declares, each a template over the
//! application variables. Values are never logged.

use spin_host_config::variables::VariableError;

use self::bindings::fermyon::spin::variables::{self, Error};
use super::grants::Isolation;
use super::state::HostState;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "local:host/variables-imports",
        imports: { default: async | trappable },
    });
}

/// Add `fermyon:spin/variables` to `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
    bindings::VariablesImports::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(linker, |s| s)
}

impl variables::Host for HostState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        let grants = self.grants();
        if grants.isolation == Isolation::Isolated {
            // Spin's deny-all adapter: an isolated dependency sees no variables.
            return Ok(Err(Error::Undefined(name)));
        }
        let component = grants.variables_from.clone();
        Ok(self.app.variables.component_variable(&component, &name).map_err(|e| match e {
            VariableError::InvalidName(n) => Error::InvalidName(n),
            VariableError::Undefined(n) => Error::Undefined(n),
            VariableError::Provider(m) => Error::Provider(m),
            other => Error::Other(other.to_string()),
        }))
    }
}
