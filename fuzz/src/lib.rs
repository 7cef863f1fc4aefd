//! The fuzz targets' bodies live in `targets.rs` so that the cargo-fuzz
//! harnesses (nightly, libFuzzer) and tessera's own `tests/fuzz_replay.rs`
//! (stable, `cargo test`) run exactly the same code.

pub mod targets;
