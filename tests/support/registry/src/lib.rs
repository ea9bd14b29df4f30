//! Registry fixture (see Cargo.toml description).
