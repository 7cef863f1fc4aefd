//! The verified-token cache never makes a token valid that a verifier without
//! a cache would reject: tampered bytes or characters (the signature's alone
//! included), truncations, forged twins, other keys and audiences, expiry and
//! revocation all give the cold verdict. The cache is keyed by the exact token
//! text and consulted before base64url decoding and the AEAD.

use std::sync::Arc;
use std::thread;

use base64ct::{Base64UrlUnpadded, Encoding};
#[cfg(feature = "property-tests")]
use proptest::prelude::*;
use tessera::{Error, Issuer, Keyset, Policy, Session, Verifier, DEFAULT_CACHE_CAPACITY};

const T0: u64 = 1_750_000_000;
/// body = header(5) || nonce(24) || ciphertext || tag(16) || signature(64)
const SIG_LEN: usize = 64;

fn decode(token: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(token.strip_prefix("tsr1.").unwrap()).unwrap()
}

fn encode(body: &[u8]) -> String {
    format!("tsr1.{}", Base64UrlUnpadded::encode_string(body))
}

/// `token` with body byte `at` (taken modulo the body length) xored by `mask`.
fn flip(token: &str, at: usize, mask: u8) -> String {
    let mut body = decode(token);
    let at = at % body.len();
    body[at] ^= mask;
    encode(&body)
}

/// `token` with signature byte `at` (modulo 64) xored by `mask`.
fn flip_signature(token: &str, at: usize, mask: u8) -> String {
    let body_len = decode(token).len();
    flip(token, body_len - SIG_LEN + at % SIG_LEN, mask)
}

fn verdict(v: &Verifier, token: &str, now: u64) -> Result<(String, u64), Error> {
    v.verify_at::<Vec<u32>>(token, now)
        .map(|s| (s.subject().to_string(), s.expires_at()))
}

struct Setup {
    issuer: Issuer,
    token: String,
    /// Has fully verified `token`, so it is cached.
    warm: Verifier,
    /// Same keys and policy, no cache.
    cold: Verifier,
}

fn setup() -> Setup {
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let token = issuer.issue_at("alice", &vec![1u32, 2, 3], T0).unwrap();
    let warm = issuer.verifier();
    assert_eq!(warm.cache_capacity(), DEFAULT_CACHE_CAPACITY);
    warm.verify_at::<Vec<u32>>(&token, T0).unwrap();
    let cold = issuer.verifier().with_cache_capacity(0);
    assert_eq!(cold.cache_capacity(), 0);
    Setup {
        issuer,
        token,
        warm,
        cold,
    }
}

// Property tests need proptest: `cargo test --all-features` (or
// `--features property-tests`) runs them.
#[cfg(feature = "property-tests")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Changing signature bytes alone, after the genuine token was cached,
    /// must fail exactly as it does without a cache.
    #[test]
    fn changed_signature_is_invalid_even_after_caching(at in 0usize..SIG_LEN, mask in 1u8..=255) {
        let s = setup();
        let tampered = flip_signature(&s.token, at, mask);
        prop_assert_eq!(verdict(&s.warm, &tampered, T0), Err(Error::Invalid));
        prop_assert_eq!(verdict(&s.cold, &tampered, T0), Err(Error::Invalid));
        // The genuine token still verifies, from the cache.
        prop_assert!(verdict(&s.warm, &s.token, T0).is_ok());
    }

    /// Any single-byte change anywhere in the body, at any time: the warm
    /// verifier agrees with the cold one.
    #[test]
    fn any_tampering_gets_the_cold_verdict(at in any::<usize>(), mask in 1u8..=255, dt in 0u64..20 * 3600) {
        let s = setup();
        let tampered = flip(&s.token, at, mask);
        let now = T0 + dt;
        prop_assert_eq!(verdict(&s.warm, &tampered, now), verdict(&s.cold, &tampered, now));
        prop_assert!(verdict(&s.warm, &tampered, now).is_err());
    }

    /// Any single character of the token text replaced by any ASCII byte
    /// (non-base64url characters, a changed prefix, non-canonical trailing
    /// bits included): the cold verdict.
    #[test]
    fn any_changed_character_gets_the_cold_verdict(at in any::<usize>(), byte in 0u8..128) {
        let s = setup();
        let mut text = s.token.clone().into_bytes();
        let at = at % text.len();
        prop_assume!(text[at] != byte);
        text[at] = byte;
        let text = String::from_utf8(text).unwrap();
        prop_assert_eq!(verdict(&s.warm, &text, T0), verdict(&s.cold, &text, T0));
        prop_assert!(verdict(&s.warm, &text, T0).is_err());
        prop_assert!(verdict(&s.warm, &s.token, T0).is_ok());
    }

    /// Every truncation of the cached token's text, and the text with a
    /// character appended: the cold verdict, never a hit.
    #[test]
    fn truncated_or_extended_text_gets_the_cold_verdict(len in 0usize..400, extra in any::<char>()) {
        let s = setup();
        let truncated = &s.token[..len % s.token.len()];
        prop_assert_eq!(verdict(&s.warm, truncated, T0), verdict(&s.cold, truncated, T0));
        prop_assert!(verdict(&s.warm, truncated, T0).is_err());
        let extended = format!("{}{extra}", s.token);
        prop_assert_eq!(verdict(&s.warm, &extended, T0), verdict(&s.cold, &extended, T0));
        prop_assert!(verdict(&s.warm, &extended, T0).is_err());
    }

    /// The genuine token, cached, at any time: same verdict as cold (expiry,
    /// deadline and not-yet-valid are checked on every hit).
    #[test]
    fn cached_token_still_expires(offset in 0u64..40 * 3600) {
        let s = setup();
        let now = (T0 - 2 * 3600) + offset;
        prop_assert_eq!(verdict(&s.warm, &s.token, now), verdict(&s.cold, &s.token, now));
    }
}

/// A forged twin of a cached token (same header and nonce, same signature,
/// one ciphertext byte altered) is different text: it misses the cache and
/// the AEAD rejects it, with the opaque `Error::Invalid`.
#[test]
fn forged_twin_of_a_cached_token_is_rejected_by_the_aead() {
    let s = setup();
    let body_len = decode(&s.token).len();
    // Ciphertext bytes lie between the nonce and the tag.
    for at in 5 + 24..body_len - 16 - SIG_LEN {
        let forged = flip(&s.token, at, 0x01);
        assert_eq!(
            verdict(&s.warm, &forged, T0),
            Err(Error::Invalid),
            "byte {at}"
        );
        assert_eq!(
            verdict(&s.cold, &forged, T0),
            Err(Error::Invalid),
            "byte {at}"
        );
    }
    // The genuine twin still verifies, with the claims it was issued with.
    let session: Session<Vec<u32>> = s.warm.verify_at(&s.token, T0).unwrap();
    assert_eq!(
        (session.subject(), session.data()),
        ("alice", &vec![1, 2, 3])
    );
}

/// A hit returns the claims the token carries, the same as a cold verify.
#[test]
fn a_hit_returns_the_same_session_as_a_cold_verify() {
    let s = setup();
    let hot: Session<Vec<u32>> = s.warm.verify_at(&s.token, T0 + 5).unwrap();
    let cold: Session<Vec<u32>> = s.cold.verify_at(&s.token, T0 + 5).unwrap();
    assert_eq!(format!("{hot:?}"), format!("{cold:?}"));
    assert_eq!(hot.data(), cold.data());
    assert_eq!(hot.key_id(), cold.key_id());
}

/// Tokens whose claims do not fit a cache slot are verified in full every
/// time, with the same verdicts.
#[test]
fn tokens_with_large_claims_verify_in_full_every_time() {
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let data: Vec<u32> = (0..100).map(|i| i * 1_000_003).collect();
    let token = issuer.issue_at("alice", &data, T0).unwrap();
    let warm = issuer.verifier();
    let cold = issuer.verifier().with_cache_capacity(0);
    for _ in 0..2 {
        let session: Session<Vec<u32>> = warm.verify_at(&token, T0).unwrap();
        assert_eq!(session.data(), &data);
    }
    let forged = flip(&token, 40, 1);
    assert_eq!(verdict(&warm, &forged, T0), Err(Error::Invalid));
    assert_eq!(verdict(&cold, &forged, T0), Err(Error::Invalid));
    assert_eq!(verdict(&warm, &token, T0 + 86_400), Err(Error::Expired));
}

#[test]
fn cached_token_is_rejected_once_expired_or_not_yet_valid() {
    let s = setup();
    assert_eq!(
        verdict(&s.warm, &s.token, T0 + 31 * 60),
        Err(Error::Expired)
    );
    assert_eq!(
        verdict(&s.warm, &s.token, T0 - 3600),
        Err(Error::NotYetValid)
    );
    assert!(verdict(&s.warm, &s.token, T0 + 60).is_ok());
}

#[test]
fn cached_token_is_rejected_once_revoked() {
    let s = setup();
    let session: Session<Vec<u32>> = s.warm.verify_at(&s.token, T0).unwrap();
    s.warm.revoke(&session);
    assert_eq!(verdict(&s.warm, &s.token, T0), Err(Error::Revoked));
    // A revocation arriving through a shared filter counts too.
    let shared = Arc::clone(s.cold.revocations());
    let warm = s.issuer.verifier().with_revocations(Arc::clone(&shared));
    warm.verify_at::<Vec<u32>>(&s.token, T0).unwrap();
    shared.revoke(session.id(), session.deadline());
    assert_eq!(verdict(&warm, &s.token, T0), Err(Error::Revoked));
}

#[test]
fn token_under_a_retired_key_is_rejected_by_a_verifier_built_after_retiring() {
    let mut keys = Keyset::generate();
    let old = keys.primary();
    let issuer = Issuer::new(keys.clone(), Policy::default());
    let token = issuer.issue_at("alice", &vec![1u32], T0).unwrap();
    let before = issuer.verifier();
    before.verify_at::<Vec<u32>>(&token, T0).unwrap();
    assert!(
        verdict(&before, &token, T0).is_ok(),
        "cached under the old keyset"
    );

    keys.rotate();
    keys.retire(old).unwrap();
    let after = Verifier::new(keys.verifier_keyset(), Policy::default());
    let after_clone = after.clone();
    assert_eq!(verdict(&after, &token, T0), Err(Error::UnknownKey));
    assert_eq!(verdict(&after_clone, &token, T0), Err(Error::UnknownKey));
    // Tokens under the new primary verify, cached or not.
    let fresh = Issuer::new(keys, Policy::default())
        .issue_at("bob", &vec![2u32], T0)
        .unwrap();
    assert!(verdict(&after, &fresh, T0).is_ok());
    assert!(verdict(&after, &fresh, T0).is_ok());
}

#[test]
fn cached_token_does_not_verify_for_another_audience() {
    let keys = Keyset::generate();
    let issuer = Issuer::new(keys.clone(), Policy::default().audience("billing"));
    let token = issuer.issue_at("alice", &vec![1u32], T0).unwrap();
    let billing = issuer.verifier();
    billing.verify_at::<Vec<u32>>(&token, T0).unwrap();
    assert!(verdict(&billing, &token, T0).is_ok());

    let search = Verifier::new(keys.verifier_keyset(), Policy::default().audience("search"));
    assert_eq!(verdict(&search, &token, T0), Err(Error::Invalid));
    let none = Verifier::new(keys.verifier_keyset(), Policy::default());
    assert_eq!(verdict(&none, &token, T0), Err(Error::Invalid));
}

#[test]
fn many_threads_share_a_small_cache_and_agree_with_a_cold_verifier() {
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    // Far more tokens than slots, so entries are evicted all the time.
    let warm = issuer.verifier().with_cache_capacity(8);
    let cold = issuer.verifier().with_cache_capacity(0);
    let tokens: Vec<String> = (0..32)
        .map(|i| issuer.issue_at(&format!("user{i}"), &vec![i], T0).unwrap())
        .collect();
    // Forged twins: signature bytes alone, and one ciphertext byte.
    let forged: Vec<String> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| match i % 2 {
            0 => flip_signature(t, 5, 1),
            _ => flip(t, 5 + 24 + 3, 1),
        })
        .collect();
    thread::scope(|scope| {
        for t in 0..4 {
            let (warm, cold, tokens, forged) = (&warm, &cold, &tokens, &forged);
            scope.spawn(move || {
                // Each thread walks the tokens from a different start.
                let pairs = tokens.iter().zip(forged).cycle().skip(t * 7);
                for (token, forged) in pairs.take(3 * tokens.len()) {
                    assert!(verdict(warm, token, T0).is_ok());
                    assert_eq!(verdict(warm, token, T0), verdict(cold, token, T0));
                    assert_eq!(verdict(warm, forged, T0), Err(Error::Invalid));
                }
            });
        }
    });
}
