//! "Log out everywhere" through the public API: subject revocations on
//! `Verifier` and `LiveVerifier`, without Redis.

use std::sync::Arc;
use std::time::Duration;

use tessera::{Error, Issuer, Keyset, LiveVerifier, Policy, SubjectRevocations};

const T0: u64 = 1_750_000_000;

#[test]
fn sessions_before_the_cutoff_and_their_renewals_are_rejected() {
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let verifier = issuer.verifier();
    let first = issuer.issue_at("alice", &(), T0).unwrap();
    let session = verifier.verify_at::<()>(&first, T0 + 60).unwrap();
    let renewed = issuer.renew_at(&session, T0 + 120).unwrap();
    let other = issuer.issue_at("bob", &(), T0).unwrap();

    verifier.revoke_subject("alice", T0 + 200).unwrap();
    let fresh = issuer.issue_at("alice", &(), T0 + 200).unwrap();
    for token in [&first, &renewed] {
        assert_eq!(
            verifier.verify_at::<()>(token, T0 + 300).err(),
            Some(Error::Revoked)
        );
    }
    assert!(verifier.verify_at::<()>(&fresh, T0 + 300).is_ok());
    assert!(verifier.verify_at::<()>(&other, T0 + 300).is_ok());
    // Cached tokens are checked too: verify the fresh one twice.
    assert!(verifier.verify_at::<()>(&fresh, T0 + 301).is_ok());
    assert_eq!(
        verifier.verify_at::<()>(&first, T0 + 301).err(),
        Some(Error::Revoked)
    );
}

/// A renewal made after the cutoff (by an auth service that had not heard of
/// the revocation yet, or any renewer that does not check subjects) carries a
/// new issued-at, but it continues a session that began before the cutoff:
/// it is rejected too. A session that began after the cutoff stays valid
/// however often it is renewed.
#[test]
fn renewals_made_after_the_cutoff_do_not_escape_it() {
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let verifier = issuer.verifier();
    let unaware = issuer.verifier(); // never told of the revocation
    let before = issuer.issue_at("alice", &(), T0).unwrap();
    verifier.revoke_subject("alice", T0 + 100).unwrap();

    let session = unaware.verify_at::<()>(&before, T0 + 200).unwrap();
    let renewed = issuer.renew_at(&session, T0 + 200).unwrap();
    let renewed_session = unaware.verify_at::<()>(&renewed, T0 + 1_000).unwrap();
    assert_eq!(
        renewed_session.issued_at(),
        T0 + 200,
        "issued-at moved past the cutoff"
    );
    let again = issuer.renew_at(&renewed_session, T0 + 1_000).unwrap();
    for token in [&before, &renewed, &again] {
        assert_eq!(
            verifier.verify_at::<()>(token, T0 + 1_000).err(),
            Some(Error::Revoked)
        );
    }

    let after = issuer.issue_at("alice", &(), T0 + 100).unwrap();
    let s = verifier.verify_at::<()>(&after, T0 + 1_000).unwrap();
    let renewed_after = issuer.renew_at(&s, T0 + 1_000).unwrap();
    assert!(verifier.verify_at::<()>(&renewed_after, T0 + 1_100).is_ok());
}

#[test]
fn the_table_is_kept_across_key_changes_and_shared_by_clones() {
    let mut keys = Keyset::generate();
    let issuer = Issuer::new(keys.clone(), Policy::default());
    let live = LiveVerifier::new(issuer.verifier());
    let table = Arc::clone(live.current().subject_revocations());
    let token = issuer.issue_at("alice", &(), T0).unwrap();
    live.clone().revoke_subject("alice", T0 + 1).unwrap();
    keys.rotate();
    live.set_keys(keys.verifier_keyset());
    assert!(Arc::ptr_eq(live.current().subject_revocations(), &table));
    assert_eq!(
        live.verify_at::<()>(&token, T0 + 2).err(),
        Some(Error::Revoked)
    );

    // One table shared by two verifiers.
    let shared = Arc::new(SubjectRevocations::new(10));
    let a = issuer
        .verifier()
        .with_subject_revocations(Arc::clone(&shared));
    let b = issuer
        .verifier()
        .with_subject_revocations(Arc::clone(&shared));
    a.revoke_subject("alice", T0 + 1).unwrap();
    assert_eq!(
        b.verify_at::<()>(&token, T0 + 2).err(),
        Some(Error::Revoked)
    );
}

#[test]
fn a_revocation_is_kept_exactly_as_long_as_it_can_matter() {
    let policy = Policy::default().max_lifetime(Duration::from_secs(3600));
    let issuer = Issuer::new(Keyset::generate(), policy);
    let verifier = issuer.verifier();
    verifier.revoke_subject("alice", T0).unwrap();
    // Cutoff + maximum lifetime + the largest leeway (one hour).
    let forget_after = T0 + 3600 + 3600;
    assert_eq!(verifier.subject_forget_after(T0), forget_after);
    let table = verifier.subject_revocations();
    table.prune(forget_after);
    assert_eq!(table.cutoff("alice"), Some(T0));
    table.prune(forget_after + 1);
    assert_eq!(table.cutoff("alice"), None);
}

#[test]
fn refusals_are_errors_not_silent_drops() {
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let verifier = issuer
        .verifier()
        .with_subject_revocations(Arc::new(SubjectRevocations::new(1)));
    verifier.revoke_subject("alice", T0).unwrap();
    assert_eq!(
        verifier.revoke_subject("bob", T0),
        Err(Error::SubjectTableFull)
    );
    assert_eq!(
        verifier.revoke_subject(&"x".repeat(1025), T0),
        Err(Error::SubjectTooLong)
    );
}
