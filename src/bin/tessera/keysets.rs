//! Keyset commands: keygen, add, promote, rotate, disable, enable, retire,
//! prune, list, export-verifier.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tessera::{KeyId, KeyInfo, KeyState, Keyset};

use crate::failure::Failure;
use crate::fleet::{self, Feed};
use crate::io::{self, AnyKeyset};
use crate::time::{now_or, utc};

/// `keygen --out FILE [--force]`: prints the new primary key's id, on
/// standard error when the keyset itself goes to standard output.
pub fn keygen(out: &Path, force: bool) -> Result<(), Failure> {
    let keys = Keyset::generate();
    io::write_new(out, force, &keys.to_json(), |path| keys.save(path))?;
    if io::is_stdio(out) {
        io::eprintln(format_args!("new primary key {}", keys.primary()))
    } else {
        io::println(keys.primary())
    }
}

/// `add FILE`: prints the new key's id.
pub fn add(file: &Path) -> Result<(), Failure> {
    let id = io::update(file, |keys| Ok(keys.add()))?;
    io::println(id)
}

/// `rotate FILE`: prints the new primary key's id.
pub fn rotate(file: &Path) -> Result<(), Failure> {
    let id = io::update(file, |keys| Ok(keys.rotate()))?;
    io::println(id)
}

/// `promote`, `disable`, `enable`, `retire FILE --key ID`.
pub fn change_key(
    file: &Path,
    key: u32,
    change: fn(&mut Keyset, KeyId) -> Result<(), tessera::Error>,
) -> Result<(), Failure> {
    io::update(file, |keys| {
        change(keys, KeyId(key))
            .map_err(|e| Failure::usage(format!("{}: key {key}: {e}", file.display())))
    })
}

/// `prune FILE --max-lifetime DUR`: prints one line per retired key.
pub fn prune(file: &Path, max_lifetime: Duration, now: Option<u64>) -> Result<(), Failure> {
    let now = now_or(now);
    let removed = io::update(file, |keys| Ok(keys.prune(max_lifetime, now)))?;
    if removed.is_empty() {
        return io::println("no key can be retired yet");
    }
    for info in removed {
        let demoted = info.demoted_at.map_or_else(String::new, utc);
        io::println(format_args!(
            "retired key {} (stopped being primary {demoted})",
            info.id
        ))?;
    }
    Ok(())
}

/// `list FILE [--json]`: metadata only.
pub fn list(file: &Path, as_json: bool) -> Result<(), Failure> {
    let (kind, info) = match io::load_any(file)? {
        AnyKeyset::Issuer(keys) => ("issuer", keys.key_info()),
        AnyKeyset::Verifier(keys) => ("verifier", keys.key_info()),
    };
    if as_json {
        let keys: Vec<_> = info
            .iter()
            .map(|k| {
                json!({
                    "id": k.id.0,
                    "state": state_name(k.state),
                    "created_at": k.created_at,
                    "demoted_at": k.demoted_at,
                })
            })
            .collect();
        let primary = info.iter().find(|k| k.state == KeyState::Primary);
        let doc = json!({ "kind": kind, "primary": primary.map(|k| k.id.0), "keys": keys });
        return io::println(doc);
    }
    let mut text = format!(
        "{kind} keyset, {} key(s)\n{:<12} {:<9} {:<21} {}\n",
        info.len(),
        "KEY ID",
        "STATE",
        "CREATED",
        "STOPPED BEING PRIMARY"
    );
    for k in &info {
        text.push_str(&row(k));
    }
    io::print(&text)
}

fn row(k: &KeyInfo) -> String {
    format!(
        "{:<12} {:<9} {:<21} {}\n",
        k.id,
        state_name(k.state),
        utc(k.created_at),
        k.demoted_at.map_or_else(|| "-".to_string(), utc)
    )
}

/// The state as keyset files and `--json` output spell it.
pub fn state_name(state: KeyState) -> &'static str {
    match state {
        KeyState::Primary => "primary",
        KeyState::Enabled => "enabled",
        KeyState::Disabled => "disabled",
    }
}

/// `export-verifier FILE [--out FILE] [--force] [--redis URL [--prefix P]]`:
/// the file is written first, then the keyset is published.
pub fn export_verifier(
    file: &Path,
    out: Option<&Path>,
    force: bool,
    feed: Option<&Feed<'_>>,
) -> Result<(), Failure> {
    let verifier = io::load_issuer(file)?.verifier_keyset();
    if let Some(out) = out {
        io::write_new(out, force, &verifier.to_json(), |path| verifier.save(path))?;
    }
    if let Some(feed) = feed {
        let entry = fleet::publish_keyset(feed, &verifier)?;
        let ids: Vec<String> = verifier.key_ids().iter().map(ToString::to_string).collect();
        io::eprintln(format_args!(
            "published verifier keyset (key ids {}) to {}:keyset; stream entry {entry}",
            ids.join(", "),
            feed.prefix
        ))?;
    }
    Ok(())
}
