//! Generated from api.yaml by `cargo xtask generate`.
