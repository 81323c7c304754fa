//! Everything the local Spin host parses, kept apart from wasmtime so it
//! builds and tests in seconds: the `spin.toml` v2 manifest, Spin's HTTP
//! routing, `allowed_outbound_hosts` rules, the runtime-config file and
//! application variables.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod manifest;
pub mod outbound;
pub mod routes;
pub mod runtime_config;
pub mod variables;

/// Line and column (1-based) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(super::line_col("ab\ncd", 0), (1, 1));
        assert_eq!(super::line_col("ab\ncd", 4), (2, 2));
    }
}
