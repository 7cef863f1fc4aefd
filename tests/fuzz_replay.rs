//! Replays every checked-in fuzz corpus file (`fuzz/corpus/<target>/`) and
//! crash-regression file (`fuzz/regressions/<target>/`) through the very
//! functions the cargo-fuzz harnesses call, on stable Rust, so that `cargo
//! test` catches regressions without nightly or libFuzzer.

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::fs;
use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("verify", targets::verify),
    ("roundtrip", targets::roundtrip),
    ("revocation_snapshot", targets::revocation_snapshot),
    ("subject_snapshot", targets::subject_snapshot),
    ("claims", targets::claims),
    ("keyset_json", targets::keyset_json),
    ("ed25519_strict", targets::ed25519_strict),
];

/// Runs `target` over every file in `dir` (if it exists); returns how many.
fn replay_dir(dir: &Path, target: Target) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for file in &files {
        let bytes = fs::read(file).expect("readable corpus file");
        eprintln!("replaying {}", file.display());
        target(&bytes);
    }
    files.len()
}

#[test]
fn checked_in_corpus_and_regressions_replay() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for &(name, target) in TARGETS {
        let seeds = replay_dir(&root.join("corpus").join(name), target);
        assert!(seeds > 0, "fuzz/corpus/{name} has no seed files");
        replay_dir(&root.join("regressions").join(name), target);
    }
}

#[test]
fn generated_seeds_replay_and_match_the_checked_in_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, file, bytes) in targets::seeds() {
        let target = TARGETS
            .iter()
            .find(|(t, _)| *t == name)
            .map(|(_, f)| *f)
            .expect("seed for a known target");
        target(&bytes);
        let path = root.join(name).join(&file);
        let on_disk = fs::read(&path).unwrap_or_default();
        assert!(
            on_disk == bytes,
            "{} is stale or missing: run `cargo run --example fuzz_seeds --features test-util`",
            path.display()
        );
    }
}

#[test]
fn seed_tokens_are_accepted_so_the_verify_target_starts_from_valid_tokens() {
    let tokens: Vec<_> = targets::seeds()
        .into_iter()
        .filter(|(name, _, _)| *name == "verify")
        .collect();
    assert!(tokens.len() >= 4);
    for (_, file, bytes) in tokens {
        let token = String::from_utf8(bytes).expect("tokens are text");
        assert!(targets::verifier_accepts(&token), "seed {file} is rejected");
        // One changed character is enough to be rejected.
        let mut bad = token.into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        assert!(!targets::verifier_accepts(
            &String::from_utf8(bad).expect("ascii")
        ));
    }
}

#[test]
fn ed25519_seeds_reach_every_verdict() {
    use targets::Ed25519Outcome::*;
    let outcomes: std::collections::BTreeSet<_> = targets::seeds()
        .into_iter()
        .filter(|(name, _, _)| *name == "ed25519_strict")
        .map(|(_, file, bytes)| {
            targets::ed25519_strict_outcome(&bytes)
                .unwrap_or_else(|| panic!("seed {file} does not decode"))
        })
        .collect();
    // Above all the cases where plain verify accepts and verify_strict
    // refuses, under a key that loads and under one that does not.
    for wanted in [
        Accepted,
        PlainOnly,
        Rejected,
        KeyRefused { plain: true },
        KeyRefused { plain: false },
    ] {
        assert!(outcomes.contains(&wanted), "no seed reaches {wanted:?}");
    }
}

#[test]
fn targets_reject_garbage_without_panicking() {
    for &(_, target) in TARGETS {
        for input in [
            &b""[..],
            b"tsr1.",
            b"tsr1.AAAA",
            &[0xff; 64],
            &[0; 300],
            "tsr1.é".as_bytes(),
        ] {
            target(input);
        }
    }
}
