//! The `tessera` helper binary, run for real (issue 4).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

const SUBCOMMANDS: [&str; 14] = [
    "keygen",
    "add",
    "promote",
    "rotate",
    "disable",
    "enable",
    "retire",
    "prune",
    "list",
    "export-verifier",
    "issue",
    "verify",
    "inspect",
    "revoke",
];

/// A scratch folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tessera-cli-{name}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A fresh issuer keyset at `name`.
    fn keyset(&self, name: &str) -> PathBuf {
        let path = self.path(name);
        ok(&["keygen", "--out", s(&path)]);
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn tessera(args: &[&str]) -> Output {
    with_stdin(args, "")
}

fn with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Runs a command that must succeed; returns its standard output, trimmed.
fn ok(args: &[&str]) -> String {
    let out = tessera(args);
    assert!(out.status.success(), "{args:?} failed: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// Checks that a command failed with `code` and exactly one clean line on
/// standard error; returns that line.
fn fails(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("tessera: "), "{err}");
    for noise in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!err.contains(noise), "{err}");
    }
    err
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Every base64url secret (signing and encryption keys) in an issuer keyset file.
fn secrets(issuer_file: &Path) -> (Vec<String>, Vec<String>) {
    let doc = json(&fs::read_to_string(issuer_file).unwrap());
    let keys = doc["keys"].as_array().unwrap();
    let field = |name: &str| {
        keys.iter()
            .map(|k| k[name].as_str().unwrap().to_string())
            .collect()
    };
    (field("signing_key"), field("encryption_key"))
}

fn list(file: &Path) -> Value {
    json(&ok(&["list", s(file), "--json"]))
}

fn ids(file: &Path) -> Vec<u64> {
    list(file)["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_u64().unwrap())
        .collect()
}

fn primary(file: &Path) -> String {
    list(file)["primary"].to_string()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn help_lists_every_subcommand_with_a_description_and_the_exit_codes() {
    let help = ok(&["--help"]);
    for name in SUBCOMMANDS {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing from --help:\n{help}"));
        let description = line.trim_start()[name.len()..].trim();
        assert!(
            description.len() > 10,
            "{name} has no description: {line:?}"
        );
    }
    for text in [
        "Exit codes",
        "0  success",
        "1  token rejected",
        "2  usage",
        "30m",
    ] {
        assert!(help.contains(text), "{text:?} missing from --help");
    }
    for name in SUBCOMMANDS {
        assert!(tessera(&[name, "--help"]).status.success(), "{name} --help");
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = Scratch::new("usage");
    let keys = dir.keyset("keys.json");
    // No subcommand at all: the full help, on standard error, exit 2.
    let out = tessera(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Exit codes"));
    // Anything else: one line that says what is wrong.
    for args in [
        vec!["frobnicate"],
        vec!["promote", s(&keys)],
        vec!["promote", s(&keys), "--key", "not-a-number"],
        vec!["prune", s(&keys), "--max-lifetime", "12"],
        vec!["prune", s(&keys), "--max-lifetime", "0h"],
        vec!["issue", "--keys", s(&keys)],
        vec!["revoke", "--filter", "f.bin"],
        vec!["revoke", "--filter", "f.bin", "--id", "00"],
        vec![
            "revoke",
            "--filter",
            "f.bin",
            "--token",
            "t",
            "--keys",
            "k",
            "--id",
            "00",
            "--deadline",
            "1",
        ],
    ] {
        let line = fails(&tessera(&args), 2);
        assert!(line.len() > 30, "{args:?}: {line}");
    }
    let line = fails(&tessera(&["lsit"]), 2);
    assert!(line.contains("'list'"), "keeps clap's tip: {line}");
    let line = fails(&tessera(&["promote", s(&keys)]), 2);
    assert!(line.contains("--key"), "names the missing argument: {line}");
    let line = fails(&tessera(&["verify", "--keys", "-", "-"]), 2);
    assert!(line.contains("standard input"), "{line}");
    let bad_data = tessera(&[
        "issue",
        "--keys",
        s(&keys),
        "--subject",
        "a",
        "--data",
        "{oops",
    ]);
    assert!(fails(&bad_data, 2).contains("--data is not valid JSON"));
    let bad_id = tessera(&[
        "revoke",
        "--filter",
        s(&dir.path("f")),
        "--id",
        "xyz",
        "--deadline",
        "1",
    ]);
    assert!(fails(&bad_id, 2).contains("32 hex digits"));
    for command in ["add", "rotate"] {
        let out = tessera(&[command, "-"]);
        assert!(fails(&out, 2).contains("standard input"));
    }
}

#[test]
fn keygen_writes_a_private_file_and_refuses_to_overwrite() {
    let dir = Scratch::new("keygen");
    let path = dir.path("keys.json");
    let id = ok(&["keygen", "--out", s(&path)]);
    assert_eq!(primary(&path), id);
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let before = fs::read(&path).unwrap();
    let refused = tessera(&["keygen", "--out", s(&path)]);
    let line = fails(&refused, 2);
    assert!(
        line.contains("already exists") && line.contains("--force"),
        "{line}"
    );
    assert_eq!(
        fs::read(&path).unwrap(),
        before,
        "refused keygen changed the file"
    );
    let replaced = ok(&["keygen", "--out", s(&path), "--force"]);
    assert_ne!(replaced, id);
    assert_eq!(primary(&path), replaced);
    // `-` writes the keyset to standard output, and it reads back from stdin.
    let text = ok(&["keygen", "--out", "-"]);
    assert_eq!(json(&text)["format"], "tessera-issuer-keyset");
    let listed = with_stdin(&["list", "-", "--json"], &text);
    assert!(listed.status.success());
    assert_eq!(json(&stdout(&listed))["kind"], "issuer");
}

#[cfg(unix)]
#[test]
fn a_keyset_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new("mode");
    let keys = dir.keyset("keys.json");
    let verifier = dir.path("verifier.json");
    ok(&["export-verifier", s(&keys), "--out", s(&verifier)]);
    let token = ok(&["issue", "--keys", s(&keys), "--subject", "a"]);
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o644)).unwrap();
    let before = fs::read(&keys).unwrap();
    for args in [
        vec!["list", s(&keys)],
        vec!["add", s(&keys)],
        vec!["rotate", s(&keys)],
        vec!["issue", "--keys", s(&keys), "--subject", "a"],
        vec!["verify", "--keys", s(&keys), &token],
        vec!["export-verifier", s(&keys), "--out", "-"],
    ] {
        let line = fails(&tessera(&args), 2);
        assert!(line.contains(s(&keys)), "names the file: {line}");
        assert!(line.contains("0644"), "{line}");
        assert!(
            line.contains(&format!("chmod 600 {}", s(&keys))),
            "says the fix: {line}"
        );
    }
    assert_eq!(fs::read(&keys).unwrap(), before);
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o600)).unwrap();
    ok(&["list", s(&keys)]);
    // The verifier keyset holds the decryption keys: refused the same way.
    assert_eq!(mode(&verifier), 0o600);
    for shared in [0o644, 0o640] {
        fs::set_permissions(&verifier, fs::Permissions::from_mode(shared)).unwrap();
        for args in [
            vec!["list", s(&verifier)],
            vec!["verify", "--keys", s(&verifier), &token],
        ] {
            let line = fails(&tessera(&args), 2);
            assert!(line.contains(&format!("{shared:04o}")), "{line}");
            assert!(
                line.contains(&format!("chmod 600 {}", s(&verifier))),
                "says the fix: {line}"
            );
        }
    }
    // Exporting again over a shared file leaves a private one.
    ok(&[
        "export-verifier",
        s(&keys),
        "--out",
        s(&verifier),
        "--force",
    ]);
    assert_eq!(mode(&verifier), 0o600);
    ok(&["verify", "--keys", s(&verifier), &token]);
}

#[test]
fn corrupt_or_truncated_keysets_give_exit_2_and_one_clear_line() {
    let dir = Scratch::new("corrupt");
    let keys = dir.keyset("keys.json");
    ok(&["add", s(&keys)]);
    let good = fs::read_to_string(&keys).unwrap();
    let (signing, encryption) = secrets(&keys);
    let secret = &signing[0];
    let cases = [
        (
            "truncated",
            good[..good.len() / 2].to_string(),
            "truncated JSON",
        ),
        ("empty", String::new(), "truncated JSON"),
        ("not json", "hello".to_string(), "not valid JSON"),
        (
            "corrupt",
            good.replacen("\"keys\"", "\"keys\" :", 1),
            "not valid JSON",
        ),
        (
            "version",
            good.replace("\"version\": 1", "\"version\": 7"),
            "unsupported version 7",
        ),
        (
            "secret in the wrong place",
            good.replacen("\"primary\"", &format!("\"{secret}\""), 1),
            "unexpected field or value",
        ),
        (
            "short key",
            good.replacen(&encryption[0], &encryption[0][..40], 1),
            "encryption_key is not 32 bytes",
        ),
    ];
    for (what, text, expected) in cases {
        let path = dir.path(&format!("{}.json", what.replace(' ', "-")));
        fs::write(&path, &text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        for args in [
            vec!["list", s(&path)],
            vec!["add", s(&path)],
            vec!["issue", "--keys", s(&path), "--subject", "a"],
            vec!["verify", "--keys", s(&path), "tsr1.AAAA"],
            vec!["export-verifier", s(&path), "--out", "-"],
        ] {
            let out = tessera(&args);
            let line = fails(&out, 2);
            assert!(line.contains(s(&path)), "{what}: names the file: {line}");
            assert!(line.contains(expected), "{what}: {line}");
            for key in signing.iter().chain(&encryption) {
                assert!(
                    !line.contains(key.as_str()),
                    "{what}: key material on stderr: {line}"
                );
            }
            assert!(out.stdout.is_empty(), "{what}: {args:?} printed something");
        }
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            text,
            "{what}: file was changed"
        );
    }
    // A file that cannot be read: its name, then the operating system's message.
    let missing = dir.path("missing.json");
    let os_message = fs::File::open(&missing).unwrap_err().to_string();
    for args in [
        vec!["list", s(&missing)],
        vec!["add", s(&missing)],
        vec!["verify", "--keys", s(&missing), "tsr1.x"],
    ] {
        assert_eq!(
            fails(&tessera(&args), 2).trim_end(),
            format!("tessera: {}: {os_message}", missing.display()),
            "{args:?}"
        );
    }
}

#[test]
fn export_verifier_holds_no_signing_secret() {
    let dir = Scratch::new("export");
    let keys = dir.keyset("keys.json");
    ok(&["add", s(&keys)]);
    ok(&["rotate", s(&keys)]);
    let verifier = dir.path("verifier.json");
    ok(&["export-verifier", s(&keys), "--out", s(&verifier)]);
    #[cfg(unix)]
    assert_eq!(mode(&verifier), 0o600);
    let text = fs::read_to_string(&verifier).unwrap();
    let (signing, encryption) = secrets(&keys);
    assert_eq!(signing.len(), 3);
    for key in &signing {
        assert!(!text.contains(key.as_str()), "signing key {key} exported");
    }
    let doc = json(&text);
    assert_eq!(doc["format"], "tessera-verifier-keyset");
    for (entry, enc) in doc["keys"].as_array().unwrap().iter().zip(&encryption) {
        assert!(entry.get("signing_key").is_none());
        assert_eq!(entry["encryption_key"], enc.as_str());
    }
    assert_eq!(ids(&verifier), ids(&keys));
    assert_eq!(list(&verifier)["kind"], "verifier");
    // Same rules as keygen for the output file; `-` for standard output.
    let line = fails(
        &tessera(&["export-verifier", s(&keys), "--out", s(&verifier)]),
        2,
    );
    assert!(line.contains("--force"), "{line}");
    ok(&[
        "export-verifier",
        s(&keys),
        "--out",
        s(&verifier),
        "--force",
    ]);
    assert_eq!(
        ok(&["export-verifier", s(&keys), "--out", "-"]),
        text.trim()
    );
    // A verifier keyset cannot issue, nor be exported from.
    let line = fails(
        &tessera(&["issue", "--keys", s(&verifier), "--subject", "a"]),
        2,
    );
    assert!(line.contains("verifier keyset"), "{line}");
    fails(
        &tessera(&["export-verifier", s(&verifier), "--out", "-"]),
        2,
    );
}

#[test]
fn a_token_issued_before_rotate_still_verifies_after_it() {
    let dir = Scratch::new("rotate");
    let keys = dir.keyset("keys.json");
    let old_primary = primary(&keys);
    let before = ok(&["issue", "--keys", s(&keys), "--subject", "alice"]);
    let new_primary = ok(&["rotate", s(&keys)]);
    assert_ne!(new_primary, old_primary);
    assert_eq!(primary(&keys), new_primary);
    let verifier = dir.path("verifier.json");
    ok(&["export-verifier", s(&keys), "--out", s(&verifier)]);
    for file in [&keys, &verifier] {
        let session = json(&ok(&["verify", "--keys", s(file), "--json", &before]));
        assert_eq!(session["key_id"].to_string(), old_primary);
    }
    let after = ok(&["issue", "--keys", s(&keys), "--subject", "alice"]);
    let inspected = json(&ok(&["inspect", "--json", &after]));
    assert_eq!(inspected["key_id"].to_string(), new_primary);
    let session = json(&ok(&["verify", "--keys", s(&verifier), "--json", &after]));
    assert_eq!(session["key_id"].to_string(), new_primary);
}

#[test]
fn add_ship_promote_follows_the_runbook() {
    let dir = Scratch::new("promote");
    let keys = dir.keyset("keys.json");
    let first = primary(&keys);
    let added = ok(&["add", s(&keys)]);
    assert_eq!(primary(&keys), first, "add must not promote");
    let verifier = dir.path("verifier.json");
    ok(&["export-verifier", s(&keys), "--out", s(&verifier)]);
    ok(&["promote", s(&keys), "--key", &added]);
    assert_eq!(primary(&keys), added);
    // Verifiers shipped before the promotion accept the new key's tokens.
    let token = ok(&["issue", "--keys", s(&keys), "--subject", "bob"]);
    ok(&["verify", "--keys", s(&verifier), &token]);
    let state = |id: &str| {
        list(&keys)["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"].as_u64() == id.parse().ok())
            .unwrap()
            .clone()
    };
    assert_eq!(state(&first)["state"], "enabled");
    assert!(state(&first)["demoted_at"].as_u64().is_some());
    let line = fails(&tessera(&["promote", s(&keys), "--key", "7"]), 2);
    assert!(line.contains("key 7: unknown key id"), "{line}");
}

#[test]
fn disable_enable_and_retire() {
    let dir = Scratch::new("disable");
    let keys = dir.keyset("keys.json");
    let old = primary(&keys);
    let token = ok(&["issue", "--keys", s(&keys), "--subject", "carol"]);
    let new = ok(&["rotate", s(&keys)]);
    let line = fails(&tessera(&["disable", s(&keys), "--key", &new]), 2);
    assert!(line.contains("primary"), "{line}");
    ok(&["disable", s(&keys), "--key", &old]);
    assert_eq!(
        list(&keys)["keys"].as_array().unwrap().len(),
        2,
        "disabled keys are kept"
    );
    let out = tessera(&["verify", "--keys", s(&keys), "--json", &token]);
    assert!(fails(&out, 1).contains("unknown key id"));
    assert_eq!(json(&stdout(&out))["error"], "unknown_key");
    let line = fails(&tessera(&["promote", s(&keys), "--key", &old]), 2);
    assert!(line.contains("disabled"), "{line}");
    ok(&["enable", s(&keys), "--key", &old]);
    ok(&["verify", "--keys", s(&keys), &token]);
    let line = fails(&tessera(&["retire", s(&keys), "--key", &new]), 2);
    assert!(line.contains("primary"), "{line}");
    ok(&["retire", s(&keys), "--key", &old]);
    assert_eq!(ids(&keys).len(), 1);
    let out = tessera(&["verify", "--keys", s(&keys), &token]);
    assert!(fails(&out, 1).contains("unknown key id"));
    fails(&tessera(&["retire", s(&keys), "--key", &old]), 2);
}

#[test]
fn prune_past_the_max_lifetime_retires_the_old_key_and_its_tokens_fail() {
    let dir = Scratch::new("prune");
    let keys = dir.keyset("keys.json");
    let old = primary(&keys);
    let t0 = now();
    let t0s = t0.to_string();
    let token = ok(&[
        "issue",
        "--keys",
        s(&keys),
        "--subject",
        "dave",
        "--now",
        &t0s,
    ]);
    ok(&["rotate", s(&keys)]);
    let waiting = ok(&["add", s(&keys)]);
    // Not yet: the old key's last token may be alive for 12 h plus the leeway.
    let soon = (t0 + 12 * 3600).to_string();
    let out = ok(&["prune", s(&keys), "--max-lifetime", "12h", "--now", &soon]);
    assert_eq!(out, "no key can be retired yet");
    assert_eq!(ids(&keys).len(), 3);
    ok(&["verify", "--keys", s(&keys), "--now", &t0s, &token]);
    let later = (t0 + 12 * 3600 + 3600 + 10).to_string();
    let out = ok(&["prune", s(&keys), "--max-lifetime", "12h", "--now", &later]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with(&format!("retired key {old} ")), "{out}");
    let left: Vec<String> = ids(&keys).iter().map(u64::to_string).collect();
    assert!(!left.contains(&old), "old key still there");
    assert!(
        left.contains(&waiting),
        "a key waiting for promotion was pruned"
    );
    let out = tessera(&[
        "verify",
        "--keys",
        s(&keys),
        "--json",
        "--now",
        &t0s,
        &token,
    ]);
    assert!(fails(&out, 1).contains("unknown key id"));
    let result = json(&stdout(&out));
    assert_eq!(result["valid"], false);
    assert_eq!(result["error"], "unknown_key");
}

#[test]
fn verify_json_is_stable_and_parseable() {
    let dir = Scratch::new("verify");
    let keys = dir.keyset("keys.json");
    let t0 = 1_800_000_000u64;
    let data = r#"{"roles":["admin"],"tenant":42}"#;
    let token = ok(&[
        "issue",
        "--keys",
        s(&keys),
        "--subject",
        "erin",
        "--data",
        data,
        "--idle",
        "5m",
        "--max-lifetime",
        "1h",
        "--audience",
        "billing",
        "--now",
        &t0.to_string(),
    ]);
    let at = (t0 + 60).to_string();
    let out = ok(&[
        "verify",
        "--keys",
        s(&keys),
        "--audience",
        "billing",
        "--json",
        "--now",
        &at,
        &token,
    ]);
    assert_eq!(out.lines().count(), 1);
    let v = json(&out);
    let mut fields: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "data",
            "data_hex",
            "deadline",
            "expires_at",
            "issued_at",
            "key_id",
            "session_id",
            "subject",
            "valid"
        ]
    );
    assert_eq!(v["valid"], true);
    assert_eq!(v["subject"], "erin");
    assert_eq!(v["data"], json(data));
    assert_eq!(v["issued_at"], t0);
    assert_eq!(v["expires_at"], t0 + 300);
    assert_eq!(v["deadline"], t0 + 3600);
    assert_eq!(v["key_id"].to_string(), primary(&keys));
    let id = v["session_id"].as_str().unwrap();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    // Human output carries the same facts.
    let text = ok(&[
        "verify",
        "--keys",
        s(&keys),
        "--audience",
        "billing",
        "--now",
        &at,
        &token,
    ]);
    assert!(
        text.starts_with("valid\n") && text.contains(id) && text.contains("\"erin\""),
        "{text}"
    );
    // Each rejection: exit 1, one line on stderr, a JSON verdict on stdout.
    let expired = (t0 + 300 + 60).to_string();
    // A different character well inside the signature: canonical, but forged.
    let mut tampered = token.clone().into_bytes();
    let pos = tampered.len() - 10;
    tampered[pos] = if tampered[pos] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (args, code) in [
        (
            vec!["--audience", "billing", "--now", &expired, &token],
            "expired",
        ),
        (vec!["--audience", "other", "--now", &at, &token], "invalid"),
        (vec!["--now", &at, &token], "invalid"),
        (
            vec!["--audience", "billing", "--now", &at, &tampered],
            "invalid",
        ),
        (vec!["--now", &at, "tsr1.!!"], "malformed"),
        (vec!["--now", &at, "hello"], "malformed"),
    ] {
        let mut full = vec!["verify", "--keys", s(&keys), "--json"];
        full.extend(args);
        let out = tessera(&full);
        fails(&out, 1);
        let verdict = json(&stdout(&out));
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["error"], code, "{full:?}");
        assert!(verdict["message"].as_str().unwrap().len() > 3);
    }
}

#[test]
fn tokens_can_come_from_standard_input() {
    let dir = Scratch::new("stdin");
    let keys = dir.keyset("keys.json");
    let token = ok(&["issue", "--keys", s(&keys), "--subject", "frank"]);
    let piped = format!("{token}\n");
    let out = with_stdin(&["verify", "--keys", s(&keys), "--json", "-"], &piped);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&stdout(&out))["subject"], "frank");
    let out = with_stdin(&["inspect", "-"], &piped);
    assert!(out.status.success());
    assert!(stdout(&out).contains(&format!("key id      {}", primary(&keys))));
    // Keysets too: a verifier keyset piped in.
    let verifier = ok(&["export-verifier", s(&keys), "--out", "-"]);
    let out = with_stdin(&["verify", "--keys", "-", &token], &verifier);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn inspect_reads_the_header_without_keys() {
    let dir = Scratch::new("inspect");
    let keys = dir.keyset("keys.json");
    let token = ok(&[
        "issue",
        "--keys",
        s(&keys),
        "--subject",
        "gina",
        "--data",
        "[1,2,3]",
    ]);
    let v = json(&ok(&["inspect", "--json", &token]));
    assert_eq!(v["version"], 1);
    assert_eq!(v["key_id"].to_string(), primary(&keys));
    assert_eq!(v["length"], token.len());
    let body = v["body_bytes"].as_u64().unwrap();
    assert_eq!(v["ciphertext_bytes"], body - 109);
    let text = ok(&["inspect", &token]);
    assert!(!text.contains("gina"), "inspect must not show claims");
    for bad in [
        "hello",
        "tsr1.",
        "tsr1.AAAA",
        "tsr1.A=",
        &format!("tsr2.{}", &token[5..]),
    ] {
        fails(&tessera(&["inspect", bad]), 1);
    }
    let mut v2 = token.clone().into_bytes();
    assert_eq!(v2[5], b'A', "version 1 starts with six zero bits");
    v2[5] = b'B'; // version byte 0b000001xx
    let line = fails(&tessera(&["inspect", std::str::from_utf8(&v2).unwrap()]), 1);
    assert!(line.contains("unsupported token version"), "{line}");
}

#[test]
fn revoke_by_token_or_by_id_updates_the_snapshot() {
    let dir = Scratch::new("revoke");
    let keys = dir.keyset("keys.json");
    let filter = dir.path("revoked.bin");
    let first = ok(&["issue", "--keys", s(&keys), "--subject", "hank"]);
    let second = ok(&["issue", "--keys", s(&keys), "--subject", "ivy"]);
    let out = ok(&[
        "revoke",
        "--filter",
        s(&filter),
        "--token",
        &first,
        "--keys",
        s(&keys),
    ]);
    assert!(out.starts_with("revoked session "), "{out}");
    #[cfg(unix)]
    assert_eq!(mode(&filter), 0o600);
    let out = tessera(&[
        "verify",
        "--keys",
        s(&keys),
        "--filter",
        s(&filter),
        "--json",
        &first,
    ]);
    fails(&out, 1);
    assert_eq!(json(&stdout(&out))["error"], "revoked");
    ok(&[
        "verify",
        "--keys",
        s(&keys),
        "--filter",
        s(&filter),
        &second,
    ]);
    // By id and deadline, as `verify --json` prints them; earlier revocations stay.
    let v = json(&ok(&["verify", "--keys", s(&keys), "--json", &second]));
    let deadline = v["deadline"].to_string();
    let id = v["session_id"].as_str().unwrap();
    let out = ok(&[
        "revoke",
        "--filter",
        s(&filter),
        "--id",
        id,
        "--deadline",
        &deadline,
    ]);
    // An operator-given deadline covers its hour only, and the output says so.
    assert!(out.contains("if its deadline is in the hour of"), "{out}");
    assert!(out.contains("without --deadline, --id covers any"), "{out}");
    for token in [&first, &second] {
        fails(
            &tessera(&["verify", "--keys", s(&keys), "--filter", s(&filter), token]),
            1,
        );
    }
    // A token that does not verify cannot be revoked by token.
    let out = tessera(&[
        "revoke",
        "--filter",
        s(&filter),
        "--token",
        "tsr1.AAAA",
        "--keys",
        s(&keys),
    ]);
    fails(&out, 1);
    // A corrupt snapshot is an error, never silently replaced by an empty one.
    let corrupt = dir.path("corrupt.bin");
    fs::write(&corrupt, b"not a snapshot").unwrap();
    let out = tessera(&[
        "revoke",
        "--filter",
        s(&corrupt),
        "--id",
        id,
        "--deadline",
        &deadline,
    ]);
    assert!(fails(&out, 2).contains("corrupt revocation snapshot"));
    assert_eq!(fs::read(&corrupt).unwrap(), b"not a snapshot");
    let out = tessera(&[
        "verify",
        "--keys",
        s(&keys),
        "--filter",
        s(&corrupt),
        &second,
    ]);
    fails(&out, 2);
}

/// An operator's link to the deployed keyset: edits reach the file the
/// deployment ships, and the link stays a link.
#[cfg(unix)]
#[test]
fn edits_through_a_symbolic_link_change_its_target() {
    let dir = Scratch::new("symlink");
    fs::create_dir_all(dir.path("real")).unwrap();
    let real = dir.keyset("real/issuer.json");
    let link = dir.path("link.json");
    std::os::unix::fs::symlink("real/issuer.json", &link).unwrap();
    let added: u64 = ok(&["add", s(&link)]).parse().unwrap();
    let rotated: u64 = ok(&["rotate", s(&link)]).parse().unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("real/issuer.json"));
    let held = ids(&real);
    assert!(held.contains(&added) && held.contains(&rotated), "{held:?}");
    assert_eq!(primary(&real), rotated.to_string());
    assert_eq!(mode(&real), 0o600);
    // export-verifier --force through a link writes the link's target too.
    let vreal = dir.path("real/verifier.json");
    let vlink = dir.path("verifier.json");
    std::os::unix::fs::symlink(&vreal, &vlink).unwrap();
    ok(&["export-verifier", s(&link), "--out", s(&vlink), "--force"]);
    assert!(fs::symlink_metadata(&vlink)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(ids(&vreal), held);
}

/// Many editors at once, as separate processes: each waits for the keyset's
/// lock, so every key that any of them added is in the final file.
#[test]
fn concurrent_edits_lose_no_update() {
    const EDITORS: usize = 12;
    let dir = Scratch::new("concurrent");
    let keys = dir.keyset("keys.json");
    let first = ids(&keys);
    let children: Vec<_> = (0..EDITORS)
        .map(|i| {
            let command = if i % 4 == 3 { "rotate" } else { "add" };
            Command::new(env!("CARGO_BIN_EXE_tessera"))
                .args([command, s(&keys)])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut added = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        added.push(stdout(&out).trim().parse::<u64>().unwrap());
    }
    let held = ids(&keys);
    for id in first.iter().chain(&added) {
        assert!(held.contains(id), "key {id} was lost: {held:?}");
    }
    assert_eq!(held.len(), 1 + EDITORS);
    assert!(added.contains(&primary(&keys).parse().unwrap()));
    // The lock file stays beside the keyset; nothing else is left.
    let mut names: Vec<_> = fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["keys.json", "keys.json.lock"]);
}

/// `ulimit -f 0` makes every write to a regular file fail (EFBIG), even for
/// root, so the save fails after the keyset was read.
#[cfg(unix)]
#[test]
fn a_failed_save_leaves_the_previous_file_intact() {
    let dir = Scratch::new("failed-save");
    let keys = dir.keyset("keys.json");
    let before = fs::read(&keys).unwrap();
    for command in ["add", "rotate"] {
        let out = Command::new("sh")
            .arg("-c")
            .arg("ulimit -f 0 && trap '' XFSZ && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_tessera"))
            .args([command, s(&keys)])
            .output()
            .unwrap();
        let line = fails(&out, 2);
        assert!(line.contains(s(&keys)), "{line}");
        assert_eq!(
            fs::read(&keys).unwrap(),
            before,
            "{command} damaged the keyset"
        );
        let left: Vec<_> = fs::read_dir(&dir.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|name| name != "keys.json.lock")
            .collect();
        assert_eq!(left, ["keys.json"], "temporary file left behind");
    }
    ok(&["list", s(&keys)]);
    // Renaming onto a non-empty folder fails too; the folder is untouched.
    let taken = dir.path("taken");
    fs::create_dir_all(taken.join("inner")).unwrap();
    let out = tessera(&["keygen", "--out", s(&taken), "--force"]);
    fails(&out, 2);
    assert!(taken.join("inner").is_dir());
}

/// `keygen --out -` writes the keyset to standard output and still tells
/// the new key's id, on standard error.
#[test]
fn keygen_to_standard_output_tells_the_key_id_on_standard_error() {
    let out = tessera(&["keygen", "--out", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let keyset = stdout(&out);
    let listed = with_stdin(&["list", "-", "--json"], &keyset);
    let primary = json(&stdout(&listed))["primary"].to_string();
    let told = stderr(&out);
    assert_eq!(told.lines().count(), 1, "{told:?}");
    assert_eq!(told.trim(), format!("new primary key {primary}"));
}

/// The usage error of `revoke` without a session names both ways to give one.
#[test]
fn revoke_without_a_session_names_both_ways_to_give_one() {
    let dir = Scratch::new("revoke-usage");
    let filter = dir.path("f.bin");
    let line = fails(&tessera(&["revoke", "--filter", s(&filter)]), 2);
    for way in ["--token", "--keys", "--id", "--deadline"] {
        assert!(line.contains(way), "{way} missing: {line}");
    }
    assert!(!filter.exists());
}

/// "invalid token" says what usually causes it, on standard error and in the
/// `--json` message, for `verify` and `revoke --token` alike.
#[test]
fn an_invalid_token_says_what_commonly_causes_it() {
    let dir = Scratch::new("invalid-hint");
    let keys = dir.keyset("keys.json");
    let other = dir.keyset("other.json");
    let bound = ok(&[
        "issue",
        "--keys",
        s(&keys),
        "--subject",
        "a",
        "--audience",
        "billing",
    ]);
    let causes = ["invalid token", "forged", "another keyset", "--audience"];
    let out = tessera(&["verify", "--keys", s(&keys), "--json", &bound]);
    let line = fails(&out, 1);
    let verdict = json(&stdout(&out));
    assert_eq!(verdict["error"], "invalid");
    for cause in causes {
        assert!(line.contains(cause), "{cause}: {line}");
        assert!(verdict["message"].as_str().unwrap().contains(cause));
    }
    let filter = dir.path("f.bin");
    let out = tessera(&[
        "revoke",
        "--filter",
        s(&filter),
        "--token",
        &bound,
        "--keys",
        s(&keys),
    ]);
    let line = fails(&out, 1);
    for cause in causes {
        assert!(line.contains(cause), "{cause}: {line}");
    }
    // With the audience it was issued for, it verifies and revokes.
    ok(&[
        "revoke",
        "--filter",
        s(&filter),
        "--token",
        &bound,
        "--keys",
        s(&keys),
        "--audience",
        "billing",
    ]);
    // A token from another keyset: its key id is unknown here.
    let foreign = ok(&["issue", "--keys", s(&other), "--subject", "a"]);
    let line = fails(&tessera(&["verify", "--keys", s(&keys), &foreign]), 1);
    assert!(
        line.contains("unknown key id") && line.contains("another keyset"),
        "{line}"
    );
}

/// A token too long gets the same exit code, stderr line and `--json`
/// object whether it is an argument or comes on standard input, whatever
/// its length.
#[test]
fn an_oversized_token_gets_the_same_verdict_as_argument_or_on_stdin() {
    let dir = Scratch::new("oversized");
    let keys = dir.keyset("keys.json");
    let filter = dir.path("f.bin");
    for len in [8193, 16_384, 16_385, 16_390, 40_000] {
        let token = format!("tsr1.{}", "A".repeat(len - 5));
        let piped = format!("{token}\n");
        let as_arg = tessera(&["verify", "--keys", s(&keys), "--json", &token]);
        let on_stdin = with_stdin(&["verify", "--keys", s(&keys), "--json", "-"], &piped);
        assert_eq!(fails(&as_arg, 1), fails(&on_stdin, 1), "{len}");
        let verdict = json(&stdout(&as_arg));
        assert_eq!(verdict["error"], "too_large", "{len}");
        assert_eq!(verdict, json(&stdout(&on_stdin)), "{len}");
        for json_flag in [false, true] {
            let mut args = vec!["inspect"];
            if json_flag {
                args.push("--json");
            }
            let as_arg = tessera(&[args.as_slice(), &[token.as_str()]].concat());
            let on_stdin = with_stdin(&[args.as_slice(), &["-"]].concat(), &piped);
            let line = fails(&as_arg, 1);
            assert!(line.contains("too large"), "{line}");
            assert_eq!(line, fails(&on_stdin, 1), "{len}");
            assert_eq!(stdout(&as_arg), stdout(&on_stdin));
        }
        let revoke = [
            "revoke",
            "--filter",
            s(&filter),
            "--keys",
            s(&keys),
            "--token",
        ];
        let as_arg = tessera(&[revoke.as_slice(), &[token.as_str()]].concat());
        let on_stdin = with_stdin(&[revoke.as_slice(), &["-"]].concat(), &piped);
        let line = fails(&as_arg, 1);
        assert!(line.contains("too large"), "{line}");
        assert_eq!(line, fails(&on_stdin, 1), "{len}");
    }
    // Not a prefix problem: a long text without the prefix is too large too.
    let long = "x".repeat(9000);
    let line = fails(&tessera(&["inspect", &long]), 1);
    assert!(line.contains("too large"), "{line}");
}

/// `issue` without `--data` makes a token whose data is unit `()` (no
/// bytes): the library verifies it as `()`, and `verify` and `inspect` show
/// it plainly, apart from `--data null` (the JSON text "null").
#[test]
fn issue_without_data_carries_unit_data() {
    let dir = Scratch::new("unit-data");
    let keys = dir.keyset("keys.json");
    let t0 = 1_800_000_000u64;
    let now = t0.to_string();
    let unit = ok(&["issue", "--keys", s(&keys), "--subject", "a", "--now", &now]);
    let verifier = tessera::Keyset::load(&keys).unwrap().verifier_keyset();
    let verifier = tessera::Verifier::new(verifier, tessera::Policy::default());
    let session = verifier.verify_at::<()>(&unit, t0).unwrap();
    assert_eq!(session.subject(), "a");
    assert_eq!(
        verifier.verify_at::<String>(&unit, t0).err(),
        Some(tessera::Error::DataMismatch)
    );
    let v = json(&ok(&[
        "verify",
        "--keys",
        s(&keys),
        "--json",
        "--now",
        &now,
        &unit,
    ]));
    assert_eq!((&v["data"], &v["data_hex"]), (&Value::Null, &json("\"\"")));
    let text = ok(&["verify", "--keys", s(&keys), "--now", &now, &unit]);
    let data_line = text.lines().find(|l| l.starts_with("data")).unwrap();
    assert!(data_line.contains("none"), "{data_line}");
    // The JSON text `null` is data: it is a string, shown parsed back.
    let null = ok(&[
        "issue",
        "--keys",
        s(&keys),
        "--subject",
        "a",
        "--now",
        &now,
        "--data",
        "null",
    ]);
    assert_eq!(
        verifier.verify_at::<String>(&null, t0).unwrap().data(),
        "null"
    );
    let v = json(&ok(&[
        "verify",
        "--keys",
        s(&keys),
        "--json",
        "--now",
        &now,
        &null,
    ]));
    assert_eq!(
        (&v["data"], &v["data_hex"]),
        (&Value::Null, &json("\"046e756c6c\""))
    );
    let text = ok(&["verify", "--keys", s(&keys), "--now", &now, &null]);
    assert!(
        text.contains("data        null\n") || text.ends_with("data        null"),
        "{text}"
    );
    // inspect: the same header facts, five bytes fewer of claims.
    let a = json(&ok(&["inspect", "--json", &unit]));
    let b = json(&ok(&["inspect", "--json", &null]));
    assert_eq!(a["key_id"], b["key_id"]);
    assert_eq!(
        a["ciphertext_bytes"].as_u64().unwrap() + 5,
        b["ciphertext_bytes"].as_u64().unwrap()
    );
    assert!(ok(&["inspect", &unit]).contains("claims"));
}

/// `--idle` longer than the maximum lifetime (given or default) is refused
/// instead of silently cut to it.
#[test]
fn idle_longer_than_the_max_lifetime_is_refused() {
    let dir = Scratch::new("idle");
    let keys = dir.keyset("keys.json");
    let issue = |extra: &[&str]| {
        let mut args = vec![
            "issue",
            "--keys",
            s(&keys),
            "--subject",
            "a",
            "--now",
            "1800000000",
        ];
        args.extend_from_slice(extra);
        tessera(&args)
    };
    for extra in [
        vec!["--idle", "2h", "--max-lifetime", "1h"],
        vec!["--idle", "61m", "--max-lifetime", "1h"],
        vec!["--idle", "13h"],
    ] {
        let line = fails(&issue(&extra), 2);
        assert!(
            line.contains("--idle") && line.contains("--max-lifetime"),
            "{line}"
        );
    }
    let expiry = |extra: &[&str]| {
        let out = issue(extra);
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
        let token = stdout(&out).trim().to_string();
        let v = json(&ok(&[
            "verify",
            "--keys",
            s(&keys),
            "--json",
            "--now",
            "1800000000",
            &token,
        ]));
        (
            v["expires_at"].as_u64().unwrap(),
            v["deadline"].as_u64().unwrap(),
        )
    };
    let t0 = 1_800_000_000;
    assert_eq!(
        expiry(&["--idle", "1h", "--max-lifetime", "1h"]),
        (t0 + 3600, t0 + 3600)
    );
    assert_eq!(expiry(&["--idle", "12h"]), (t0 + 43_200, t0 + 43_200));
    // The default idle timeout (30m) is the one cut to a shorter lifetime.
    assert_eq!(expiry(&["--max-lifetime", "10m"]), (t0 + 600, t0 + 600));
}

/// `--now` past the year 9999, or a deadline that would be, is a usage
/// error with a clear message, for every command that takes `--now`.
#[test]
fn absurd_now_values_are_refused() {
    let dir = Scratch::new("now");
    let keys = dir.keyset("keys.json");
    let filter = dir.path("f.bin");
    let token = ok(&["issue", "--keys", s(&keys), "--subject", "a"]);
    let id = "ab".repeat(16);
    let commands: [Vec<&str>; 4] = [
        vec!["issue", "--keys", s(&keys), "--subject", "a"],
        vec!["verify", "--keys", s(&keys), &token],
        vec!["prune", s(&keys), "--max-lifetime", "12h"],
        vec![
            "revoke",
            "--filter",
            s(&filter),
            "--id",
            &id,
            "--deadline",
            "5",
        ],
    ];
    let before = fs::read(&keys).unwrap();
    for command in &commands {
        for bad in [
            "253402300800",
            "1800000000000",
            "18446744073709551615",
            "99999999999999999999999",
        ] {
            let args = [command.as_slice(), &["--now", bad]].concat();
            let line = fails(&tessera(&args), 2);
            assert!(line.contains("--now") && line.contains("9999"), "{line}");
        }
        let args = [command.as_slice(), &["--now", "-5"]].concat();
        fails(&tessera(&args), 2);
    }
    assert_eq!(fs::read(&keys).unwrap(), before);
    assert!(!filter.exists());
    let line = fails(
        &tessera(&["issue", "--keys", s(&keys), "--now", "1800000000000"]),
        2,
    );
    assert!(line.contains("milliseconds"), "{line}");
    // The last second of 9999 is a time; a deadline after it is refused.
    let last = "253402300799";
    let out = tessera(&["verify", "--keys", s(&keys), "--now", last, &token]);
    assert!(fails(&out, 1).contains("expired"));
    for extra in [
        vec!["--now", last],
        vec!["--now", "253402300000", "--max-lifetime", "1h"],
        vec!["--now", "1800000000", "--max-lifetime", "213503982334601d"],
        vec!["--max-lifetime", "213503982334601d"],
    ] {
        let args = [commands[0].as_slice(), &extra].concat();
        let line = fails(&tessera(&args), 2);
        assert!(
            line.contains("deadline") && line.contains("9999"),
            "{extra:?}: {line}"
        );
    }
    let ok_args = [
        commands[0].as_slice(),
        &["--now", "253402300000", "--max-lifetime", "10m"],
    ]
    .concat();
    ok(&ok_args);
}

/// CRC-32/IEEE, bit by bit (the snapshot format's check).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// A snapshot with a valid check whose one generation chains `links`
/// sub-filters of one empty block each (docs/FORMAT.md), then `junk`.
fn hostile_snapshot(links: u64, junk: &[u8]) -> Vec<u8> {
    let mut body = b"TSRV\x01".to_vec();
    body.extend_from_slice(&1000u64.to_le_bytes());
    body.extend_from_slice(&0.01f64.to_bits().to_le_bytes());
    body.extend_from_slice(&1u64.to_le_bytes());
    body.extend_from_slice(&0u64.to_le_bytes());
    body.extend_from_slice(&links.to_le_bytes());
    let mut sub = Vec::new();
    sub.extend_from_slice(&64u64.to_le_bytes());
    sub.extend_from_slice(&64u64.to_le_bytes());
    sub.extend_from_slice(&1e-4f64.to_bits().to_le_bytes());
    sub.extend_from_slice(&4u32.to_le_bytes());
    sub.extend_from_slice(&1u64.to_le_bytes());
    sub.extend_from_slice(&[0; 64]);
    for _ in 0..links {
        body.extend_from_slice(&sub);
    }
    body.extend_from_slice(junk);
    let check = crc32(&body);
    body.extend_from_slice(&check.to_le_bytes());
    body
}

#[test]
fn hostile_snapshots_are_a_clear_error_for_verify_and_revoke() {
    // 10 MB with 100,000 sub-filters in one chain, and the same with a byte
    // of trailing junk: both once aborted the process (a stack overflow
    // dropping the chain).
    let dir = Scratch::new("hostile-snapshot");
    let keys = dir.keyset("keys.json");
    let token = ok(&["issue", "--keys", s(&keys), "--subject", "mallory"]);
    let files = [
        ("chain.bin", hostile_snapshot(100_000, b"")),
        ("junk.bin", hostile_snapshot(100_000, b"\0")),
    ];
    for (name, bytes) in files {
        assert!(bytes.len() > 10_000_000);
        let path = dir.path(name);
        fs::write(&path, &bytes).unwrap();
        let verify = tessera(&["verify", "--keys", s(&keys), "--filter", s(&path), &token]);
        let line = fails(&verify, 2);
        assert!(line.contains("corrupt revocation snapshot"), "{line}");
        assert!(line.contains(name), "{line}");
        let revoke = tessera(&[
            "revoke",
            "--filter",
            s(&path),
            "--token",
            &token,
            "--keys",
            s(&keys),
        ]);
        let line = fails(&revoke, 2);
        assert!(line.contains("corrupt revocation snapshot"), "{line}");
        assert_eq!(fs::read(&path).unwrap(), bytes, "{name} was changed");
    }
}

#[test]
fn revoke_by_id_alone_takes_effect_whatever_the_deadline() {
    let dir = Scratch::new("revoke-id-alone");
    let keys = dir.keyset("keys.json");
    let filter = dir.path("revoked.bin");
    let t = 1_750_000_123u64;
    let issue = |lifetime: &str| {
        ok(&[
            "issue",
            "--keys",
            s(&keys),
            "--subject",
            "zoe",
            "--idle",
            lifetime,
            "--max-lifetime",
            lifetime,
            "--now",
            &t.to_string(),
        ])
    };
    let id_of = |token: &str| {
        let v = json(&ok(&[
            "verify",
            "--keys",
            s(&keys),
            "--json",
            "--now",
            &t.to_string(),
            token,
        ]));
        v["session_id"].as_str().unwrap().to_string()
    };
    let verify_at = |token: &str, now: u64| {
        tessera(&[
            "verify",
            "--keys",
            s(&keys),
            "--filter",
            s(&filter),
            "--now",
            &now.to_string(),
            token,
        ])
    };
    // A default 12 h session, revoked ten hours in by its id alone.
    let short = issue("12h");
    let later = (t + 10 * 3600).to_string();
    let out = ok(&[
        "revoke",
        "--filter",
        s(&filter),
        "--id",
        &id_of(&short),
        "--now",
        &later,
    ]);
    assert!(out.starts_with("revoked session "), "{out}");
    assert!(out.contains("for any deadline from"), "{out}");
    // From an hour before `later` to 12 h + 1 h after it: 15 hours here.
    assert!(out.ends_with("(15 deadline hours)"), "{out}");
    let line = fails(&verify_at(&short, t + 10 * 3600), 1);
    assert!(line.contains("revoked"), "{line}");
    // A two-day session needs --max-lifetime to be covered.
    let long = issue("2d");
    let long_id = id_of(&long);
    ok(&[
        "revoke",
        "--filter",
        s(&filter),
        "--id",
        &long_id,
        "--now",
        &t.to_string(),
    ]);
    ok(&[
        "verify",
        "--keys",
        s(&keys),
        "--filter",
        s(&filter),
        "--now",
        &(t + 30 * 3600).to_string(),
        &long,
    ]);
    ok(&[
        "revoke",
        "--filter",
        s(&filter),
        "--id",
        &long_id,
        "--max-lifetime",
        "2d",
        "--now",
        &t.to_string(),
    ]);
    fails(&verify_at(&long, t + 30 * 3600), 1);
    // The first revocation is still there.
    fails(&verify_at(&short, t + 10 * 3600), 1);

    // A deadline already past cannot match: an error, and no file written.
    let other = dir.path("other.bin");
    let out = tessera(&[
        "revoke",
        "--filter",
        s(&other),
        "--id",
        &long_id,
        "--deadline",
        &t.to_string(),
        "--now",
        &(t + 2 * 3600).to_string(),
    ]);
    let line = fails(&out, 2);
    assert!(line.contains("nothing revoked"), "{line}");
    assert!(!other.exists());
    // Too long a lifetime to cover, or --max-lifetime with an exact deadline.
    let out = tessera(&[
        "revoke",
        "--filter",
        s(&other),
        "--id",
        &long_id,
        "--max-lifetime",
        "400d",
    ]);
    assert!(fails(&out, 2).contains("366 days"));
    assert!(!other.exists());
    let out = tessera(&[
        "revoke",
        "--filter",
        s(&other),
        "--id",
        &long_id,
        "--max-lifetime",
        "1d",
        "--deadline",
        "1",
    ]);
    fails(&out, 2);
}
