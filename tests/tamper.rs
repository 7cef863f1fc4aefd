//! Exhaustive tamper rejection: every single-bit flip of a token's body
//! (re-encoded canonically), every single-character substitution, deletion
//! and truncation of its text, and every bit flip and truncation of a
//! revocation snapshot is rejected, each with the error the verification
//! order (DESIGN.md) assigns to the part that was touched. Keyset files (with
//! the `json` feature): every change to a signing or verifying key is
//! rejected, and every bit flip either is or leaves keys that work together.

use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tessera::testing::{issue_deterministic, keyset_from_raw, RawKey};
use tessera::{Error, Issuer, KeyId, Policy, RevocationFilter, SessionId, Verifier};

const T0: u64 = 1_750_000_000;
const PREFIX: &str = "tsr1.";
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Characters outside base64url: padding, the standard alphabet's two, the
/// separator, whitespace, NUL, and a multi-byte character.
const NON_ALPHABET: &[&str] = &["=", "+", "/", ".", " ", "\n", "\0", "é"];

fn raw(id: u32, fill: u8) -> RawKey {
    RawKey {
        id: KeyId(id),
        signing_seed: [fill; 32],
        encryption_key: [fill ^ 0x5a; 32],
    }
}

/// Keys 1 (primary) and 3: flipping bit 1 of key id 1 names key 3, which
/// exists, so that path reaches the AEAD instead of stopping at the lookup.
fn issuer(audience: &str) -> Issuer {
    let keys = keyset_from_raw(&[raw(1, 0x11), raw(3, 0x33)]).unwrap();
    Issuer::new(
        keys,
        Policy::default()
            .audience(audience)
            .idle_timeout(Duration::from_secs(600)),
    )
}

fn body(token: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(token.strip_prefix(PREFIX).unwrap()).unwrap()
}

fn encode(body: &[u8]) -> String {
    let mut out = vec![0u8; Base64UrlUnpadded::encoded_len(body)];
    let text = Base64UrlUnpadded::encode(body, &mut out).unwrap();
    format!("{PREFIX}{text}")
}

/// Runs every tamper check against one token; returns how many variants were
/// rejected.
fn tamper_token<T: DeserializeOwned>(verifier: &Verifier, token: &str, key_ids: &[u32]) -> usize {
    let at = T0 + 5;
    assert!(
        verifier.verify_at::<T>(token, at).is_ok(),
        "the untouched token verifies"
    );
    let verify = |t: &str| verifier.verify_at::<T>(t, at).err();
    let mut rejected = 0;

    // Every bit of the body, re-encoded canonically.
    let body = body(token);
    for byte in 0..body.len() {
        for bit in 0..8 {
            let mut bad = body.clone();
            bad[byte] ^= 1 << bit;
            let expected = match byte {
                0 => Error::UnsupportedVersion,
                1..=4 => {
                    let id = u32::from_be_bytes(bad[1..5].try_into().unwrap());
                    if key_ids.contains(&id) {
                        Error::Invalid
                    } else {
                        Error::UnknownKey
                    }
                }
                _ => Error::Invalid,
            };
            assert_eq!(
                verify(&encode(&bad)),
                Some(expected),
                "bit {bit} of byte {byte}"
            );
            rejected += 1;
        }
    }

    // Dropping any one body byte, or inserting one, breaks the AEAD or the
    // signature (or the header, when it is in the first five bytes).
    for at_byte in 0..=body.len() {
        if at_byte < body.len() {
            let mut shorter = body.clone();
            shorter.remove(at_byte);
            assert!(
                verify(&encode(&shorter)).is_some(),
                "byte {at_byte} removed"
            );
            rejected += 1;
        }
        let mut longer = body.clone();
        longer.insert(at_byte, 0x42);
        assert!(
            verify(&encode(&longer)).is_some(),
            "byte inserted at {at_byte}"
        );
        rejected += 1;
    }

    // Every character substitution of the text.
    let text = token.as_bytes();
    for pos in 0..text.len() {
        let replacements = ALPHABET
            .iter()
            .map(|c| char::from(*c).to_string())
            .chain(NON_ALPHABET.iter().map(|s| s.to_string()));
        for replacement in replacements {
            if replacement.as_bytes() == [text[pos]] {
                continue;
            }
            let bad = format!("{}{replacement}{}", &token[..pos], &token[pos + 1..]);
            let err = verify(&bad);
            if pos < PREFIX.len() {
                assert_eq!(err, Some(Error::Malformed), "{replacement:?} at {pos}");
            } else {
                assert!(
                    matches!(
                        err,
                        Some(
                            Error::Malformed
                                | Error::UnsupportedVersion
                                | Error::UnknownKey
                                | Error::Invalid
                        )
                    ),
                    "{replacement:?} at {pos}: {err:?}"
                );
            }
            rejected += 1;
        }
    }

    // Every strict prefix, and every one-character extension.
    for len in 0..token.len() {
        assert!(verify(&token[..len]).is_some(), "prefix of {len} chars");
        rejected += 1;
    }
    for c in ALPHABET {
        let longer = format!("{token}{}", char::from(*c));
        assert!(verify(&longer).is_some(), "extended by {}", char::from(*c));
        rejected += 1;
    }
    rejected
}

fn deterministic<T: Serialize>(issuer: &Issuer, subject: &str, data: &T, n: u8) -> String {
    issue_deterministic(issuer, subject, data, T0, [n; 16], [n.wrapping_add(1); 24]).unwrap()
}

#[test]
fn every_tampered_token_is_rejected() {
    let plain = issuer("");
    let token = deterministic(&plain, "alice", &(), 1);
    let n = tamper_token::<()>(&plain.verifier(), &token, &[1, 3]);
    // 5 header + 24 nonce + claims + 16 tag + 64 signature bytes.
    assert!(n > 10_000, "only {n} variants checked");
}

#[test]
fn every_tampered_audience_bound_token_with_data_is_rejected() {
    let bound = issuer("billing-api");
    let data = vec!["admin".to_string(), "ops".to_string()];
    let token = deterministic(&bound, "bob@example.com", &data, 7);
    tamper_token::<Vec<String>>(&bound.verifier(), &token, &[1, 3]);
    // And the untouched token is bound to its audience.
    assert_eq!(
        issuer("billing")
            .verifier()
            .verify_at::<Vec<String>>(&token, T0)
            .err(),
        Some(Error::Invalid)
    );
}

#[test]
fn every_tampered_snapshot_is_rejected() {
    let filter = RevocationFilter::new(16, 0.01);
    for i in 0..3u8 {
        filter.revoke(
            SessionId([i.wrapping_mul(37); 16]),
            T0 + u64::from(i) * 7200,
        );
    }
    let snapshot = filter.to_snapshot();
    let loaded = RevocationFilter::from_snapshot(&snapshot).unwrap();
    assert!(loaded.is_revoked(SessionId([37; 16]), T0 + 7200));
    for byte in 0..snapshot.len() {
        for bit in 0..8 {
            let mut bad = snapshot.clone();
            bad[byte] ^= 1 << bit;
            assert_eq!(
                RevocationFilter::from_snapshot(&bad).err(),
                Some(Error::CorruptSnapshot),
                "bit {bit} of byte {byte}"
            );
        }
    }
    for len in 0..snapshot.len() {
        assert_eq!(
            RevocationFilter::from_snapshot(&snapshot[..len]).err(),
            Some(Error::CorruptSnapshot),
            "truncated to {len}"
        );
    }
    let mut longer = snapshot.clone();
    longer.push(0);
    assert_eq!(
        RevocationFilter::from_snapshot(&longer).err(),
        Some(Error::CorruptSnapshot)
    );
}

/// Keyset files carry no MAC: ids, states and times are metadata that an
/// attacker with write access could change anyway. What they do check is that
/// each verifying key is sound and matches its signing key; so every change
/// to a signing or verifying key must be rejected, and any other change must
/// either be rejected or yield keys that still work together.
#[cfg(feature = "json")]
mod keyset_files {
    use super::*;
    use tessera::{Keyset, VerifierKeyset};

    fn issuer_file() -> String {
        keyset_from_raw(&[raw(1, 0x11), raw(3, 0x33)])
            .unwrap()
            .to_json()
            .to_string()
    }

    /// Byte ranges of the values of `field` in `file`.
    fn value_ranges(file: &str, field: &str) -> Vec<std::ops::Range<usize>> {
        let needle = format!("\"{field}\": \"");
        file.match_indices(&needle)
            .map(|(at, _)| {
                let start = at + needle.len();
                start..start + 43
            })
            .collect()
    }

    /// A parsed keyset still works: its primary issues a token that its
    /// verifier half (through its own file) accepts.
    fn keys_work(keys: &Keyset) {
        let issuer = Issuer::new(keys.clone(), Policy::default());
        let token = issue_deterministic(&issuer, "k", &(), T0, [1; 16], [2; 24]).unwrap();
        let shipped = VerifierKeyset::from_json(&keys.verifier_keyset().to_json()).unwrap();
        let verifier = Verifier::new(shipped, Policy::default());
        assert!(verifier.verify_at::<()>(&token, T0).is_ok());
    }

    #[test]
    fn every_substitution_in_a_signing_or_verifying_key_is_rejected() {
        let file = issuer_file();
        keys_work(&Keyset::from_json(&file).unwrap());
        let mut ranges = value_ranges(&file, "signing_key");
        ranges.extend(value_ranges(&file, "verifying_key"));
        assert_eq!(ranges.len(), 4);
        let mut rejected = 0;
        for range in ranges {
            for pos in range {
                for c in ALPHABET.iter().map(|c| char::from(*c)) {
                    if file.as_bytes()[pos] == c as u8 {
                        continue;
                    }
                    let bad = format!("{}{c}{}", &file[..pos], &file[pos + 1..]);
                    let err = Keyset::from_json(&bad).err();
                    assert!(
                        matches!(err, Some(Error::WeakKey | Error::KeysetFormat(_))),
                        "{c:?} at {pos}: {err:?}"
                    );
                    rejected += 1;
                }
            }
        }
        assert_eq!(rejected, 4 * 43 * 63);
    }

    #[test]
    fn every_bit_flip_of_a_keyset_file_is_rejected_or_still_consistent() {
        let file = issuer_file();
        let mut key_bytes = value_ranges(&file, "signing_key");
        key_bytes.extend(value_ranges(&file, "verifying_key"));
        let in_key = |i: usize| key_bytes.iter().any(|r| r.contains(&i));
        let dir = std::env::temp_dir().join(format!("tessera-tamper-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.json");
        let (mut rejected, mut accepted, mut not_utf8) = (0, 0, 0);
        for byte in 0..file.len() {
            for bit in 0..8 {
                let mut bad = file.clone().into_bytes();
                bad[byte] ^= 1 << bit;
                let Ok(text) = String::from_utf8(bad.clone()) else {
                    // Not text: only a file can carry it; loading refuses it.
                    write_private(&path, &bad);
                    assert!(matches!(Keyset::load(&path), Err(Error::KeysetFormat(_))));
                    assert!(matches!(
                        VerifierKeyset::load(&path),
                        Err(Error::KeysetFormat(_))
                    ));
                    not_utf8 += 1;
                    continue;
                };
                match Keyset::from_json(&text) {
                    Ok(keys) => {
                        assert!(!in_key(byte), "key byte {byte} bit {bit} accepted");
                        keys_work(&keys);
                        accepted += 1;
                    }
                    Err(_) => rejected += 1,
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(rejected + accepted + not_utf8, file.len() * 8);
        assert!(
            rejected > accepted,
            "{rejected} rejected, {accepted} accepted"
        );
    }

    fn write_private(path: &std::path::Path, bytes: &[u8]) {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(path).unwrap().write_all(bytes).unwrap();
    }
}
