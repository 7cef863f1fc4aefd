//! Wycheproof vectors through the exact primitive calls tessera makes:
//! Ed25519 keys through tessera's key-load check and signatures through
//! tessera's strict verification (src/ed25519.rs: `verify_strict`'s rules,
//! computed as a small-order-R check plus plain `verify`), compared with
//! ed25519-dalek's own `verify_strict` on every vector, and
//! (X)ChaCha20-Poly1305 through `encrypt_inout_detached` /
//! `decrypt_inout_detached`. Plus our own Ed25519 cases that Wycheproof's
//! one-key set cannot express: small-order keys, S + L, non-canonical R.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::{EdwardsPoint, Scalar};
use ed25519_dalek::ed25519::signature::Verifier as _;
use ed25519_dalek::hazmat::ExpandedSecretKey;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use tessera::testing::{check_verifying_key, verify_ed25519};
use wycheproof::TestResult;

/// What tessera does with an Ed25519 (key, message, signature) triple: load
/// the key (refusing weak or non-canonical keys), take a 64-byte signature
/// (a token's signature field is exactly 64 bytes: other lengths cannot be
/// expressed), then tessera's strict verification. Every call also checks
/// that the outcome is exactly ed25519-dalek's `verify_strict`'s for a key
/// that loads.
fn tessera_ed25519(pk: &[u8], msg: &[u8], sig: &[u8]) -> Outcome {
    let Ok(pk) = <[u8; 32]>::try_from(pk) else {
        return Outcome::KeyRefused;
    };
    if check_verifying_key(&pk).is_err() {
        assert_eq!(
            verify_ed25519(&pk, msg, &[0; 64]),
            Err(tessera::Error::WeakKey)
        );
        return Outcome::KeyRefused;
    }
    let Ok(sig) = <[u8; 64]>::try_from(sig) else {
        return Outcome::Rejected;
    };
    let ours = verify_ed25519(&pk, msg, &sig);
    let key = VerifyingKey::from_bytes(&pk).expect("the load check decoded it");
    let strict = key.verify_strict(msg, &Signature::from_bytes(&sig));
    assert_eq!(ours.is_ok(), strict.is_ok(), "differs from verify_strict");
    match ours {
        Ok(()) => Outcome::Accepted,
        Err(e) => {
            assert_eq!(e, tessera::Error::Invalid);
            Outcome::Rejected
        }
    }
}

#[derive(Debug, PartialEq)]
enum Outcome {
    KeyRefused,
    Rejected,
    Accepted,
}

#[test]
fn wycheproof_ed25519_through_load_check_and_verify_strict() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let (mut run, mut accepted, mut rejected, mut divergent) = (0, 0, 0, Vec::new());
    for group in &set.test_groups {
        for test in &group.tests {
            run += 1;
            let outcome = tessera_ed25519(&group.key.pk, &test.msg, &test.sig);
            match (test.result, &outcome) {
                (TestResult::Valid, Outcome::Accepted) => accepted += 1,
                (TestResult::Invalid, Outcome::Rejected | Outcome::KeyRefused) => rejected += 1,
                (TestResult::Acceptable, _) | (TestResult::Valid, _) => {
                    // Tessera may be stricter than Wycheproof's "valid", but
                    // only for a documented reason: the key is weak, or the
                    // signature's R is of small order (verify_strict).
                    let why = strictness_reason(&group.key.pk, &test.sig);
                    assert!(
                        why.is_some(),
                        "tc {} ({}): Wycheproof says {:?}, tessera {outcome:?}, for no known reason",
                        test.tc_id,
                        test.comment,
                        test.result
                    );
                    divergent.push((test.tc_id, why));
                }
                (TestResult::Invalid, Outcome::Accepted) => {
                    panic!(
                        "tc {} ({}): invalid signature accepted",
                        test.tc_id, test.comment
                    )
                }
            }
        }
    }
    println!(
        "Ed25519: {run} vectors, {accepted} valid accepted, {rejected} invalid rejected, \
         divergences {divergent:?}"
    );
    assert_eq!(run, set.number_of_tests);
    assert_eq!(run, accepted + rejected + divergent.len());
    assert!(accepted >= 80, "too few valid vectors accepted: {accepted}");
}

/// Why tessera's strict checking may refuse a signature another Ed25519
/// implementation accepts, if it does so for one of the documented reasons.
fn strictness_reason(pk: &[u8], sig: &[u8]) -> Option<&'static str> {
    let pk = <[u8; 32]>::try_from(pk).ok()?;
    let key = VerifyingKey::from_bytes(&pk).ok()?;
    if key.is_weak() || check_verifying_key(&pk).is_err() {
        return Some("weak or non-canonical public key");
    }
    // verify_strict also refuses an R of small order; decoding R as a key
    // and asking `is_weak` is that same small-order test.
    let r: [u8; 32] = sig.get(..32)?.try_into().ok()?;
    if VerifyingKey::from_bytes(&r).ok()?.is_weak() {
        return Some("small-order R");
    }
    None
}

/// One Wycheproof AEAD vector through tessera's calls; `N` is the nonce size.
fn aead_vector<C: AeadInOut + KeyInit>(test: &wycheproof::aead::Test, nonce_len: usize) -> bool {
    let cipher = C::new_from_slice(&test.key).expect("256-bit key");
    let nonce = chacha20poly1305::aead::Nonce::<C>::try_from(&test.nonce[..]).expect("nonce");
    assert_eq!(test.nonce.len(), nonce_len);
    // Encrypt: must reproduce the vector's ciphertext and tag exactly (only
    // meaningful for valid vectors: invalid ones carry altered ct or tag).
    let mut buf = test.pt.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&nonce, &test.aad, buf.as_mut_slice().into())
        .expect("encrypt");
    let reproduced = buf == test.ct.as_slice() && tag.as_slice() == test.tag.as_slice();
    // Decrypt: tessera's exact call.
    let mut buf = test.ct.to_vec();
    let Ok(tag) = chacha20poly1305::aead::Tag::<C>::try_from(&test.tag[..]) else {
        return false;
    };
    let opened = cipher
        .decrypt_inout_detached(&nonce, &test.aad, buf.as_mut_slice().into(), &tag)
        .is_ok();
    if opened {
        assert_eq!(
            buf,
            test.pt.as_slice(),
            "tc {}: wrong plaintext",
            test.tc_id
        );
        assert!(
            reproduced,
            "tc {}: opens but does not re-encrypt",
            test.tc_id
        );
    }
    opened
}

fn run_aead<C: AeadInOut + KeyInit>(
    name: wycheproof::aead::TestName,
    nonce_bits: usize,
) -> (usize, usize, usize) {
    let set = wycheproof::aead::TestSet::load(name).unwrap();
    let (mut run, mut valid, mut invalid, mut wrong_size) = (0, 0, 0, 0);
    for group in &set.test_groups {
        for test in &group.tests {
            if group.nonce_size != nonce_bits || group.tag_size != 128 || group.key_size != 256 {
                // Sizes the cipher type cannot even express (tessera's nonce
                // and tag are fixed-size arrays): these must all be invalid.
                assert_eq!(test.result, TestResult::Invalid, "tc {}", test.tc_id);
                wrong_size += 1;
                continue;
            }
            run += 1;
            let opened = aead_vector::<C>(test, nonce_bits / 8);
            match test.result {
                TestResult::Valid | TestResult::Acceptable => {
                    assert!(
                        opened,
                        "tc {} ({}): valid vector refused",
                        test.tc_id, test.comment
                    );
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(
                        !opened,
                        "tc {} ({}): invalid vector opened",
                        test.tc_id, test.comment
                    );
                    invalid += 1;
                }
            }
        }
    }
    assert_eq!(run + wrong_size, set.number_of_tests);
    println!("{name:?}: {run} vectors run ({valid} valid, {invalid} invalid), {wrong_size} with sizes the type cannot express");
    (run, valid, invalid)
}

#[test]
fn wycheproof_chacha20poly1305_through_inout_detached() {
    let (run, valid, invalid) =
        run_aead::<ChaCha20Poly1305>(wycheproof::aead::TestName::ChaCha20Poly1305, 96);
    assert!(run > 250 && valid > 200 && invalid > 10);
}

#[test]
fn wycheproof_xchacha20poly1305_through_inout_detached() {
    let (run, valid, invalid) =
        run_aead::<XChaCha20Poly1305>(wycheproof::aead::TestName::XChaCha20Poly1305, 192);
    assert!(run > 250 && valid > 200 && invalid > 10);
}

/// The eight small-order points of edwards25519, canonically encoded.
const SMALL_ORDER: [&str; 8] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
];

/// The group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap();
    }
    out
}

fn signature(r: [u8; 32], s: [u8; 32]) -> Signature {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(&r);
    bytes[32..].copy_from_slice(&s);
    Signature::from_bytes(&bytes)
}

const IDENTITY: [u8; 32] = {
    let mut b = [0u8; 32];
    b[0] = 1;
    b
};

#[test]
fn identity_key_with_identity_r_and_zero_s_passes_plain_verify_only() {
    let key = VerifyingKey::from_bytes(&IDENTITY).unwrap();
    let forged = signature(IDENTITY, [0; 32]);
    for msg in [&b""[..], b"any message at all", b"tsr1.anything"] {
        // The textbook equation [S]B = R + [k]A holds for every message.
        assert!(
            key.verify(msg, &forged).is_ok(),
            "plain verify accepts the forgery"
        );
        assert!(key.verify_strict(msg, &forged).is_err());
        assert_eq!(
            tessera_ed25519(&IDENTITY, msg, &forged.to_bytes()),
            Outcome::KeyRefused
        );
    }
}

#[test]
fn every_small_order_key_is_refused_and_fails_verify_strict() {
    let forged = signature(IDENTITY, [0; 32]);
    let mut plain_accepts = 0;
    for hex in SMALL_ORDER {
        let pk = hex32(hex);
        let key = VerifyingKey::from_bytes(&pk).expect("small-order points decode");
        assert!(key.is_weak(), "{hex} is small-order");
        assert!(check_verifying_key(&pk).is_err(), "{hex} refused at load");
        for i in 0u8..32 {
            let msg = [i; 3];
            assert!(key.verify_strict(&msg, &forged).is_err());
            // [k]A vanishes whenever k is a multiple of A's order, so plain
            // verify accepts the forgery for about 1 message in ord(A).
            plain_accepts += usize::from(key.verify(&msg, &forged).is_ok());
        }
    }
    // The identity alone gives 32; the other points add more.
    assert!(plain_accepts > 32, "plain verify accepted {plain_accepts}");
}

#[test]
fn s_plus_l_is_rejected() {
    let signing = SigningKey::from_bytes(&[0x42; 32]);
    let key = signing.verifying_key();
    let msg = b"tessera/v1/sig message";
    let good = signing.sign(msg).to_bytes();
    assert!(key
        .verify_strict(msg, &Signature::from_bytes(&good))
        .is_ok());
    let mut s: [u8; 32] = good[32..].try_into().unwrap();
    let mut carry = 0u16;
    for (byte, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    let r: [u8; 32] = good[..32].try_into().unwrap();
    let malleated = signature(r, s);
    // Same scalar mod L, so the group equation still holds: only the
    // canonical-S check stands between this and a second valid signature.
    assert!(key.verify_strict(msg, &malleated).is_err());
    assert!(key.verify(msg, &malleated).is_err());
    assert_eq!(
        tessera_ed25519(key.as_bytes(), msg, &malleated.to_bytes()),
        Outcome::Rejected
    );
}

#[test]
fn non_canonical_r_is_rejected() {
    // Only points with y < 19 have a second encoding (y + p), and a sign bit
    // on x = 0 is a second encoding too; such an R can never be [r]B for an
    // honest signature, so we use the identity key, under which the
    // canonical identity R with S = 0 passes plain verify (previous test).
    let key = VerifyingKey::from_bytes(&IDENTITY).unwrap();
    let y_plus_p = hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    let negative_zero = hex32("0100000000000000000000000000000000000000000000000000000000000080");
    for r in [y_plus_p, negative_zero] {
        let sig = signature(r, [0; 32]);
        assert!(
            key.verify(b"m", &sig).is_err(),
            "R bytes are compared, not points"
        );
        assert!(key.verify_strict(b"m", &sig).is_err());
    }
    // Under an ordinary key, a non-canonical R with any S is refused.
    let signing = SigningKey::from_bytes(&[0x24; 32]);
    let good = signing.sign(b"m").to_bytes();
    let s: [u8; 32] = good[32..].try_into().unwrap();
    for r in [y_plus_p, negative_zero, [0xff; 32]] {
        let sig = signature(r, s);
        assert!(signing.verifying_key().verify_strict(b"m", &sig).is_err());
        assert_eq!(
            tessera_ed25519(signing.verifying_key().as_bytes(), b"m", &sig.to_bytes()),
            Outcome::Rejected
        );
    }
}

/// `[S]B - [k]A` for the signature `(R, S)` of `message` under `A`, as
/// ed25519-dalek computes it, with `k = SHA-512(R || A || M) mod L`.
fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    use ed25519_dalek::Digest;
    let mut h = ed25519_dalek::Sha512::new();
    h.update(r);
    h.update(a);
    h.update(message);
    Scalar::from_hash(h)
}

#[test]
fn identity_r_forgery_under_a_sound_key_passes_plain_verify_only() {
    // With the secret scalar a, R = identity and S = k * a satisfy the plain
    // equation R = [S]B - [k]A for any message: a second, non-standard
    // signature. verify_strict refuses it (R of small order), so must we.
    let seed = [0x42; 32];
    let signing = SigningKey::from_bytes(&seed);
    let key = signing.verifying_key();
    let a = ExpandedSecretKey::from(&seed).scalar;
    for msg in [&b""[..], b"m", &[7; 200]] {
        let s = challenge(&IDENTITY, key.as_bytes(), msg) * a;
        let forged = signature(IDENTITY, s.to_bytes());
        assert!(key.verify(msg, &forged).is_ok(), "plain verify accepts it");
        assert!(key.verify_strict(msg, &forged).is_err());
        assert_eq!(
            tessera_ed25519(key.as_bytes(), msg, &forged.to_bytes()),
            Outcome::Rejected
        );
    }
}

#[test]
fn small_order_r_under_a_mixed_order_key_passes_plain_verify_only() {
    // A = A0 + T, T of order 8, is not of small order, so it loads (as it
    // does for verify_strict). With S = k * a0, plain verify computes
    // R' = -[k]T, a small-order point, and accepts whenever R was chosen
    // equal to it: for about one message in eight per choice of R.
    let seed = [0x24; 32];
    let a0 = ExpandedSecretKey::from(&seed).scalar;
    let mixed = (EdwardsPoint::mul_base(&a0) + EIGHT_TORSION[1])
        .compress()
        .to_bytes();
    assert_eq!(
        check_verifying_key(&mixed),
        Ok(()),
        "a mixed-order key loads"
    );
    let key = VerifyingKey::from_bytes(&mixed).unwrap();
    let mut plain_accepts = 0;
    for i in 0u8..64 {
        let msg = [i; 5];
        for torsion in &EIGHT_TORSION {
            let r = torsion.compress().to_bytes();
            let s = challenge(&r, &mixed, &msg) * a0;
            let forged = signature(r, s.to_bytes());
            plain_accepts += usize::from(key.verify(&msg, &forged).is_ok());
            assert!(key.verify_strict(&msg, &forged).is_err());
            assert_eq!(
                tessera_ed25519(&mixed, &msg, &forged.to_bytes()),
                Outcome::Rejected
            );
        }
    }
    // 64 messages x 8 choices of R, each accepted by plain verify with
    // probability 1/8: about 64; far from zero in any case.
    assert!(plain_accepts >= 20, "plain verify accepted {plain_accepts}");
}

#[test]
fn random_signatures_agree_with_verify_strict() {
    // Honest signatures, and the same with R replaced by every small-order
    // encoding and single bits flipped, under several keys.
    for seed in 0u8..8 {
        let signing = SigningKey::from_bytes(&[seed; 32]);
        let pk = *signing.verifying_key().as_bytes();
        for len in [0usize, 1, 64, 136, 300] {
            let msg = vec![seed ^ 0x5a; len];
            let good = signing.sign(&msg).to_bytes();
            assert_eq!(tessera_ed25519(&pk, &msg, &good), Outcome::Accepted);
            let mut variants = Vec::new();
            for torsion in &EIGHT_TORSION {
                let mut sig = good;
                sig[..32].copy_from_slice(torsion.compress().as_bytes());
                variants.push(sig);
            }
            for bit in (0..512).step_by(37) {
                let mut sig = good;
                sig[bit / 8] ^= 1 << (bit % 8);
                variants.push(sig);
            }
            for sig in variants {
                // tessera_ed25519 asserts agreement with verify_strict.
                assert_eq!(tessera_ed25519(&pk, &msg, &sig), Outcome::Rejected);
            }
        }
    }
}
