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
use counting_allocator::allocations;

use tessera::{Error, Issuer, Keyset, Policy, SessionId, Verifier};

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
