//! Writes the deterministic seed corpus of the fuzz targets to
//! `fuzz/corpus/<target>/` (see fuzz/README.md):
//!
//! ```text
//! cargo run --example fuzz_seeds --features test-util
//! ```
//!
//! `tests/fuzz_replay.rs` checks that the checked-in files match.

// Only `seeds` is used here; the targets themselves run in tests/fuzz_replay.rs.
#[allow(dead_code)]
#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::fs;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (target, file, bytes) in targets::seeds() {
        let dir = root.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(&file), &bytes)?;
        println!("{}/{file}: {} bytes", dir.display(), bytes.len());
    }
    Ok(())
}
