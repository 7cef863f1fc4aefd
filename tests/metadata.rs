//! Cargo.toml's `rust-version` is true: no older compiler can build the
//! library, with every feature, from the versions Cargo.lock pins.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// `1.85`, `1.85.0` as comparable numbers.
fn version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.split('.').map(|p| p.parse::<u64>().unwrap());
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

/// The newest std API the library uses: `File::try_lock` (the keyset edit
/// lock), stable since 1.89. Clippy's `incompatible_msrv` lint, on in CI,
/// checks every std API against `rust-version`; this pins the one that sets it.
const STD_NEEDS: &str = "1.89";

#[test]
fn rust_version_covers_every_locked_dependency() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--all-features",
            "--locked",
            "--offline",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages: BTreeMap<&str, &Value> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p))
        .collect();
    let nodes: BTreeMap<&str, &Value> = doc["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let root = doc["resolve"]["root"].as_str().unwrap();
    let declared = packages[root]["rust_version"].as_str().unwrap();
    // Everything the library needs to build: normal and build dependencies,
    // on every target; not dev-dependencies (tests, benches).
    let mut seen = BTreeSet::from([root]);
    let mut queue = vec![root];
    while let Some(id) = queue.pop() {
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let builds = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            let dep_id = dep["pkg"].as_str().unwrap();
            if builds && seen.insert(dep_id) {
                queue.push(dep_id);
            }
        }
    }
    assert!(seen.len() > 30, "the library's dependency tree: {seen:?}");
    let (needed, by) = seen
        .iter()
        .filter(|id| **id != root)
        .filter_map(|id| {
            let p = packages[id];
            let v = p["rust_version"].as_str()?;
            Some((version(v), format!("{} {}", p["name"], p["version"])))
        })
        .max()
        .unwrap();
    assert!(
        version(declared) >= needed,
        "rust-version {declared} is older than {by} needs ({needed:?})"
    );
    assert!(
        version(declared) >= version(STD_NEEDS),
        "rust-version {declared} is older than File::try_lock needs ({STD_NEEDS})"
    );
}
