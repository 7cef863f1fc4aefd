//! The library's modules form layers: each module uses only modules below it,
//! so the code reads bottom-up (the clock and randomness at the bottom, then
//! keys, claims, the token format, and the issuer and verifier above them).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The code of a module file without its unit tests and comments.
fn code(text: &str) -> String {
    let body = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    body.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Identifiers in a `{a, b::c, d as e}` group or a single path, first segment each.
fn names(group: &str) -> Vec<String> {
    group
        .trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .map(|item| item.trim().split("::").next().unwrap_or("").to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

/// The module each crate-root name is re-exported from (`pub use m::{...}`).
fn root_names(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for statement in code(lib).split(';') {
        let statement = statement.trim();
        let Some(rest) = statement.rsplit("pub use ").next() else {
            continue;
        };
        if !statement.contains("pub use ") {
            continue;
        }
        let Some((module, items)) = rest.split_once("::") else {
            continue;
        };
        for name in names(&items.replace('\n', " ")) {
            map.insert(name, module.trim().to_string());
        }
    }
    map
}

/// Every module a module's code refers to through `crate::`.
fn uses(
    text: &str,
    modules: &BTreeSet<String>,
    roots: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    let code = code(text);
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let target = if rest.starts_with('{') {
            let group = &rest[..rest.find('}').map_or(rest.len(), |end| end + 1)];
            names(&group.replace('\n', " "))
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            vec![rest[..end].to_string()]
        };
        for name in target {
            if modules.contains(&name) {
                found.insert(name);
            } else if let Some(module) = roots.get(&name) {
                found.insert(module.clone());
            }
        }
    }
    found
}

#[test]
fn library_modules_have_no_import_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut texts = BTreeMap::new();
    for entry in fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.extension().is_some_and(|e| e == "rs") && name != "lib" {
            texts.insert(name, fs::read_to_string(&path).unwrap());
        } else if path.join("mod.rs").is_file() {
            // A folder module: all its files but its unit tests, as one.
            let mut text = String::new();
            for file in fs::read_dir(&path).unwrap() {
                let file = file.unwrap().path();
                if file.extension().is_some_and(|e| e == "rs") && !file.ends_with("tests.rs") {
                    text += &code(&fs::read_to_string(&file).unwrap());
                    text += "\n";
                }
            }
            texts.insert(name, text);
        }
    }
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    let roots = root_names(&fs::read_to_string(src.join("lib.rs")).unwrap());
    assert_eq!(roots.get("Keyset").map(String::as_str), Some("keys"));
    let graph: BTreeMap<String, BTreeSet<String>> = texts
        .iter()
        .map(|(name, text)| {
            let mut used = uses(text, &modules, &roots);
            used.remove(name);
            (name.clone(), used)
        })
        .collect();
    // Depth-first search for a cycle; report it as a path.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(at) = path.iter().position(|n| n == node) {
            panic!("import cycle: {} -> {node}", path[at..].join(" -> "));
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(node.to_string());
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done);
    }
    // The clock and randomness sit at the bottom, under keys and claims.
    assert_eq!(graph["os"], BTreeSet::from(["error".to_string()]));
    assert!(graph["keys"].contains("os") && graph["claims"].contains("keys"));
}
