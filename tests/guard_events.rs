//! The abuse guard's `tracing` events. Its own test binary: one global
//! subscriber, installed before any event is emitted, records every thread's
//! events, and each test reads its own thread's. (Thread-scoped subscribers
//! race with callsite registration when tests run in parallel.)

use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::thread::{self, ThreadId};

use tessera::{Guard, GuardConfig};
use tracing::Level;

/// A minute boundary.
const T0: u64 = 1_750_000_020;

/// Every event so far: the thread, the level and the fields as `name=value`.
static EVENTS: Mutex<Vec<(ThreadId, Level, String)>> = Mutex::new(Vec::new());

struct Recorder;

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let level = *event.metadata().level();
        let mut events = EVENTS.lock().unwrap_or_else(|e| e.into_inner());
        events.push((thread::current().id(), level, fields.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Installs the recorder (once per binary). Call first in every test.
fn record() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(Recorder).unwrap());
}

/// This thread's events at `level`.
fn events(level: Level) -> Vec<String> {
    let me = thread::current().id();
    let events = EVENTS.lock().unwrap_or_else(|e| e.into_inner());
    events
        .iter()
        .filter(|(t, l, _)| *t == me && *l == level)
        .map(|(_, _, s)| s.clone())
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn a_block_is_reported_once_with_the_client_key() {
    record();
    let guard = Guard::new(GuardConfig::default());
    for _ in 0..120 {
        guard.record_failure(ip("2001:db8:5:6:7::8"), T0);
    }
    let info = events(Level::INFO);
    assert_eq!(info.len(), 1, "{info:?}");
    // The /64 the guard counts, not the full address.
    assert!(info[0].contains("client=2001:db8:5:6::"), "{}", info[0]);
    assert!(info[0].contains("failures=50"), "{}", info[0]);
    assert!(events(Level::WARN).is_empty());
}

#[test]
fn a_spread_campaign_is_reported_once_a_minute_without_addresses() {
    record();
    let guard = Guard::new(GuardConfig::default());
    // Half an hour at 30 failures a minute from 30 addresses, then a minute
    // of 5,000 failures from 5,000 addresses.
    for minute in 0..30 {
        for i in 0..30 {
            guard.record_failure(ip(&format!("10.0.0.{i}")), T0 + minute * 60 + 2 * i);
        }
    }
    assert!(events(Level::WARN).is_empty());
    let start = T0 + 30 * 60;
    for i in 0..5_000u32 {
        let client = IpAddr::from(std::net::Ipv4Addr::from(0x0a01_0000u32 + i));
        guard.record_failure(client, start + u64::from(i) * 60 / 5_000);
    }
    assert!(guard.anomaly(start + 59));
    let warnings = events(Level::WARN);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("failures_this_minute=401"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[0].contains("baseline_per_minute=30.0"),
        "{}",
        warnings[0]
    );
    assert!(!warnings[0].contains("client"), "{}", warnings[0]);
    assert!(
        events(Level::INFO).is_empty(),
        "no single client was blocked"
    );
}
