//! Size limits at their exact edges, and the promise that rejecting a token
//! never touches the heap. Written against survivors of mutation testing
//! (scripts/mutants.sh): each test pins a boundary that a one-character
//! change in src/token.rs would move.

use base64ct::{Base64UrlUnpadded, Encoding};
use tessera::testing::{issue_deterministic, keyset_from_raw, RawKey};
use tessera::{Error, Issuer, KeyId, Policy, Verifier, MAX_TOKEN_LENGTH_LIMIT};

const T0: u64 = 1_750_000_000;

#[path = "support/counting_allocator.rs"]
mod counting_allocator;
use counting_allocator::allocations;

fn issuer(policy: Policy) -> Issuer {
    let keys = keyset_from_raw(&[RawKey {
        id: KeyId(9),
        signing_seed: [9; 32],
        encryption_key: [10; 32],
    }])
    .unwrap();
    Issuer::new(keys, policy)
}

fn issue(issuer: &Issuer, data: &Vec<u8>) -> Result<String, Error> {
    issue_deterministic(issuer, "max", data, T0, [3; 16], [4; 24])
}

/// The largest token `issuer` can issue with byte-vector data, found by
/// trying every size around the limit (none may panic).
fn largest_token(issuer: &Issuer) -> (String, Vec<u8>) {
    let mut largest = None;
    for n in 5_900..6_200 {
        let data = vec![0xa5; n];
        match issue(issuer, &data) {
            Ok(token) => largest = Some((token, data)),
            Err(Error::TooLarge) => {}
            Err(e) => panic!("{n} bytes of data: {e:?}"),
        }
    }
    largest.expect("some size fits")
}

fn body(token: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(token.strip_prefix("tsr1.").unwrap()).unwrap()
}

fn encode(body: &[u8]) -> String {
    format!("tsr1.{}", Base64UrlUnpadded::encode_string(body))
}

#[test]
fn a_token_of_the_largest_allowed_length_issues_and_verifies() {
    let policy = Policy::default().max_token_length(MAX_TOKEN_LENGTH_LIMIT);
    let issuer = issuer(policy);
    let (token, data) = largest_token(&issuer);
    // 4 characters per 3 bytes: the largest token is within 4 of the limit.
    assert!(token.len() <= MAX_TOKEN_LENGTH_LIMIT);
    assert!(token.len() > MAX_TOKEN_LENGTH_LIMIT - 4, "{}", token.len());
    let session = issuer.verifier().verify_at::<Vec<u8>>(&token, T0).unwrap();
    assert_eq!(session.data(), &data);
}

#[test]
fn the_length_limit_is_inclusive_for_issuing_and_verifying() {
    let token = issue(&issuer(Policy::default()), &vec![1, 2, 3]).unwrap();
    let exact = Policy::default().max_token_length(token.len());
    let short = Policy::default().max_token_length(token.len() - 1);
    assert_eq!(
        issue(&issuer(exact.clone()), &vec![1, 2, 3]),
        Ok(token.clone())
    );
    assert_eq!(
        issue(&issuer(short.clone()), &vec![1, 2, 3]),
        Err(Error::TooLarge)
    );
    let keys = || {
        keyset_from_raw(&[RawKey {
            id: KeyId(9),
            signing_seed: [9; 32],
            encryption_key: [10; 32],
        }])
        .unwrap()
        .verifier_keyset()
    };
    let accepted = Verifier::new(keys(), exact).verify_at::<Vec<u8>>(&token, T0);
    assert_eq!(accepted.unwrap().data(), &vec![1, 2, 3]);
    assert_eq!(
        Verifier::new(keys(), short)
            .verify_at::<Vec<u8>>(&token, T0)
            .err(),
        Some(Error::TooLarge)
    );
}

#[test]
fn rejecting_a_token_never_allocates_even_at_the_largest_sizes() {
    // The largest token, with the longest audience bound without the heap.
    let audience = "a".repeat(256);
    let policy = Policy::default()
        .max_token_length(MAX_TOKEN_LENGTH_LIMIT)
        .audience(&audience);
    let issuer = issuer(policy);
    let (token, _) = largest_token(&issuer);
    let verifier = issuer.verifier();
    let good = body(&token);
    let mut bad_ciphertext = good.clone();
    bad_ciphertext[40] ^= 1;
    let mut bad_signature = good.clone();
    let last = bad_signature.len() - 1;
    bad_signature[last] ^= 1;
    let tampered = [encode(&bad_ciphertext), encode(&bad_signature)];
    for t in &tampered {
        // Once, so that any lazy one-time set-up is not counted.
        assert_eq!(
            verifier.verify_at::<Vec<u8>>(t, T0).err(),
            Some(Error::Invalid)
        );
    }
    for t in &tampered {
        let (_, n) = allocations(|| verifier.verify_at::<Vec<u8>>(t, T0));
        assert_eq!(n, 0, "rejection allocated {n} times");
    }
    // The check itself sees allocations.
    assert!(allocations(|| verifier.verify_at::<Vec<u8>>(&token, T0)).1 > 0);
}

/// Found by the `revocation_snapshot` fuzz target: `prune(u64::MAX)` used to
/// forget revocations whose deadline is within an hour of `u64::MAX`, because
/// the "every deadline in the bucket is more than an hour old" test saturated
/// to `u64::MAX <= now`. Now it uses checked arithmetic: such a revocation is
/// never pruned, and stays revoked at every time a token could be accepted.
#[test]
fn revocations_with_saturated_deadlines_last_as_long_as_any_token_can_verify() {
    let issuer = issuer(Policy::default());
    let verifier = issuer.verifier();
    let now = u64::MAX - 100;
    let token = issue_deterministic(&issuer, "late", &vec![1u8], now, [7; 16], [8; 24]).unwrap();
    let session = verifier.verify_at::<Vec<u8>>(&token, now).unwrap();
    assert_eq!(session.deadline(), u64::MAX);
    verifier.revoke(&session);
    for at in [now, u64::MAX - 2, u64::MAX - 1, u64::MAX] {
        verifier.revocations().prune(at);
        assert!(
            verifier.revocations().is_revoked(session.id(), u64::MAX),
            "pruned at {at}"
        );
        if at == u64::MAX {
            continue; // checked below: at the end of time every token is expired
        }
        assert_eq!(
            verifier.verify_at::<Vec<u8>>(&token, at).err(),
            Some(Error::Revoked),
            "at {at}"
        );
    }
    // At the very end of time every token has expired, revoked or not.
    assert_eq!(
        verifier.verify_at::<Vec<u8>>(&token, u64::MAX).err(),
        Some(Error::Expired)
    );
}

/// `memory_bytes` counts what the filter holds honestly: never less than the
/// information-theoretic minimum of any structure with that false-positive
/// rate, `n * log2(1 / rate)` bits for `n` revocations in one generation
/// (a Bloom filter needs about 1.44 times that). Thousands of revocations
/// with one deadline force the generation to chain several sub-filters.
#[test]
fn revocation_memory_is_never_below_the_information_theoretic_minimum() {
    use tessera::{RevocationFilter, SessionId};
    let rate = 0.01;
    let filter = RevocationFilter::new(1000, rate);
    let empty = filter.memory_bytes();
    assert!(empty >= std::mem::size_of::<RevocationFilter>());
    let mut state = 0x9e37_79b9_7f4a_7c15u128;
    for n in 1..=5_000u32 {
        state = state
            .wrapping_mul(0x2360_ed05_1fc6_5da4_4385_df64_9fcc_f645)
            .wrapping_add(1);
        filter.revoke(SessionId(state.to_le_bytes()), T0);
        if n % 500 == 0 {
            let minimum = f64::from(n) * (1.0 / rate).log2() / 8.0;
            let held = filter.memory_bytes();
            assert!(
                held > empty && held as f64 >= minimum,
                "{n}: {held} < {minimum}"
            );
        }
    }
}

/// Every token length from the smallest to past 1500 characters verifies:
/// the verifier decodes short tokens into a small stack buffer and longer
/// ones into a large one, and the switch between them must not lose any
/// length (mutation testing moved it unnoticed).
#[test]
fn every_token_length_across_the_buffer_tiers_verifies() {
    let issuer = issuer(Policy::default());
    let verifier = issuer.verifier();
    let mut lengths = Vec::new();
    for n in 0..1_000 {
        let data = vec![0x5a; n];
        let token = issue(&issuer, &data).unwrap();
        let session = verifier.verify_at::<Vec<u8>>(&token, T0).unwrap();
        assert_eq!(session.data().len(), n);
        lengths.push(token.len());
    }
    assert!(lengths[0] < 200 && lengths[999] > 1_500);
}

/// The shortest body with every fixed field (header, nonce, tag, signature)
/// and no ciphertext gets past the shape checks to the version and key id;
/// one byte less is malformed.
#[test]
fn the_shortest_well_shaped_body_reaches_the_version_and_key_checks() {
    let verifier = issuer(Policy::default()).verifier();
    let shortest = 5 + 24 + 16 + 64;
    let mut body = vec![0u8; shortest];
    body[0] = 1;
    body[4] = 77; // key id 77: not in the keyset
    assert_eq!(
        verifier.verify_at::<()>(&encode(&body), T0).err(),
        Some(Error::UnknownKey)
    );
    body[4] = 9; // the real key: the AEAD refuses
    assert_eq!(
        verifier.verify_at::<()>(&encode(&body), T0).err(),
        Some(Error::Invalid)
    );
    body[0] = 2;
    assert_eq!(
        verifier.verify_at::<()>(&encode(&body), T0).err(),
        Some(Error::UnsupportedVersion)
    );
    body[0] = 1;
    body.pop();
    assert_eq!(
        verifier.verify_at::<()>(&encode(&body), T0).err(),
        Some(Error::Malformed)
    );
}

/// A keyset that is not a regular file (its size unknown beforehand, here a
/// pipe) is read only up to one byte past `MAX_KEYSET_FILE_LEN`, and refused
/// if it gets there.
#[cfg(all(feature = "json", target_os = "linux"))]
#[test]
fn a_keyset_pipe_is_read_only_to_one_byte_past_the_limit() {
    use std::io::Write as _;
    use tessera::{Keyset, MAX_KEYSET_FILE_LEN};
    let dir = std::env::temp_dir().join(format!("tessera-limits-pipe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pipe = dir.join("keys.json");
    let made = std::process::Command::new("mkfifo")
        .args(["-m", "600"])
        .arg(&pipe)
        .status()
        .unwrap();
    assert!(made.success());
    for (len, refused) in [
        (MAX_KEYSET_FILE_LEN, false),
        (MAX_KEYSET_FILE_LEN + 1, true),
    ] {
        let writer = {
            let pipe = pipe.clone();
            std::thread::spawn(move || {
                let mut out = std::fs::OpenOptions::new().write(true).open(pipe).unwrap();
                // The reader stops at its limit; a broken pipe is expected then.
                let _ = out.write_all(&vec![b' '; len]);
            })
        };
        let result = Keyset::load(&pipe);
        writer.join().unwrap();
        let Err(Error::KeysetFormat(why)) = result else {
            panic!("{len} bytes: {result:?}");
        };
        assert_eq!(why.contains("larger than"), refused, "{len}: {why}");
        if !refused {
            assert!(why.contains("truncated JSON"), "{why}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
