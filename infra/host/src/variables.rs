//! Variables capability (`fermyon:spin/variables@2.0.0`).

use spin_host_config::variables::VariableError;

use crate::bindings::variables::{self, Error};
use crate::state::HostState;

impl variables::Host for HostState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        let Some(component) = self.grants().variables_from.clone() else {
            // A dependency without inherited configuration sees no variables.
            return Ok(Err(Error::Undefined(format!("no variable for {name:?}"))));
        };
        Ok(self.app.variables.component_variable(&component, &name).map_err(|e| match e {
            VariableError::InvalidName(n) => Error::InvalidName(n),
            VariableError::Undefined(n) => Error::Undefined(n),
            VariableError::Provider(m) => Error::Provider(m),
            other => Error::Other(other.to_string()),
        }))
    }
}
