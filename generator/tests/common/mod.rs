//! Shared helpers for the generator's tests.
#![allow(dead_code)] // each test file uses a different subset

use std::path::PathBuf;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn api_text() -> String {
    std::fs::read_to_string(root().join("api.yaml")).expect("api.yaml is readable")
}

pub fn api() -> generator::Api {
    generator::load(&root().join("api.yaml"))
        .unwrap_or_else(|e| panic!("api.yaml is invalid:\n{e}"))
}
