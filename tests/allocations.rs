//! Heap allocations per verification, counted by a global allocator. This is
//! its own test binary so the counting allocator affects nothing else.
//!
//! The verify path decodes into stack buffers: its only heap allocations are
//! the claims' own fields (the subject `String` and whatever the application
//! data needs), on a cache miss and on a cache hit alike. Rejections allocate
//! nothing. (Once per thread, the revocation filter's first read may allocate
//! a registration; see `setup`.)

#[path = "support/counting_allocator.rs"]
mod counting_allocator;
use counting_allocator::{allocations, live_bytes};

use tessera::{Error, Issuer, Keyset, Policy, RevocationFilter, SessionId, Verifier};

const T0: u64 = 1_750_000_000;

fn setup() -> (Issuer, Verifier) {
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let verifier = issuer.verifier();
    // The revocation filter's lock-free reads (arc-swap) register each thread
    // on its first read, which may allocate once per thread (or reuse a slot a
    // finished thread left). Not a per-verification cost: do it here.
    let _ = verifier.revocations().is_revoked(SessionId([0; 16]), T0);
    (issuer, verifier)
}

#[test]
fn verify_with_unit_data_allocates_only_the_subject() {
    let (issuer, verifier) = setup();
    let token = issuer.issue_at("alice@example.com", &(), T0).unwrap();

    let (cold, n) = allocations(|| verifier.verify_at::<()>(&token, T0));
    assert_eq!(cold.unwrap().subject(), "alice@example.com");
    println!("allocations per cold verify (unit data): {n}");
    assert_eq!(n, 1, "cold verify: the subject String only");

    let (hot, n) = allocations(|| verifier.verify_at::<()>(&token, T0));
    assert!(hot.is_ok());
    println!("allocations per hot verify (unit data): {n}");
    assert_eq!(n, 1, "hot verify: the subject String only");

    let uncached = issuer.verifier().with_cache_capacity(0);
    let (result, n) = allocations(|| uncached.verify_at::<()>(&token, T0));
    assert!(result.is_ok());
    assert_eq!(n, 1, "verify without a cache: the subject String only");
}

#[test]
fn verify_allocates_the_data_fields_and_nothing_more() {
    let (issuer, verifier) = setup();
    let roles = vec!["admin".to_string(), "billing".to_string()];
    let token = issuer.issue_at("bob", &roles, T0).unwrap();
    for pass in ["cold", "hot"] {
        let (session, n) = allocations(|| verifier.verify_at::<Vec<String>>(&token, T0));
        assert_eq!(session.unwrap().data(), &roles);
        // subject + the Vec + its two Strings
        assert_eq!(n, 4, "{pass} verify");
    }
}

#[test]
fn rejections_allocate_nothing() {
    let (issuer, verifier) = setup();
    let token = issuer.issue_at("alice", &(), T0).unwrap();
    let mut forged = token.clone().into_bytes();
    forged[40] = if forged[40] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let (result, n) = allocations(|| verifier.verify_at::<()>(&forged, T0));
    assert_eq!(result.err(), Some(Error::Invalid));
    assert_eq!(n, 0, "forged token");

    let (result, n) = allocations(|| verifier.verify_at::<()>("tsr1.!!!!", T0));
    assert_eq!(result.err(), Some(Error::Malformed));
    assert_eq!(n, 0, "garbage");

    let (result, n) = allocations(|| verifier.verify_at::<()>(&token, T0 + 86_400));
    assert_eq!(result.err(), Some(Error::Expired));
    // The subject is decoded before the time check; dropped with the session.
    assert_eq!(n, 1, "expired token");
}

#[test]
fn issue_allocates_only_the_token_string() {
    let (issuer, _) = setup();
    let (token, n) = allocations(|| issuer.issue_at("alice", &(), T0));
    assert!(token.unwrap().starts_with("tsr1."));
    println!("allocations per issue: {n}");
    assert_eq!(n, 1, "issue: the token String only");
}

/// `memory_bytes` is exactly the heap a revocation filter holds (the filter
/// itself boxed, as a `Verifier` holds it behind an `Arc`): empty, across
/// new generations, chained sub-filters and a growing generation table, after
/// pruning, and after loading a snapshot. Everything it held is freed with it.
#[test]
fn revocation_memory_bytes_is_the_heap_the_filter_holds() {
    // arc-swap registers each thread on its first read, once; not the filter's.
    let _ = RevocationFilter::new(1, 0.5).is_revoked(SessionId([0; 16]), T0);
    let origin = live_bytes();
    let held =
        |filter: &RevocationFilter| live_bytes().wrapping_sub(origin) == filter.memory_bytes();
    let filter = Box::new(RevocationFilter::new(1000, 0.01));
    assert!(held(&filter), "empty");
    let mut state = 0x9e37_79b9_7f4a_7c15u128;
    for n in 0..3_000u64 {
        state = state
            .wrapping_mul(0x2360_ed05_1fc6_5da4_4385_df64_9fcc_f645)
            .wrapping_add(1);
        // Seven generations: the table grows past its first allocations.
        filter.revoke(SessionId(state.to_le_bytes()), T0 + (n % 7) * 3600);
        if n % 250 == 0 {
            assert!(held(&filter), "after {} revocations", n + 1);
        }
    }
    assert!(held(&filter), "3000 revocations");
    filter.prune(T0 + 4 * 3600);
    assert!(held(&filter), "pruned");
    let snapshot = filter.to_snapshot();
    drop(filter);
    let origin = live_bytes();
    let held =
        |filter: &RevocationFilter| live_bytes().wrapping_sub(origin) == filter.memory_bytes();
    let loaded = Box::new(RevocationFilter::from_snapshot(&snapshot).unwrap());
    assert!(held(&loaded), "loaded");
    drop(loaded);
    assert_eq!(live_bytes(), origin, "all freed");
}

/// A snapshot whose count of generations or sub-filters is one more than the
/// rest of it could hold is refused before anything is allocated for them:
/// only the empty filter being built (its table's `Arc`) and, for a
/// generation, the table's first slot.
#[test]
fn snapshot_counts_the_input_cannot_hold_allocate_nothing() {
    /// CRC-32 (IEEE, reflected), bit by bit.
    fn sealed(mut body: Vec<u8>) -> Vec<u8> {
        let mut crc = !0u32;
        for &byte in &body {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        body.extend_from_slice(&(!crc).to_le_bytes());
        body
    }
    // arc-swap registers each thread on its first use (here, dropping the
    // refused filter), once; not a cost of parsing.
    let _ = RevocationFilter::new(1, 0.5).is_revoked(SessionId([0; 16]), T0);
    let mut header = b"TSRV\x01".to_vec();
    header.extend_from_slice(&100u64.to_le_bytes());
    header.extend_from_slice(&0.01f64.to_bits().to_le_bytes());
    for count in [1usize, 2, 1000] {
        // Generations: 116 bytes each at least.
        let mut body = header.clone();
        body.extend_from_slice(&(count as u64).to_le_bytes());
        body.resize(body.len() + 116 * count - 1, 0);
        let snapshot = sealed(body);
        let (result, n) = allocations(|| RevocationFilter::from_snapshot(&snapshot));
        assert_eq!(result.err(), Some(Error::CorruptSnapshot));
        assert_eq!(n, 1, "{count} generations"); // the table's Arc
    }
    for count in [2usize, 3, 1000] {
        // Sub-filters of one generation: 100 bytes each at least.
        let mut body = header.clone();
        body.extend_from_slice(&1u64.to_le_bytes());
        body.extend_from_slice(&0u64.to_le_bytes());
        body.extend_from_slice(&(count as u64).to_le_bytes());
        body.resize(body.len() + 100 * count - 1, 0);
        let snapshot = sealed(body);
        let (result, n) = allocations(|| RevocationFilter::from_snapshot(&snapshot));
        assert_eq!(result.err(), Some(Error::CorruptSnapshot));
        assert_eq!(n, 2, "{count} sub-filters"); // and the table's one slot
    }
}
