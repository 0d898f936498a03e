//! Spec runner for the connection-string and uri-options suites (to be written).

use std::path::Path;

use crate::harness::Case;

pub fn run_connection_string_file(_path: &Path, _json: &serde_json::Value) -> Vec<Case> {
    Vec::new()
}

pub fn run_uri_options_file(_path: &Path, _json: &serde_json::Value) -> Vec<Case> {
    Vec::new()
}
