//! The abuse guard through its public API: fixed memory, blocking and
//! unblocking, honest clients spared, IPv6 /64 grouping, new-session limits,
//! the anomaly signal, with the default configuration.
//!
//! Every input is deterministic. The guard's hash key is random per process,
//! so which honest clients share cells differs from run to run; each bound
//! below holds with a failure probability noted next to it (all below 1e-12).

#[path = "support/counting_allocator.rs"]
mod counting_allocator;
use counting_allocator::allocations;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use tessera::{Error, Guard, GuardConfig};

/// A minute boundary, so "within a minute" means one calendar minute.
const T0: u64 = 1_750_000_020;
const WINDOW: u64 = 15 * 60;
const SESSION_WINDOW: u64 = 10 * 60;

/// SplitMix64: deterministic addresses.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A random IPv4 address in 10.0.0.0/8 (never one of the fixed ones below).
    fn v4(&mut self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(
            0x0a00_0000 | (self.next() as u32 & 0x00ff_ffff),
        ))
    }

    /// A random IPv6 address anywhere.
    fn v6(&mut self) -> IpAddr {
        let hi = u128::from(self.next()) << 64;
        IpAddr::V6(Ipv6Addr::from(hi | u128::from(self.next())))
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn defaults_are_as_documented() {
    let c = GuardConfig::default();
    assert_eq!(c.max_failures, 50);
    assert_eq!(c.window.as_secs(), WINDOW);
    assert_eq!(c.max_new_sessions, 60);
    assert_eq!(c.session_window.as_secs(), SESSION_WINDOW);
    assert!(c.memory_budget <= 1 << 20);
    let guard = Guard::new(c);
    assert_eq!(guard.config(), c);
    println!("default guard: {} bytes", guard.memory_bytes());
}

#[test]
fn a_million_clients_leave_memory_unchanged_and_allocate_nothing() {
    let guard = Guard::new(GuardConfig::default());
    let before = guard.memory_bytes();
    assert!(before <= GuardConfig::default().memory_budget);
    let mut rng = Rng(1);
    let ((), allocated) = allocations(|| {
        for i in 0..1_000_000u64 {
            // Half IPv4, half IPv6 in distinct /64s, all within one window.
            let client = if i % 2 == 0 {
                IpAddr::V4(Ipv4Addr::from(i as u32))
            } else {
                rng.v6()
            };
            let now = T0 + i / 2_000;
            let _ = guard.is_blocked(client, now);
            guard.record_failure(client, now);
            let _ = guard.allow_new_session(client, now);
        }
    });
    assert_eq!(allocated, 0, "checks and records never allocate");
    assert_eq!(guard.memory_bytes(), before);
    assert_eq!(guard.counters().failures, 1_000_000);
}

#[test]
fn a_burst_blocks_and_lifts_after_a_quiet_window() {
    let client = ip("203.0.113.9");
    let other = ip("203.0.113.10");
    // Every alignment of the burst within a half window.
    for offset in (0..WINDOW / 2).step_by(37) {
        let guard = Guard::new(GuardConfig::default());
        let t = T0 + offset;
        for _ in 0..100 {
            guard.record_failure(client, t);
        }
        assert!(guard.is_blocked(client, t), "offset {offset}");
        assert!(!guard.is_blocked(other, t), "offset {offset}");
        // Blocked for at least half a window...
        assert!(
            guard.is_blocked(client, t + WINDOW / 2 - 1),
            "offset {offset}"
        );
        // ...and no longer than one.
        assert!(!guard.is_blocked(client, t + WINDOW), "offset {offset}");
        assert!(
            !guard.is_blocked(client, t + 10 * WINDOW),
            "offset {offset}"
        );
    }
}

/// Blocks lift for every window length and every starting time, including
/// those where a never-used cell (tag 0) looks "ahead" of the clock: a fresh
/// cell must start counting at the current half window, or its counts never
/// age and the client stays blocked for good.
#[test]
fn blocks_lift_for_every_window_and_start_time() {
    let client = ip("203.0.113.77");
    for window in [1u64, 2, 10, 60, 300, 420, 900, 3600] {
        // Start times across a full cycle of half-window tags (2^24 of them).
        for step in 0..16u64 {
            let half = (window / 2).max(1);
            let t = step * (1 << 20) * half + 1_700_000_000 % half + 7;
            let guard = Guard::new(GuardConfig {
                max_failures: 1,
                window: Duration::from_secs(window),
                ..GuardConfig::default()
            });
            guard.record_failure(client, t);
            assert!(guard.is_blocked(client, t), "window {window}, t {t}");
            assert!(
                !guard.is_blocked(client, t + 10 * window.max(2)),
                "window {window}, t {t}: still blocked ten windows later"
            );
            // The same holds for new sessions.
            let sessions = Guard::new(GuardConfig {
                max_new_sessions: 1,
                session_window: Duration::from_secs(window),
                ..GuardConfig::default()
            });
            assert!(sessions.allow_new_session(client, t));
            assert!(!sessions.allow_new_session(client, t));
            assert!(
                sessions.allow_new_session(client, t + 10 * window.max(2)),
                "window {window}, t {t}: sessions refused ten windows later"
            );
        }
    }
}

#[test]
fn the_limit_is_exact_for_a_lone_client() {
    let guard = Guard::new(GuardConfig::default());
    let client = ip("198.51.100.1");
    for n in 0..50 {
        assert!(!guard.is_blocked(client, T0), "blocked after {n}");
        guard.record_failure(client, T0);
    }
    assert!(guard.is_blocked(client, T0));
}

#[test]
fn an_attacker_is_blocked_and_honest_clients_are_not() {
    let guard = Guard::new(GuardConfig::default());
    let attacker = ip("203.0.113.66");
    let mut rng = Rng(2);
    let honest: Vec<IpAddr> = (0..10_000).map(|_| rng.v4()).collect();
    // Interleaved, within one minute.
    for (i, client) in honest.iter().enumerate() {
        let now = T0 + i as u64 * 60 / 10_000;
        guard.record_failure(attacker, now);
        guard.record_failure(*client, now);
    }
    let now = T0 + 59;
    assert!(guard.is_blocked(attacker, now));
    let blocked = honest.iter().filter(|c| guard.is_blocked(**c, now)).count();
    println!("honest clients blocked: {blocked} of 10000");
    // An honest client is blocked only if each of its 4 cells holds 49 other
    // failures: the attacker's (probability 1/16k per row) or ~49 of the
    // 10,000 others (each cell expects 0.6). Far below 1e-12 per client.
    assert!(blocked <= 100, "{blocked} honest clients blocked");
    assert_eq!(blocked, 0);
}

#[test]
fn rotating_within_a_64_blocks_the_64_and_nothing_else() {
    let guard = Guard::new(GuardConfig::default());
    let prefix: u128 = 0x2001_0db8_00aa_00bb << 64;
    let mut rng = Rng(3);
    for i in 0..200 {
        let addr = IpAddr::V6(Ipv6Addr::from(prefix | u128::from(rng.next())));
        guard.record_failure(addr, T0 + i);
    }
    let now = T0 + 200;
    for _ in 0..100 {
        let fresh = IpAddr::V6(Ipv6Addr::from(prefix | u128::from(rng.next())));
        assert!(guard.is_blocked(fresh, now), "{fresh}");
    }
    // The neighbouring /64s and /48.
    for outside in [
        "2001:db8:aa:ba:ffff:ffff:ffff:ffff",
        "2001:db8:aa:bc::",
        "2001:db8:ab:bb::1",
    ] {
        assert!(!guard.is_blocked(ip(outside), now), "{outside}");
    }
    // 10,000 random addresses outside it, IPv6 and IPv4: an outsider is
    // blocked only if all 4 of its cells are the /64's (about 1e-17 each).
    for _ in 0..5_000 {
        let v6 = rng.v6();
        let v4 = rng.v4();
        assert!(!guard.is_blocked(v6, now), "{v6}");
        assert!(!guard.is_blocked(v4, now), "{v4}");
    }
    let top = guard.top_offenders(1);
    assert_eq!(top[0].client, ip("2001:db8:aa:bb::"));
    assert_eq!(top[0].failures, 200);
}

#[test]
fn ipv4_mapped_addresses_count_as_ipv4() {
    let guard = Guard::new(GuardConfig::default());
    for i in 0..50 {
        let addr = if i % 2 == 0 {
            "192.0.2.33"
        } else {
            "::ffff:192.0.2.33"
        };
        guard.record_failure(ip(addr), T0);
    }
    assert!(guard.is_blocked(ip("192.0.2.33"), T0));
    assert!(guard.is_blocked(ip("::ffff:192.0.2.33"), T0));
    assert!(!guard.is_blocked(ip("192.0.2.34"), T0));
}

#[test]
fn new_sessions_are_capped_per_client() {
    let config = GuardConfig::default();
    let guard = Guard::new(config);
    let client = ip("198.51.100.20");
    for n in 0..config.max_new_sessions {
        assert!(
            guard.allow_new_session(client, T0 + u64::from(n)),
            "session {n}"
        );
    }
    let later = T0 + 120;
    assert!(!guard.allow_new_session(client, later));
    assert!(
        !guard.allow_new_session(client, later),
        "a refusal is not counted"
    );
    // Other clients, including a neighbour, are unaffected.
    for other in ["198.51.100.21", "2001:db8::1"] {
        for n in 0..config.max_new_sessions {
            assert!(
                guard.allow_new_session(ip(other), later),
                "{other}: session {n}"
            );
        }
        assert!(!guard.allow_new_session(ip(other), later));
    }
    // Failures and sessions are separate.
    assert!(!guard.is_blocked(client, later));
    // Allowed again once the window has passed.
    assert!(guard.allow_new_session(client, T0 + SESSION_WINDOW + 60));
    let c = guard.counters();
    assert_eq!(c.sessions_allowed, 3 * 60 + 1);
    assert_eq!(c.sessions_refused, 4);
}

#[test]
fn a_spread_campaign_raises_the_anomaly_signal_and_a_normal_hour_does_not() {
    let guard = Guard::new(GuardConfig::default());
    let mut rng = Rng(4);
    // A normal hour: 20 to 80 failures a minute from random addresses
    // (mistyped passwords, stale cookies), a few repeat offenders.
    for minute in 0..60 {
        let start = T0 + minute * 60;
        let n = 20 + rng.next() % 61;
        for _ in 0..n {
            let client = if rng.next().is_multiple_of(4) {
                ip("198.51.100.7")
            } else {
                rng.v4()
            };
            guard.record_failure(client, start + rng.next() % 60);
        }
        assert!(!guard.anomaly(start + 59), "normal minute {minute}");
    }
    assert_eq!(guard.counters().anomalies, 0);

    // The campaign: 100,000 addresses, one failure each, in one minute.
    let start = T0 + 60 * 60;
    let campaign: Vec<IpAddr> = (0..100_000).map(|_| rng.v6()).collect();
    for (i, client) in campaign.iter().enumerate() {
        let now = start + i as u64 * 60 / 100_000;
        assert!(
            !guard.is_blocked(*client, now),
            "no per-client limit sees it"
        );
        guard.record_failure(*client, now);
    }
    assert!(guard.anomaly(start + 59));
    assert_eq!(
        guard.counters().anomalies,
        1,
        "raised once a minute at most"
    );
    // Quiet again: the signal lowers after the next minute.
    assert!(guard.anomaly(start + 60 + 30));
    assert!(!guard.anomaly(start + 120));
}

#[test]
fn a_sustained_campaign_keeps_the_signal_up() {
    let guard = Guard::new(GuardConfig::default());
    let mut rng = Rng(5);
    for minute in 0..30 {
        for _ in 0..30 {
            guard.record_failure(rng.v4(), T0 + minute * 60 + rng.next() % 60);
        }
    }
    // Ten minutes of 2,000 failures a minute: anomalous minutes are not
    // learned, so the baseline does not catch up.
    for minute in 30..40 {
        for i in 0..2_000 {
            guard.record_failure(rng.v6(), T0 + minute * 60 + i * 60 / 2_000);
        }
        assert!(guard.anomaly(T0 + minute * 60 + 59), "minute {minute}");
    }
    assert_eq!(guard.counters().anomalies, 10);
}

#[test]
fn the_default_stops_a_brute_forcer_within_a_hundred_failures() {
    let guard = Guard::new(GuardConfig::default());
    let attacker = ip("203.0.113.200");
    let household = ip("192.0.2.50");
    let office = ip("2001:db8:0ff1:ce::1");
    let mut rng = Rng(6);
    let mut through = Vec::new(); // times of the attacker's attempts that were let through
    let mut refused = 0u64;
    for second in 0..24 * 3600 {
        let now = T0 + second;
        // The attacker tries ten times a second, all day, as fast as allowed.
        for _ in 0..10 {
            if guard.is_blocked(attacker, now) {
                refused += 1;
            } else {
                guard.record_failure(attacker, now);
                through.push(now);
            }
        }
        // A household or office behind one NAT address: a failure every 19
        // seconds (47 or 48 in any 15 minutes), never blocked.
        if second % 19 == 0 {
            assert!(!guard.is_blocked(household, now), "household at {second}");
            guard.record_failure(household, now);
        }
        // An office opening a new session every 10 seconds (60 in any 10
        // minutes), never refused.
        if second % 10 == 0 {
            assert!(guard.allow_new_session(office, now), "office at {second}");
        }
        // Background: other users' occasional failures.
        if second % 3 == 0 {
            guard.record_failure(rng.v4(), now);
        }
    }
    // Stopped at the 50th failure...
    assert_eq!(through.get(49).copied(), Some(T0 + 4));
    assert!(guard.is_blocked(attacker, T0 + 5));
    // ...and never more than 100 in any 15 minutes all day.
    let most = through
        .iter()
        .enumerate()
        .map(|(i, &t)| through[i..].iter().take_while(|&&u| u < t + WINDOW).count())
        .max()
        .unwrap();
    println!(
        "brute-forcer: {} failures in a day ({refused} attempts refused), at most {most} in any 15 minutes",
        through.len()
    );
    assert!(most <= 100, "{most}");
    // Each aligned window lets through at most 50: about 200 an hour.
    assert!(through.len() <= 50 * (24 * 4 + 1), "{}", through.len());
    assert_eq!(guard.top_offenders(1)[0].client, attacker);
}

#[test]
fn rejections_are_counted_by_reason_and_only_guesses_held_against_the_client() {
    let guard = Guard::new(GuardConfig::default());
    let browser = ip("192.0.2.80");
    let forger = ip("192.0.2.81");
    for _ in 0..1_000 {
        guard.record_rejection(browser, &Error::Expired, T0);
        guard.record_rejection(browser, &Error::Revoked, T0);
        guard.record_rejection(browser, &Error::NotYetValid, T0);
        guard.record_rejection(browser, &Error::DataMismatch, T0);
    }
    assert!(!guard.is_blocked(browser, T0));
    let guesses = [
        Error::Malformed,
        Error::UnsupportedVersion,
        Error::UnknownKey,
        Error::Invalid,
        Error::TooLarge,
    ];
    for i in 0..50 {
        guard.record_rejection(forger, &guesses[i % guesses.len()], T0);
    }
    assert!(guard.is_blocked(forger, T0));
    guard.record_rejection(forger, &Error::Rng, T0);
    guard.record_success(browser, T0);
    let c = guard.counters();
    assert_eq!(c.verified, 1);
    assert_eq!(c.failures, 50);
    assert_eq!(c.blocked, 1);
    let r = c.rejected;
    assert_eq!(
        (r.expired, r.revoked, r.not_yet_valid),
        (1_000, 1_000, 1_000)
    );
    assert_eq!(
        (
            r.malformed,
            r.unsupported_version,
            r.unknown_key,
            r.invalid,
            r.too_large
        ),
        (10, 10, 10, 10, 10)
    );
    assert_eq!(r.other, 1);
    assert_eq!(r.data_mismatch, 1_000);
    assert_eq!(r.total(), 4_051);
}

#[test]
fn top_offenders_are_the_heaviest_first() {
    let guard = Guard::new(GuardConfig::default());
    let heavy = [ip("203.0.113.1"), ip("2001:db8:9::5"), ip("203.0.113.3")];
    let mut rng = Rng(7);
    for i in 0..10_000u64 {
        let now = T0 + i / 100;
        guard.record_failure(rng.v4(), now);
        if i % 20 == 0 {
            guard.record_failure(heavy[0], now);
        }
        if i % 25 == 0 {
            guard.record_failure(heavy[1], now);
        }
        if i % 40 == 0 {
            guard.record_failure(heavy[2], now);
        }
    }
    // Space-saving keeps every client with more than 1/64 of the failures
    // (here 10,850 / 64 = 170); these have 500, 400 and 250.
    let top = guard.top_offenders(3);
    let clients: Vec<IpAddr> = top.iter().map(|o| o.client).collect();
    assert_eq!(clients, [heavy[0], ip("2001:db8:9::"), heavy[2]]);
    for (o, truth) in top.iter().zip([500, 400, 250]) {
        assert!(
            o.failures >= truth && o.failures - o.overcount <= truth,
            "{o:?}"
        );
    }
    assert!(guard.top_offenders(1_000).len() <= 64);
    assert!(guard.top_offenders(0).is_empty());
    // Quartered two windows later.
    guard.record_failure(heavy[1], T0 + 100 + 2 * WINDOW);
    let later = guard.top_offenders(2);
    assert_eq!(later[0].client, heavy[0]);
    assert_eq!(later[0].failures, top[0].failures / 4);
    assert_eq!(later[1].failures, top[1].failures / 4 + 1);
}

#[test]
fn config_is_clamped_not_trusted_blindly() {
    let config = GuardConfig {
        max_failures: 0,
        window: std::time::Duration::from_millis(10),
        max_new_sessions: u32::MAX,
        session_window: std::time::Duration::from_secs(u64::MAX),
        memory_budget: usize::MAX,
        ..GuardConfig::default()
    };
    let e = config.effective();
    assert_eq!(e.max_failures, 1);
    assert_eq!(e.window.as_secs(), 2);
    assert_eq!(e.max_new_sessions, GuardConfig::MAX_LIMIT);
    assert_eq!(e.memory_budget, GuardConfig::MAX_MEMORY_BUDGET);
    // (Not built with 1 GiB here: the same limits on the default budget.)
    let guard = Guard::new(GuardConfig {
        memory_budget: 1 << 20,
        ..config
    });
    assert_eq!(
        guard.config(),
        GuardConfig {
            memory_budget: 1 << 20,
            ..e
        }
    );
    let client = ip("192.0.2.1");
    assert!(!guard.is_blocked(client, u64::MAX));
    guard.record_failure(client, u64::MAX);
    assert!(guard.is_blocked(client, u64::MAX));
    assert!(guard.allow_new_session(client, u64::MAX));
    let tiny = Guard::new(GuardConfig {
        memory_budget: 0,
        ..GuardConfig::default()
    });
    assert!(tiny.memory_bytes() <= GuardConfig::MIN_MEMORY_BUDGET);
}

#[test]
fn many_attackers_block_few_honest_clients() {
    // 2,000 attacking addresses over the limit: a count-min sketch blocks an
    // honest client only if each of its 4 cells (of about 16,000 a row)
    // holds one of them, a chance of (1 - e^(-2000/16346))^4 = 1.7e-4
    // (docs/guard.md has the figures for other loads).
    let guard = Guard::new(GuardConfig::default());
    let mut rng = Rng(8);
    let attackers: Vec<IpAddr> = (0..2_000).map(|_| rng.v6()).collect();
    for _ in 0..60 {
        for a in &attackers {
            guard.record_failure(*a, T0);
        }
    }
    assert!(attackers.iter().all(|a| guard.is_blocked(*a, T0)));
    let honest: Vec<IpAddr> = (0..10_000).map(|_| rng.v4()).collect();
    for h in &honest {
        guard.record_failure(*h, T0);
    }
    let blocked = honest.iter().filter(|h| guard.is_blocked(**h, T0)).count();
    println!("honest clients blocked beside 2,000 attackers: {blocked} of 10000");
    // Expected 1.7; more than 100 has a probability far below 1e-12.
    assert!(blocked <= 100, "{blocked} of 10000 honest clients blocked");
}

#[test]
fn concurrent_failures_are_never_lost() {
    // 8 threads, 10,000 failures each, one client: exactly 80,000 counted.
    for (limit, blocked) in [(80_000, true), (80_001, false)] {
        let guard = Guard::new(GuardConfig {
            max_failures: limit,
            ..GuardConfig::default()
        });
        let client = ip("192.0.2.99");
        std::thread::scope(|s| {
            for t in 0..8 {
                let guard = &guard;
                s.spawn(move || {
                    for i in 0..10_000 {
                        // Two threads a second behind the others.
                        let now = T0 + i / 1_000 - u64::from(t < 2 && i >= 1_000);
                        guard.record_failure(client, now);
                    }
                });
            }
        });
        assert_eq!(guard.is_blocked(client, T0 + 10), blocked, "limit {limit}");
        assert_eq!(guard.counters().failures, 80_000);
    }
}
