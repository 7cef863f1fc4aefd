//! `tessera revoke --subject`, `--redis` and `fleet status`, run for real.
//! The Redis parts use `REDIS_URL` like tests/fleet.rs: skipped with a line
//! when Redis is unreachable, failed when `TESSERA_REQUIRE_REDIS=1`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tessera-fleet-cli-{name}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = tessera(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn revoke_subject_in_a_file_is_read_by_verify() {
    let dir = Scratch::new("subject-file");
    let keys = dir.path("keys.json");
    let filter = dir.path("revoked.bin");
    ok(&["keygen", "--out", &keys]);
    let t = now();
    let (old_at, cut, new_at) = (
        (t - 600).to_string(),
        (t - 300).to_string(),
        (t - 300).to_string(),
    );
    let old = ok(&[
        "issue",
        "--keys",
        &keys,
        "--subject",
        "alice",
        "--now",
        &old_at,
    ]);
    let new = ok(&[
        "issue",
        "--keys",
        &keys,
        "--subject",
        "alice",
        "--now",
        &new_at,
    ]);
    let bob = ok(&[
        "issue",
        "--keys",
        &keys,
        "--subject",
        "bob",
        "--now",
        &old_at,
    ]);
    let out = ok(&[
        "revoke",
        "--filter",
        &filter,
        "--subject",
        "alice",
        "--before",
        &cut,
    ]);
    assert!(out.contains("alice"), "{out}");
    assert!(Path::new(&format!("{filter}.subjects")).exists());
    assert!(
        !Path::new(&filter).exists(),
        "the session snapshot is not needed"
    );
    // verify --filter needs the session snapshot too: make one.
    ok(&[
        "revoke",
        "--filter",
        &filter,
        "--id",
        &"00".repeat(16),
        "--deadline",
        &(t + 3600).to_string(),
    ]);
    let verify = |token: &str| tessera(&["verify", "--keys", &keys, "--filter", &filter, token]);
    let rejected = verify(&old);
    assert_eq!(rejected.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&rejected.stderr).contains("revoked"));
    assert!(verify(&new).status.success());
    assert!(verify(&bob).status.success());
    // A corrupt subjects file is an error, never an empty table.
    fs::write(format!("{filter}.subjects"), b"garbage").unwrap();
    assert_eq!(verify(&new).status.code(), Some(2));
}

fn redis_url() -> Option<String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let reachable = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection_with_timeout(std::time::Duration::from_secs(2)))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_ok();
    if reachable {
        return Some(url);
    }
    if std::env::var("TESSERA_REQUIRE_REDIS").as_deref() == Ok("1") {
        panic!("TESSERA_REQUIRE_REDIS=1 but no Redis answers at {url}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED tests/fleet_cli.rs Redis parts: no Redis at {url}"
    );
    None
}

/// Deletes the prefix's keys on drop.
struct Keys(String, String);

impl Drop for Keys {
    fn drop(&mut self) {
        if let Ok(mut c) = redis::Client::open(self.0.as_str()).and_then(|c| c.get_connection()) {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}:*", self.1))
                .query(&mut c)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut c);
            }
        }
    }
}

#[test]
fn publish_revoke_and_status_through_redis() {
    let Some(url) = redis_url() else { return };
    let prefix = format!("tessera-test:cli:{}-{}", std::process::id(), now());
    let _cleanup = Keys(url.clone(), prefix.clone());
    let dir = Scratch::new("redis");
    let keys = dir.path("keys.json");
    ok(&["keygen", "--out", &keys]);
    ok(&["add", &keys]);
    let fleet = ["--redis", url.as_str(), "--prefix", prefix.as_str()];

    let empty: Value = serde_json::from_str(&ok(
        &[&["fleet", "status", "--json"][..], &fleet[..]].concat()
    ))
    .unwrap();
    assert_eq!(empty["stream"]["length"], 0);
    assert!(empty["keyset"].is_null() && empty["snapshot"].is_null());

    // Publish only (no --out), then two revocations.
    let out = tessera(&[&["export-verifier", keys.as_str()][..], &fleet[..]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(&[&["revoke", "--subject", "alice"][..], &fleet[..]].concat());
    let id = "ab".repeat(16);
    let deadline = (now() + 3600).to_string();
    ok(&[
        &["revoke", "--id", &id, "--deadline", &deadline][..],
        &fleet[..],
    ]
    .concat());

    let status: Value =
        serde_json::from_str(&ok(
            &[&["fleet", "status", "--json"][..], &fleet[..]].concat()
        ))
        .unwrap();
    assert_eq!(status["stream"]["length"], 3);
    let listed: Value = serde_json::from_str(&ok(&["list", &keys, "--json"])).unwrap();
    let ids: Vec<Value> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].clone())
        .collect();
    assert_eq!(status["keyset"]["key_ids"], Value::Array(ids));
    let text = ok(&[&["fleet", "status"][..], &fleet[..]].concat());
    assert!(
        text.contains("3 entries") && text.contains("key ids"),
        "{text}"
    );

    // An id alone: one entry per hour of deadlines a live session can have
    // (from now - 1 h to now + 12 h + 1 h: 15 hours), each hour exactly once.
    let t = now();
    let alone = "cd".repeat(16);
    let out = ok(&[
        &["revoke", "--id", &alone, "--now", &t.to_string()][..],
        &fleet[..],
    ]
    .concat());
    assert!(out.contains("15 entries"), "{out}");
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("{prefix}:stream"))
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .unwrap();
    let hex = alone.as_str();
    let hours: Vec<u64> = entries
        .iter()
        .filter(|(_, fields)| fields.iter().any(|(k, v)| k == "id" && v == hex))
        .map(|(_, fields)| {
            let deadline = &fields.iter().find(|(k, _)| k == "deadline").unwrap().1;
            deadline.parse::<u64>().unwrap() / 3600
        })
        .collect();
    let first = (t - 3600) / 3600;
    assert_eq!(hours, (first..first + 15).collect::<Vec<_>>());

    // Unreachable Redis: exit 2 with one line.
    let out = tessera(&["fleet", "status", "--redis", "redis://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}
