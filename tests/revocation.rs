//! The revocation filter through the public API: no false negatives, the
//! false-positive rate and memory it promises, pruning, snapshots and
//! concurrency. Every random input comes from a fixed seed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

#[cfg(feature = "property-tests")]
use proptest::prelude::*;
use tessera::{Error, Issuer, Keyset, Policy, RevocationFilter, Session, SessionId};

#[path = "support/ids.rs"]
mod ids;
use ids::{Rng, T0};

const DAY: u64 = 86_400;
const HOUR: u64 = 3600;

fn bits_per_revocation(filter: &RevocationFilter, held: usize) -> f64 {
    filter.memory_bytes() as f64 * 8.0 / held as f64
}

/// Lookups of `n` fresh ids, with deadlines spread like the revocations',
/// that the filter wrongly reports revoked.
fn false_positive_rate(filter: &RevocationFilter, rng: &mut Rng, n: usize, spread: u64) -> f64 {
    let hits = (0..n)
        .filter(|_| filter.is_revoked(rng.id(), T0 + rng.next() % spread))
        .count();
    hits as f64 / n as f64
}

#[test]
fn a_day_of_revocations_at_capacity_meets_the_rate_and_memory_bounds() {
    let filter = RevocationFilter::new(100_000, 0.01);
    let revoked = Rng(1).revocations(100_000, DAY);
    for &(id, deadline) in &revoked {
        filter.revoke(id, deadline);
    }
    let missed = revoked
        .iter()
        .filter(|&&(id, deadline)| !filter.is_revoked(id, deadline))
        .count();
    assert_eq!(missed, 0, "false negatives");
    let fp = false_positive_rate(&filter, &mut Rng(2), 1_000_000, DAY);
    let bits = bits_per_revocation(&filter, revoked.len());
    println!(
        "capacity 100000 at 1%, deadlines over a day: false positives {:.3}% over 1000000 \
         lookups, {bits:.2} bits per revocation ({} bytes)",
        fp * 100.0,
        filter.memory_bytes()
    );
    assert!(fp <= 0.015, "false-positive rate {fp}");
    assert!(bits <= 29.0, "{bits} bits per revocation");
}

#[test]
fn the_memory_bound_holds_whatever_the_spread_and_order() {
    // One hour to two days of deadlines, revoked in random order or in
    // deadline order (one generation filling after another: the hardest case
    // for sizing, since each looks like it will take the whole capacity).
    // Past that, with under a few hundred revocations per deadline hour, each
    // generation's fixed headers (about 100 bytes, plus 64 per sub-filter)
    // start to count: 200 hours at this capacity is 100 per hour.
    let cases = [
        (1, false, 29.0),
        (12, true, 29.0),
        (12, false, 29.0),
        (48, false, 29.0),
        (200, false, 36.0),
    ];
    for (hours, in_order, bound) in cases {
        let filter = RevocationFilter::new(20_000, 0.01);
        let mut revoked = Rng(hours).revocations(20_000, hours * HOUR);
        if in_order {
            revoked.sort_by_key(|&(_, deadline)| deadline);
        }
        for &(id, deadline) in &revoked {
            filter.revoke(id, deadline);
        }
        assert!(revoked.iter().all(|&(id, d)| filter.is_revoked(id, d)));
        let fp = false_positive_rate(&filter, &mut Rng(hours + 1), 50_000, hours * HOUR);
        let bits = bits_per_revocation(&filter, revoked.len());
        println!(
            "capacity 20000 at 1%, {hours} h of deadlines{}: false positives {:.3}%, \
             {bits:.2} bits per revocation",
            if in_order { " in order" } else { "" },
            fp * 100.0
        );
        assert!(fp <= 0.015, "{hours} h: false-positive rate {fp}");
        assert!(bits <= bound, "{hours} h: {bits} bits per revocation");
    }
}

#[test]
fn twenty_times_capacity_in_one_generation_still_finds_every_revocation() {
    let filter = RevocationFilter::new(10_000, 0.01);
    // One hour-aligned bucket: every deadline falls in the same generation.
    let start = T0 - T0 % HOUR;
    let mut rng = Rng(3);
    let revoked: Vec<_> = (0..200_000)
        .map(|_| (rng.id(), start + rng.next() % HOUR))
        .collect();
    for &(id, deadline) in &revoked {
        filter.revoke(id, deadline);
    }
    assert!(revoked.iter().all(|&(id, d)| filter.is_revoked(id, d)));
    let mut rng = Rng(4);
    let hits = (0..200_000)
        .filter(|_| filter.is_revoked(rng.id(), start + rng.next() % HOUR))
        .count();
    let fp = hits as f64 / 200_000.0;
    println!(
        "20x capacity (10000 at 1%) in one generation: false positives {:.3}% over 200000 \
         lookups, {:.2} bits per revocation",
        fp * 100.0,
        bits_per_revocation(&filter, revoked.len())
    );
    assert!(fp <= 0.05, "false-positive rate {fp}");
}

#[test]
fn a_revocation_survives_pruning_until_deadline_and_leeway_have_passed() {
    let filter = RevocationFilter::new(1000, 0.01);
    let (id, deadline) = (SessionId([0xA5; 16]), T0);
    filter.revoke(id, deadline);
    for now in [deadline, deadline + 1, deadline + HOUR] {
        filter.prune(now);
        assert!(filter.is_revoked(id, deadline), "pruned at {now}");
    }
    // Forgotten within one bucket (an hour) after the leeway.
    filter.prune(deadline + 2 * HOUR + 1);
    assert!(!filter.is_revoked(id, deadline));
}

#[test]
fn memory_follows_the_revocations_held() {
    let filter = RevocationFilter::new(1_000_000, 0.001);
    let empty = filter.memory_bytes();
    let revoked = Rng(5).revocations(10_000, DAY);
    for &(id, deadline) in &revoked {
        filter.revoke(id, deadline);
    }
    let full = filter.memory_bytes();
    filter.prune(T0 + DAY + 2 * HOUR);
    let pruned = filter.memory_bytes();
    println!(
        "capacity 1000000 at 0.1%: empty {empty} bytes, 10000 revocations {full} bytes, \
         pruned {pruned} bytes"
    );
    assert!(empty <= 64 * 1024, "{empty}");
    assert!(pruned <= 16 * 1024, "{pruned}");
    assert!(revoked.iter().all(|&(id, d)| !filter.is_revoked(id, d)));
}

#[test]
fn snapshots_round_trip_through_files_and_refuse_foreign_ones() {
    let filter = RevocationFilter::new(5000, 0.001);
    let revoked = Rng(6).revocations(20_000, 3 * DAY);
    for &(id, deadline) in &revoked {
        filter.revoke(id, deadline);
    }
    let dir = std::env::temp_dir().join(format!("tessera-revocation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("revocations.bin");
    filter.save(&path).unwrap();
    let back = RevocationFilter::load(&path).unwrap();
    assert!(revoked.iter().all(|&(id, d)| back.is_revoked(id, d)));
    assert_eq!(back.to_snapshot(), filter.to_snapshot());
    // The same filters; only the generation table's spare capacity may differ.
    assert!(back.memory_bytes() <= filter.memory_bytes());

    let snapshot = filter.to_snapshot();
    let foreign: [&[u8]; 4] = [b"", b"TSRV", br#"{"keys":[]}"#, &snapshot[1..]];
    for bytes in foreign {
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(
            RevocationFilter::load(&path).err(),
            Some(Error::CorruptSnapshot)
        );
    }
    // A missing file is named in the error, with the system's message.
    let missing = dir.join("missing");
    match RevocationFilter::load(&missing) {
        Err(Error::File {
            path,
            kind: std::io::ErrorKind::NotFound,
            message,
        }) => {
            assert_eq!(path, missing);
            assert!(!message.is_empty());
            let shown = Error::File {
                path,
                kind: std::io::ErrorKind::NotFound,
                message,
            }
            .to_string();
            assert!(shown.contains("missing"), "{shown}");
        }
        other => panic!("expected a file error naming the file, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_example_in_format_md_is_what_to_snapshot_writes() {
    let filter = RevocationFilter::new(1, 0.5);
    let id = SessionId(std::array::from_fn(|i| i as u8));
    filter.revoke(id, 1_750_000_000);
    let expected = [
        "54535256 01 0100000000000000 000000000000e03f 0100000000000000",
        "df6a070000000000 0100000000000000",
        "b100000000000000 0100000000000000 000000000000d03f 02000000 0100000000000000",
        "00000000000000000000000000000000 00000000000000000000000000000000",
        "01000000000000000000000000000000 00000000000000000000000000000000",
        "8e428828",
    ]
    .concat()
    .replace(' ', "");
    let hex: String = filter
        .to_snapshot()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, expected);
}

/// Revokes `ids` in order on one thread while three threads look them up,
/// pruning at `T0` half way. Readers check that an id once seen revoked stays
/// revoked; the revoker checks that its own revocation is visible at once.
fn race(filter: &Arc<RevocationFilter>, revoked: &Arc<Vec<(SessionId, u64)>>) {
    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(4));
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let (filter, revoked) = (Arc::clone(filter), Arc::clone(revoked));
            let (done, start) = (Arc::clone(&done), Arc::clone(&start));
            thread::spawn(move || {
                let mut seen = vec![false; revoked.len()];
                start.wait();
                loop {
                    let last_pass = done.load(Ordering::Acquire);
                    // Each reader walks the ids from a different place.
                    for i in (0..revoked.len()).map(|i| (i + r * 997) % revoked.len()) {
                        let (id, deadline) = revoked[i];
                        let now = filter.is_revoked(id, deadline);
                        assert!(now || !seen[i], "revocation {i} was lost");
                        seen[i] = now;
                    }
                    if last_pass {
                        return seen;
                    }
                }
            })
        })
        .collect();
    start.wait();
    for (i, &(id, deadline)) in revoked.iter().enumerate() {
        filter.revoke(id, deadline);
        assert!(filter.is_revoked(id, deadline));
        if i == revoked.len() / 2 {
            filter.prune(T0);
        }
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        let seen = reader.join().unwrap();
        assert!(seen.iter().all(|&s| s), "a reader missed a revocation");
    }
}

#[test]
fn one_revoker_and_three_readers_agree_with_a_sequential_filter() {
    // A small capacity makes every generation grow many times mid-race, and
    // the generations of an earlier day are pruned mid-race.
    let filter = Arc::new(RevocationFilter::new(1000, 0.01));
    let mut rng = Rng(7);
    let old: Vec<_> = (0..500).map(|_| (rng.id(), T0 - DAY)).collect();
    let revoked = Arc::new(rng.revocations(20_000, 3 * HOUR));
    for &(id, deadline) in &old {
        filter.revoke(id, deadline);
    }
    race(&filter, &revoked);
    assert!(old.iter().all(|&(id, d)| !filter.is_revoked(id, d)));

    // With one revoker the filter's state is a function of the operations and
    // their order, so a filter given the same sequence on one thread must be
    // identical: every other id is accepted unless it is a false positive of
    // that sequential filter, and then by both.
    let sequential = RevocationFilter::new(1000, 0.01);
    for &(id, deadline) in &old {
        sequential.revoke(id, deadline);
    }
    for (i, &(id, deadline)) in revoked.iter().enumerate() {
        sequential.revoke(id, deadline);
        if i == revoked.len() / 2 {
            sequential.prune(T0);
        }
    }
    assert_eq!(filter.to_snapshot(), sequential.to_snapshot());
    let others = Rng(8).revocations(20_000, 3 * HOUR);
    let mut false_positives = 0;
    for &(id, deadline) in &others {
        let expected = sequential.is_revoked(id, deadline);
        assert_eq!(filter.is_revoked(id, deadline), expected);
        false_positives += usize::from(expected);
    }
    assert!(false_positives <= 400, "{false_positives}");
}

#[test]
fn two_revokers_racing_growth_lose_nothing() {
    let filter = Arc::new(RevocationFilter::new(500, 0.01));
    let mut rng = Rng(9);
    // Every id in one generation, so both revokers grow the same chain.
    let halves: Vec<Arc<Vec<(SessionId, u64)>>> = (0..2)
        .map(|_| Arc::new((0..10_000).map(|_| (rng.id(), T0)).collect()))
        .collect();
    let revokers: Vec<_> = halves
        .iter()
        .map(|half| {
            let (filter, half) = (Arc::clone(&filter), Arc::clone(half));
            thread::spawn(move || race(&filter, &half))
        })
        .collect();
    for revoker in revokers {
        revoker.join().unwrap();
    }
    for half in &halves {
        assert!(half.iter().all(|&(id, d)| filter.is_revoked(id, d)));
    }
}

/// The `n`th revocation of the snapshots-while-revoking test:
/// 2000 ids per deadline hour, one hour after another.
fn nth_revocation(n: u64) -> (SessionId, u64) {
    (Rng(n).id(), T0 + n / 2000 * HOUR)
}

#[test]
fn snapshots_taken_while_revocations_arrive_always_load_and_hold_what_came_before() {
    // One thread revokes without pause, 2000 ids per deadline hour, so the
    // newest generation grows a sub-filter every few hundred ids (a small
    // capacity: past it, chains double), and prunes hours it has left
    // behind. The other snapshots and loads in a loop: every snapshot must
    // load, and hold every revocation that had returned before it began and
    // was not pruned by the time it ended.
    let filter = Arc::new(RevocationFilter::new(1000, 1e-6));
    let done = Arc::new(AtomicU64::new(0));
    let pruned_below = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let revoker = {
        let (filter, done) = (Arc::clone(&filter), Arc::clone(&done));
        let (pruned_below, stop) = (Arc::clone(&pruned_below), Arc::clone(&stop));
        thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let (id, deadline) = nth_revocation(n);
                filter.revoke(id, deadline);
                n += 1;
                done.store(n, Ordering::Release);
                if n % 2000 == 0 && n >= 4 * 2000 {
                    // Keep the last two hours (a small filter makes snapshots
                    // fast, so many are taken): forget every revocation below
                    // `n - 4000`, announced before it is forgotten.
                    let keep_from = n - 2 * 2000;
                    pruned_below.store(keep_from, Ordering::Release);
                    filter.prune(nth_revocation(keep_from).1 - HOUR - 1);
                }
            }
            n
        })
    };
    let started = std::time::Instant::now();
    let mut snapshots = 0;
    while started.elapsed() < std::time::Duration::from_secs(4) {
        let before = done.load(Ordering::Acquire);
        let snapshot = filter.to_snapshot();
        let floor = pruned_below.load(Ordering::Acquire);
        let copy = match RevocationFilter::from_snapshot(&snapshot) {
            Ok(copy) => copy,
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                panic!(
                    "snapshot {snapshots} ({} bytes) does not load: {e}",
                    snapshot.len()
                );
            }
        };
        for n in floor..before {
            let (id, deadline) = nth_revocation(n);
            assert!(
                copy.is_revoked(id, deadline),
                "snapshot {snapshots} lost revocation {n}"
            );
        }
        snapshots += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let revoked = revoker.join().unwrap();
    println!("{snapshots} snapshots while {revoked} revocations arrived");
    // The revoker made many generations grow while snapshots were taken.
    assert!(revoked > 20 * 2000, "{revoked}");
    assert!(snapshots > 20, "{snapshots}");
}

#[test]
fn verifiers_sharing_a_filter_reject_exactly_the_revoked_sessions() {
    const T: u64 = 1_750_000_000;
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let shared = Arc::new(RevocationFilter::new(100, 0.01));
    let tokens: Vec<String> = (0..48)
        .map(|i| issuer.issue_at(&format!("user{i}"), &(), T).unwrap())
        .collect();
    let sessions: Vec<Session<()>> = tokens
        .iter()
        .map(|t| issuer.verifier().verify_at(t, T).unwrap())
        .collect();
    let revoked: Vec<bool> = (0..tokens.len()).map(|i| i % 3 == 0).collect();

    let tokens = Arc::new(tokens);
    let done = Arc::new(AtomicBool::new(false));
    let verifiers: Vec<_> = (0..3)
        .map(|_| {
            let verifier = issuer.verifier().with_revocations(Arc::clone(&shared));
            let (tokens, done) = (Arc::clone(&tokens), Arc::clone(&done));
            thread::spawn(move || {
                let mut seen = vec![false; tokens.len()];
                loop {
                    let last_pass = done.load(Ordering::Acquire);
                    for (i, token) in tokens.iter().enumerate() {
                        let now = match verifier.verify_at::<()>(token, T + 1) {
                            Ok(_) => false,
                            Err(Error::Revoked) => true,
                            Err(e) => panic!("{e}"),
                        };
                        assert!(now || !seen[i], "token {i} revoked, then accepted");
                        seen[i] = now;
                    }
                    if last_pass {
                        return seen;
                    }
                }
            })
        })
        .collect();
    let revoker = issuer.verifier().with_revocations(Arc::clone(&shared));
    for (session, _) in sessions.iter().zip(&revoked).filter(|(_, &r)| r) {
        revoker.revoke(session);
    }
    done.store(true, Ordering::Release);

    // The same revocations, in the same order, on one thread: its false
    // positives (if any: the ids are random) are the only other rejections.
    let sequential = RevocationFilter::new(100, 0.01);
    for (session, _) in sessions.iter().zip(&revoked).filter(|(_, &r)| r) {
        sequential.revoke(session.id(), session.deadline());
    }
    let expected: Vec<bool> = sessions
        .iter()
        .map(|s| sequential.is_revoked(s.id(), s.deadline()))
        .collect();
    for (i, &r) in revoked.iter().enumerate() {
        assert!(!r || expected[i]);
    }
    for verifier in verifiers {
        assert_eq!(verifier.join().unwrap(), expected);
    }
}

// Property tests need proptest: `cargo test --all-features` (or
// `--features property-tests`) runs them.
#[cfg(feature = "property-tests")]
proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Whatever was revoked and whenever `prune` runs, a revocation whose
    /// deadline plus the maximum leeway has not passed is still there, and
    /// survives a snapshot.
    #[test]
    fn prune_and_snapshots_never_drop_a_live_revocation(
        revocations in prop::collection::vec((any::<[u8; 16]>(), 0u64..2 * DAY), 1..200),
        now in 0u64..3 * DAY,
        capacity in 1usize..300,
    ) {
        let filter = RevocationFilter::new(capacity, 0.01);
        for &(id, deadline) in &revocations {
            filter.revoke(SessionId(id), T0 + deadline);
        }
        filter.prune(T0 + now);
        let back = RevocationFilter::from_snapshot(&filter.to_snapshot()).unwrap();
        for &(id, deadline) in &revocations {
            if deadline + HOUR >= now {
                prop_assert!(filter.is_revoked(SessionId(id), T0 + deadline));
                prop_assert!(back.is_revoked(SessionId(id), T0 + deadline));
            }
        }
    }
}

#[test]
fn revoking_by_id_alone_covers_every_deadline_the_session_can_have() {
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let verifier = issuer.verifier();
    let token = issuer.issue_at("eve", &(), T0).unwrap();
    let session: Session<()> = verifier.verify_at(&token, T0).unwrap();
    assert_eq!(session.deadline(), T0 + 12 * HOUR);
    // Ten minutes later, renewed; the operator has only the id.
    let renewed = issuer.renew_at(&session, T0 + 600).unwrap();
    let now = T0 + 700;
    // The exact-deadline call with a guess an hour off does nothing.
    let guessed = issuer.verifier();
    guessed.revoke_id(session.id(), session.deadline() + HOUR);
    assert!(guessed.verify_at::<()>(&renewed, now).is_ok());
    // Deadlines from now - 60 s to now + 60 s + 12 h: 13 or 14 hours.
    let hours = verifier.revoke_id_any_at(session.id(), now).unwrap();
    let (first, last) = ((now - 60) / HOUR, (now + 60 + 12 * HOUR) / HOUR);
    assert_eq!(hours, last - first + 1);
    assert!(hours == 13 || hours == 14, "{hours}");
    for t in [&token, &renewed] {
        assert_eq!(verifier.verify_at::<()>(t, now).err(), Some(Error::Revoked));
    }
    // Exactly those hours: the first and last second of the window, and
    // the hour on each side of it (where no other id was ever revoked).
    let filter = verifier.revocations();
    let id = session.id();
    assert!(filter.is_revoked(id, now - 60));
    assert!(filter.is_revoked(id, first * HOUR));
    assert!(filter.is_revoked(id, now + 60 + 12 * HOUR));
    assert!(filter.is_revoked(id, last * HOUR + HOUR - 1));
    assert!(!filter.is_revoked(id, first * HOUR - 1));
    assert!(!filter.is_revoked(id, (last + 1) * HOUR));

    // A policy's own lifetime and leeway set the window.
    let long = Policy::default()
        .max_lifetime(std::time::Duration::from_secs(3 * DAY))
        .leeway(std::time::Duration::from_secs(HOUR));
    let verifier = Issuer::new(Keyset::generate(), long).verifier();
    let hours = verifier.revoke_id_any_at(id, 10 * HOUR).unwrap();
    assert_eq!(hours, (11 * HOUR + 3 * DAY) / HOUR - 9 + 1);
    // A lifetime longer than the revocation window is refused, not half done.
    let endless = Policy::default().max_lifetime(std::time::Duration::from_secs(400 * DAY));
    let verifier = Issuer::new(Keyset::generate(), endless).verifier();
    assert_eq!(
        verifier.revoke_id_any_at(id, now),
        Err(Error::RevocationWindow)
    );
    assert!(!verifier.revocations().is_revoked(id, now));
    assert!(verifier.revoke_id_any(id).is_err());
}

#[test]
fn a_merged_snapshot_revokes_its_sessions_at_once_and_keeps_the_filter_s_own() {
    let policy = Policy::default().idle_timeout(std::time::Duration::from_secs(12 * HOUR));
    let issuer = Issuer::new(Keyset::generate(), policy);
    let live = Arc::new(RevocationFilter::new(10_000, 0.01));
    let verifier = issuer.verifier().with_revocations(Arc::clone(&live));
    let other = issuer.verifier().with_revocations(Arc::clone(&live));
    // Six sessions, their deadlines in different hours.
    let tokens: Vec<String> = (0..6)
        .map(|i| issuer.issue_at("user", &i, T0 + i * 1000).unwrap())
        .collect();
    let now = T0 + 6000;
    let sessions: Vec<Session<u64>> = tokens
        .iter()
        .map(|t| verifier.verify_at(t, now).unwrap())
        .collect();
    // Another server revokes 0, 2 and 4 in its own filter; this one, 1.
    let publisher = issuer.verifier();
    for i in [0, 2, 4] {
        publisher.revoke(&sessions[i]);
    }
    verifier.revoke(&sessions[1]);
    live.merge_snapshot(&publisher.revocations().to_snapshot())
        .unwrap();
    for (i, token) in tokens.iter().enumerate() {
        for v in [&verifier, &other] {
            let result = v.verify_at::<u64>(token, now);
            if i == 3 || i == 5 {
                assert!(result.is_ok(), "session {i}");
            } else {
                assert_eq!(result.err(), Some(Error::Revoked), "session {i}");
            }
        }
    }
    // A corrupt snapshot changes nothing.
    let before = live.to_snapshot();
    let mut corrupt = publisher.revocations().to_snapshot();
    corrupt[40] ^= 1;
    assert_eq!(live.merge_snapshot(&corrupt), Err(Error::CorruptSnapshot));
    assert_eq!(live.to_snapshot(), before);
}

#[test]
fn merges_racing_with_revocations_lose_nothing() {
    // One thread revokes into the live filter; another revokes into a
    // publisher's and merges its snapshot into the live filter after every
    // 100, over the same deadline hours, so merges chain, extend and skip
    // sub-filters while the live chains grow.
    let live = Arc::new(RevocationFilter::new(2000, 0.01));
    let local: Vec<(SessionId, u64)> = Rng(41).revocations(20_000, 4 * HOUR);
    let remote: Vec<(SessionId, u64)> = Rng(42).revocations(20_000, 4 * HOUR);
    let start = Arc::new(Barrier::new(2));
    let revoker = {
        let (live, local, start) = (Arc::clone(&live), local.clone(), Arc::clone(&start));
        thread::spawn(move || {
            start.wait();
            for (id, deadline) in local {
                live.revoke(id, deadline);
            }
        })
    };
    let publisher = RevocationFilter::new(5000, 0.01);
    start.wait();
    for chunk in remote.chunks(100) {
        for &(id, deadline) in chunk {
            publisher.revoke(id, deadline);
        }
        live.merge_snapshot(&publisher.to_snapshot()).unwrap();
    }
    revoker.join().unwrap();
    let missed = local
        .iter()
        .chain(&remote)
        .filter(|&&(id, deadline)| !live.is_revoked(id, deadline))
        .count();
    assert_eq!(missed, 0);
    let back = RevocationFilter::from_snapshot(&live.to_snapshot()).unwrap();
    assert!(local
        .iter()
        .chain(&remote)
        .all(|&(id, deadline)| back.is_revoked(id, deadline)));
    // Repeated merges of one growing source kept its copies few: the memory
    // is within a small factor of the two filters' own.
    let separate = RevocationFilter::new(2000, 0.01);
    for &(id, deadline) in &local {
        separate.revoke(id, deadline);
    }
    let ratio =
        live.memory_bytes() as f64 / (separate.memory_bytes() + publisher.memory_bytes()) as f64;
    assert!(ratio < 1.5, "{ratio}");
}
