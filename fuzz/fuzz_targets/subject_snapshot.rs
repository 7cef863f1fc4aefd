//! cargo-fuzz harness; the body is `tessera_fuzz::targets::subject_snapshot`, which
//! tests/fuzz_replay.rs also runs over the checked-in corpus on stable Rust.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::targets::subject_snapshot(data));
