//! Behaviour through the public API: issue, verify, renew, rotate, revoke.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera::{Error, Issuer, KeyId, Keyset, Policy, RevocationFilter, Session, SessionId};

const T0: u64 = 1_750_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Claims {
    roles: Vec<String>,
    tenant: u32,
}

fn issuer() -> Issuer {
    Issuer::new(Keyset::generate(), Policy::default())
}

#[test]
fn round_trip_carries_every_claim() {
    let issuer = issuer();
    let data = Claims {
        roles: vec!["admin".into(), "billing".into()],
        tenant: 42,
    };
    let token = issuer.issue_at("alice@example.com", &data, T0).unwrap();
    let s: Session<Claims> = issuer.verifier().verify_at(&token, T0 + 5).unwrap();
    assert_eq!(s.subject(), "alice@example.com");
    assert_eq!(s.data(), &data);
    assert_eq!(s.issued_at(), T0);
    assert_eq!(s.expires_at(), T0 + 30 * 60);
    assert_eq!(s.deadline(), T0 + 12 * 3600);
    assert_eq!(
        s.key_id(),
        issuer
            .verifier()
            .verify_at::<Claims>(&token, T0)
            .unwrap()
            .key_id()
    );
}

#[test]
fn default_token_for_17_char_subject_is_at_most_220_chars() {
    let token = issuer().issue_at("user-000000000017", &(), T0).unwrap();
    println!(
        "token length for a 17-character subject and unit data: {}",
        token.len()
    );
    assert_eq!("user-000000000017".len(), 17);
    assert!(token.len() <= 220, "token is {} chars", token.len());
    assert!(token.starts_with("tsr1."));
}

#[test]
fn each_token_has_a_fresh_session_id_and_nonce() {
    let issuer = issuer();
    let a = issuer.issue_at("alice", &(), T0).unwrap();
    let b = issuer.issue_at("alice", &(), T0).unwrap();
    assert_ne!(a, b);
    let v = issuer.verifier();
    assert_ne!(
        v.verify_at::<()>(&a, T0).unwrap().id(),
        v.verify_at::<()>(&b, T0).unwrap().id()
    );
}

#[test]
fn expiry_deadline_and_future_tokens() {
    let issuer = Issuer::new(
        Keyset::generate(),
        Policy::default()
            .idle_timeout(Duration::from_secs(600))
            .max_lifetime(Duration::from_secs(3600))
            .leeway(Duration::from_secs(30)),
    );
    let v = issuer.verifier();
    let token = issuer.issue_at("alice", &(), T0).unwrap();
    assert!(v.verify_at::<()>(&token, T0 + 600 + 29).is_ok());
    assert_eq!(
        v.verify_at::<()>(&token, T0 + 600 + 30).err(),
        Some(Error::Expired)
    );
    assert!(v.verify_at::<()>(&token, T0 - 30).is_ok());
    assert_eq!(
        v.verify_at::<()>(&token, T0 - 31).err(),
        Some(Error::NotYetValid)
    );
}

#[test]
fn renewal_slides_expiry_but_never_the_deadline() {
    let issuer = Issuer::new(
        Keyset::generate(),
        Policy::default()
            .idle_timeout(Duration::from_secs(600))
            .max_lifetime(Duration::from_secs(1000)),
    );
    let v = issuer.verifier();
    let first: Session<Claims> = v
        .verify_at(
            &issuer
                .issue_at(
                    "alice",
                    &Claims {
                        roles: vec![],
                        tenant: 7,
                    },
                    T0,
                )
                .unwrap(),
            T0,
        )
        .unwrap();
    assert!(!first.needs_renewal_at(T0 + 300));
    assert!(first.needs_renewal_at(T0 + 301));

    let renewed: Session<Claims> = v
        .verify_at(&issuer.renew_at(&first, T0 + 301).unwrap(), T0 + 301)
        .unwrap();
    assert_eq!(renewed.id(), first.id());
    assert_eq!(renewed.subject(), "alice");
    assert_eq!(renewed.data(), first.data());
    assert_eq!(renewed.issued_at(), T0 + 301);
    assert_eq!(renewed.expires_at(), T0 + 901);
    assert_eq!(renewed.deadline(), T0 + 1000);

    // Expiry is capped at the deadline, and then renewal no longer helps.
    let capped: Session<Claims> = v
        .verify_at(&issuer.renew_at(&renewed, T0 + 800).unwrap(), T0 + 800)
        .unwrap();
    assert_eq!(capped.expires_at(), T0 + 1000);
    assert!(!capped.needs_renewal_at(T0 + 990));
    assert_eq!(
        issuer.renew_at(&capped, T0 + 1000).err(),
        Some(Error::Expired)
    );
    assert_eq!(
        issuer.renew_at(&capped, T0 + 5000).err(),
        Some(Error::Expired)
    );
}

#[test]
fn renewal_of_a_lapsed_session_is_refused() {
    let issuer = Issuer::new(
        Keyset::generate(),
        Policy::default().idle_timeout(Duration::from_secs(600)),
    );
    let s: Session<()> = issuer
        .verifier()
        .verify_at(&issuer.issue_at("a", &(), T0).unwrap(), T0)
        .unwrap();
    assert_eq!(
        issuer.renew_at(&s, T0 + 600 + 60).err(),
        Some(Error::Expired)
    );
    assert!(issuer.renew_at(&s, T0 + 600 + 59).is_ok());
}

#[test]
fn rotation_keeps_old_tokens_valid_until_retired() {
    let mut keys = Keyset::generate();
    let old_key = keys.primary();
    let old_token = Issuer::new(keys.clone(), Policy::default())
        .issue_at("alice", &(), T0)
        .unwrap();

    // Two-step rotation: add, ship the verifier keyset, promote.
    let new_key = keys.add();
    let verifier = Issuer::new(keys.clone(), Policy::default()).verifier();
    let still_old = Issuer::new(keys.clone(), Policy::default())
        .issue_at("bob", &(), T0)
        .unwrap();
    assert_eq!(
        verifier.verify_at::<()>(&still_old, T0).unwrap().key_id(),
        old_key
    );
    keys.promote(new_key).unwrap();
    let issuer = Issuer::new(keys.clone(), Policy::default());
    let new_token = issuer.issue_at("carol", &(), T0).unwrap();
    assert_eq!(
        verifier.verify_at::<()>(&new_token, T0).unwrap().key_id(),
        new_key
    );
    assert_eq!(
        verifier.verify_at::<()>(&old_token, T0).unwrap().key_id(),
        old_key
    );

    keys.retire(old_key).unwrap();
    let after = Issuer::new(keys, Policy::default()).verifier();
    assert_eq!(
        after.verify_at::<()>(&old_token, T0).err(),
        Some(Error::UnknownKey)
    );
    assert!(after.verify_at::<()>(&new_token, T0).is_ok());
}

#[test]
fn verifier_keyset_verifies_but_tokens_from_other_keysets_fail() {
    let a = issuer();
    let b = issuer();
    let token = a.issue_at("alice", &(), T0).unwrap();
    let err = b.verifier().verify_at::<()>(&token, T0).err();
    // Different random key ids: the other keyset does not know the key.
    assert_eq!(err, Some(Error::UnknownKey));
}

#[test]
fn audience_binds_tokens_and_empty_equals_none() {
    let keys = Keyset::generate();
    let billing = Issuer::new(keys.clone(), Policy::default().audience("billing"));
    let token = billing.issue_at("alice", &(), T0).unwrap();
    assert!(billing.verifier().verify_at::<()>(&token, T0).is_ok());
    let other = Issuer::new(keys.clone(), Policy::default().audience("search")).verifier();
    assert_eq!(
        other.verify_at::<()>(&token, T0).err(),
        Some(Error::Invalid)
    );
    let none = Issuer::new(keys.clone(), Policy::default()).verifier();
    assert_eq!(none.verify_at::<()>(&token, T0).err(), Some(Error::Invalid));

    let plain = Issuer::new(keys.clone(), Policy::default())
        .issue_at("a", &(), T0)
        .unwrap();
    let empty = Issuer::new(keys.clone(), Policy::default().audience("")).verifier();
    assert!(empty.verify_at::<()>(&plain, T0).is_ok());

    // Long audiences take the heap path and still bind.
    let long = "x".repeat(5000);
    let long_issuer = Issuer::new(keys.clone(), Policy::default().audience(&long));
    let t = long_issuer.issue_at("a", &(), T0).unwrap();
    assert!(long_issuer.verifier().verify_at::<()>(&t, T0).is_ok());
    let almost = Issuer::new(keys, Policy::default().audience(&long[1..])).verifier();
    assert_eq!(almost.verify_at::<()>(&t, T0).err(), Some(Error::Invalid));
}

#[test]
fn revocation_covers_renewals_and_shared_filters() {
    let issuer = issuer();
    let filter = Arc::new(RevocationFilter::new(1000, 0.001));
    let v1 = issuer.verifier().with_revocations(filter.clone());
    let v2 = issuer.verifier().with_revocations(filter.clone());
    assert!(Arc::ptr_eq(v1.revocations(), &filter));
    let token = issuer.issue_at("alice", &(), T0).unwrap();
    let s: Session<()> = v1.verify_at(&token, T0).unwrap();
    let renewed = issuer.renew_at(&s, T0 + 1000).unwrap();
    let other = issuer.issue_at("bob", &(), T0).unwrap();
    v1.revoke(&s);
    assert_eq!(v2.verify_at::<()>(&token, T0).err(), Some(Error::Revoked));
    assert_eq!(
        v2.verify_at::<()>(&renewed, T0 + 1000).err(),
        Some(Error::Revoked)
    );
    assert!(v2.verify_at::<()>(&other, T0).is_ok());

    let bob: Session<()> = v2.verify_at(&other, T0).unwrap();
    v2.revoke_id(bob.id(), bob.deadline());
    assert_eq!(v1.verify_at::<()>(&other, T0).err(), Some(Error::Revoked));
    // A verifier with its own filter has not heard of either.
    assert!(issuer.verifier().verify_at::<()>(&token, T0).is_ok());
}

#[test]
fn revoked_token_stays_rejected_through_the_leeway_after_prune() {
    let issuer = Issuer::new(
        Keyset::generate(),
        Policy::default()
            .idle_timeout(Duration::from_secs(7200))
            .max_lifetime(Duration::from_secs(7200))
            .leeway(Duration::from_secs(3600)),
    );
    let v = issuer.verifier();
    let token = issuer.issue_at("alice", &(), T0).unwrap();
    let s: Session<()> = v.verify_at(&token, T0).unwrap();
    assert!(
        v.verify_at::<()>(&token, s.deadline() + 1).is_ok(),
        "within the leeway"
    );
    v.revoke(&s);
    v.revocations().prune(s.deadline() + 1);
    assert_eq!(
        v.verify_at::<()>(&token, s.deadline() + 1).err(),
        Some(Error::Revoked)
    );
}

#[test]
fn oversized_tokens_are_refused_at_issue_and_before_decoding() {
    let issuer = Issuer::new(Keyset::generate(), Policy::default().max_token_length(300));
    assert!(issuer.issue_at("a", &"x".repeat(50), T0).is_ok());
    assert_eq!(
        issuer.issue_at("a", &"x".repeat(200), T0).err(),
        Some(Error::TooLarge)
    );
    let big = Issuer::new(Keyset::generate(), Policy::default());
    assert_eq!(
        big.issue_at("a", &"x".repeat(4000), T0).err(),
        Some(Error::TooLarge)
    );
    let v = issuer.verifier();
    let long = format!("tsr1.{}", "A".repeat(400));
    assert_eq!(v.verify_at::<()>(&long, T0).err(), Some(Error::TooLarge));
    let garbage = "\u{1F600}".repeat(5000);
    assert_eq!(v.verify_at::<()>(&garbage, T0).err(), Some(Error::TooLarge));
}

/// A genuine token decoded as an incompatible type is `DataMismatch`, not
/// `Malformed` (that is garbage): on a cold verifier, on one that has the
/// token cached, and however often it is asked.
#[test]
fn a_genuine_token_of_another_data_type_is_a_data_mismatch() {
    let issuer = issuer();
    let data = Claims {
        roles: vec!["x".into()],
        tenant: 1,
    };
    let token = issuer.issue_at("a", &data, T0).unwrap();
    let cold = issuer.verifier().with_cache_capacity(0);
    let warm = issuer.verifier();
    // Before anything is cached: a mismatch is not a success, so it is not
    // remembered, and asking again gives the same answer.
    for _ in 0..2 {
        assert_eq!(
            warm.verify_at::<u8>(&token, T0).err(),
            Some(Error::DataMismatch)
        );
    }
    assert_eq!(
        warm.verify_at::<Claims>(&token, T0).unwrap().into_data(),
        data
    );
    // Now the token is cached: the hit decodes the cached claims the same way.
    for v in [&cold, &warm, &cold, &warm] {
        // Too few bytes for the type, bytes left over, bytes the type refuses.
        assert_eq!(
            v.verify_at::<(Claims, u8)>(&token, T0).err(),
            Some(Error::DataMismatch)
        );
        assert_eq!(
            v.verify_at::<u8>(&token, T0).err(),
            Some(Error::DataMismatch)
        );
        assert_eq!(
            v.verify_at::<()>(&token, T0).err(),
            Some(Error::DataMismatch)
        );
        assert_eq!(
            v.verify_at::<Vec<bool>>(&token, T0).err(),
            Some(Error::DataMismatch)
        );
        assert_eq!(v.verify_at::<Claims>(&token, T0).unwrap().data(), &data);
    }
    // The unit data of a token issued without data is not a `Claims` either.
    let unit = issuer.issue_at("b", &(), T0).unwrap();
    for v in [&cold, &warm] {
        assert_eq!(
            v.verify_at::<Claims>(&unit, T0).err(),
            Some(Error::DataMismatch)
        );
    }
    assert!(Error::DataMismatch.to_string().contains("type"));
}

/// A forged, damaged or foreign token is rejected as before, whatever type
/// it is decoded as: `DataMismatch` comes only after the AEAD and signature.
#[test]
fn forged_or_garbage_tokens_are_never_a_data_mismatch() {
    let keys = Keyset::generate();
    let issuer = Issuer::new(keys.clone(), Policy::default());
    let token = issuer.issue_at("a", &7u8, T0).unwrap();
    let warm = issuer.verifier();
    warm.verify_at::<u8>(&token, T0).unwrap();
    let cold = issuer.verifier().with_cache_capacity(0);
    // Same keys, another audience; and another keyset altogether.
    let bound = Issuer::new(keys, Policy::default().audience("x"))
        .issue_at("a", &7u8, T0)
        .unwrap();
    let foreign = Issuer::new(Keyset::generate(), Policy::default())
        .issue_at("a", &7u8, T0)
        .unwrap();
    for v in [&cold, &warm] {
        for at in 5..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            let err = v.verify_at::<Claims>(&tampered, T0).err();
            assert!(
                matches!(
                    err,
                    Some(
                        Error::Invalid
                            | Error::Malformed
                            | Error::UnsupportedVersion
                            | Error::UnknownKey
                    )
                ),
                "{at}: {err:?}"
            );
        }
        assert_eq!(
            v.verify_at::<Claims>(&bound, T0).err(),
            Some(Error::Invalid)
        );
        let err = v.verify_at::<Claims>(&foreign, T0).err();
        assert!(
            matches!(err, Some(Error::UnknownKey | Error::Invalid)),
            "{err:?}"
        );
        assert_eq!(v.verify_at::<u8>(&foreign, T0).err(), err);
        assert_eq!(
            v.verify_at::<Claims>("tsr1.!!", T0).err(),
            Some(Error::Malformed)
        );
        assert_eq!(
            v.verify_at::<Claims>(&token[..100], T0).err(),
            Some(Error::Malformed)
        );
    }
}

#[test]
fn structural_rejections() {
    let issuer = issuer();
    let v = issuer.verifier();
    let token = issuer.issue_at("alice", &(), T0).unwrap();
    let body = &token[5..];
    for (bad, want) in [
        (String::new(), Error::Malformed),
        ("tsr1.".to_string(), Error::Malformed),
        (format!("tsr2.{body}"), Error::Malformed),
        (format!("TSR1.{body}"), Error::Malformed),
        (format!("{token}="), Error::Malformed),
        (format!("{token} "), Error::Malformed),
        (
            format!("tsr1.{}+{}", &body[..10], &body[11..]),
            Error::Malformed,
        ),
        (format!("tsr1.{}", &body[..100]), Error::Malformed),
    ] {
        assert_eq!(v.verify_at::<()>(&bad, T0).err(), Some(want), "{bad:?}");
    }
}

#[test]
fn debug_output_never_shows_secrets_or_data() {
    let keys = Keyset::generate();
    let issuer = Issuer::new(keys.clone(), Policy::default().audience("api"));
    let verifier = issuer.verifier();
    let token = issuer.issue_at("alice", &"top-secret-data", T0).unwrap();
    let s: Session<String> = verifier.verify_at(&token, T0).unwrap();
    let session_debug = format!("{s:?}");
    assert!(session_debug.contains("alice"));
    assert!(!session_debug.contains("top-secret-data"));
    assert!(session_debug.contains(&s.id().to_hex()));
    for text in [
        format!("{keys:?}"),
        format!("{:?}", keys.verifier_keyset()),
        format!("{issuer:?}"),
        format!("{verifier:?}"),
    ] {
        assert!(text.contains(&keys.primary().to_string()), "{text}");
        // A key rendered as bytes shows up as 32 numbers or a 64-digit hex run.
        let numbers = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|t| !t.is_empty())
            .count();
        assert!(numbers < 20, "{text} prints too many numbers");
        let longest_hex_run = text
            .split(|c: char| !c.is_ascii_hexdigit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest_hex_run < 32, "{text} prints a long hex string");
    }
}

#[test]
fn key_id_and_session_id_formats() {
    assert_eq!(KeyId(42).to_string(), "42");
    assert_eq!(format!("{:?}", KeyId(42)), "KeyId(42)");
    let id = SessionId([0x0f; 16]);
    assert_eq!(format!("{id:?}"), format!("SessionId({})", "0f".repeat(16)));
}
