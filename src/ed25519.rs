//! Ed25519 as tessera uses it: signing with the expanded secret key derived
//! once per key, and verification under `verify_strict`'s rules at the cost
//! of ed25519-dalek's plain `verify`.
//!
//! # Strict verification without a second field exponentiation
//!
//! ed25519-dalek's `verify_strict` is its plain `verify` (`S < L`, then
//! `R == compress([S]B - [k]A)` compared as bytes) plus two checks: `R`
//! decompresses and is not of small order, and `A` is not of small order.
//! Decompressing `R` costs a field exponentiation, about 13% of a
//! verification on our machine (BENCHMARKS.md), for a fact that needs none:
//!
//! - `A` is checked once, when a key enters a keyset
//!   ([`StrictVerifyingKey::from_bytes`]: canonical and not of small order),
//!   not on every token.
//! - When plain `verify` accepts, the signature's `R` bytes *are*
//!   `compress(R')`, the canonical encoding of a curve point, so `R`
//!   decompresses (to `R'`), and `R` is of small order exactly when its bytes
//!   are the canonical encoding of one of the eight points of order dividing
//!   8 ([`SMALL_ORDER_R`]; compression is injective). When plain `verify`
//!   rejects, `verify_strict` rejects too.
//!
//! So refusing those eight encodings and then running plain `verify` accepts
//! exactly the signatures `verify_strict` accepts, for keys that passed the
//! load check. This is libsodium's approach (a blocklist of small-order `R`
//! encodings before the equation). The list is not trusted by eye: the unit
//! tests prove it is exactly the set of canonical encodings of the small-order
//! points, and tests/wycheproof.rs compares this function with `verify_strict`
//! on every Wycheproof vector and on forgeries that plain `verify` accepts.
//!
//! # Signing with `hazmat::raw_sign`
//!
//! `SigningKey::sign` re-derives the expanded secret key (SHA-512 of the seed,
//! clamping, a scalar reduction) on every call. [`Ed25519Signer`] derives it
//! once, the way ed25519-dalek does (`ExpandedSecretKey::from(&seed)`), and
//! signs with `raw_sign`: byte-identical signatures (tests below and the
//! known-answer vectors pin them), about 1% of a signature saved per token.
//! The expanded key zeroizes on drop like the seed, and both stay at one heap
//! address for the key's whole life ([`Ed25519Signer`]).

use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
use ed25519_dalek::{Sha512, Signature, SigningKey, Verifier, VerifyingKey};

use crate::Error;

/// The canonical encodings of the eight points of order dividing 8 (the
/// identity, one point of order 2, two of order 4, four of order 8): the `R`
/// values `verify_strict` refuses that plain `verify` could accept.
pub(crate) const SMALL_ORDER_R: [[u8; 32]; 8] = [
    // identity (0, 1)
    [
        0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0,
    ],
    // order 2: (0, -1)
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    // order 4: (±sqrt(-1), 0)
    [0; 32],
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0x80,
    ],
    // order 8
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x85,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0xfa,
    ],
];

/// An Ed25519 signing key with its expanded secret; both are wiped on drop.
///
/// Both live on the heap, each at one address for the signer's whole life:
/// moving a signer (as a `Vec` of keys does when it grows or shifts) moves
/// only pointers, so no unzeroized copy of a secret is left behind in memory
/// the vector freed or reused.
pub(crate) struct Ed25519Signer {
    key: Box<SigningKey>,
    expanded: Box<ExpandedSecretKey>,
}

impl Ed25519Signer {
    /// The signing key for a 32-byte secret seed (RFC 8032).
    pub(crate) fn from_bytes(seed: &[u8; 32]) -> Self {
        Ed25519Signer {
            key: Box::new(SigningKey::from_bytes(seed)),
            expanded: Box::new(ExpandedSecretKey::from(seed)),
        }
    }

    /// The secret seed, for key files only.
    #[cfg_attr(not(feature = "json"), allow(dead_code))]
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The public key. It always passes the load check: it is `[a]B` for a
    /// clamped scalar `a`, a multiple of 8 in `[2^254, 2^255)` and so never a
    /// multiple of the odd group order `L` (the multiples of `L` in that range
    /// are `4L` to `7L`), hence a point of order `L`, canonically encoded by
    /// compression. A unit test checks it against the load check.
    pub(crate) fn verifying_key(&self) -> StrictVerifyingKey {
        StrictVerifyingKey(self.key.verifying_key())
    }

    /// Where the secret seed and the expanded secret key live, for tests that
    /// check they never move.
    #[cfg(test)]
    pub(crate) fn secret_addresses(&self) -> [usize; 2] {
        [
            self.key.as_bytes().as_ptr() as usize,
            core::ptr::from_ref::<ExpandedSecretKey>(&self.expanded) as usize,
        ]
    }

    /// The Ed25519 signature of `message`: the same bytes as
    /// `SigningKey::sign`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        let public: &VerifyingKey = (*self.key).as_ref();
        raw_sign::<Sha512>(&self.expanded, message, public).to_bytes()
    }
}

impl Clone for Ed25519Signer {
    fn clone(&self) -> Self {
        Ed25519Signer::from_bytes(self.key.as_bytes())
    }
}

/// An Ed25519 public key that passed the load check: canonically encoded and
/// not of small order. Only such keys can verify tokens, which is what makes
/// [`verify`](Self::verify) equal to `verify_strict` (module docs).
#[derive(Clone, Copy)]
pub(crate) struct StrictVerifyingKey(VerifyingKey);

impl StrictVerifyingKey {
    /// Checks that public key bytes decode, are canonically encoded and are
    /// not of small order, so that no keyset can hold a key that would let a
    /// forger produce signatures valid for many messages.
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| Error::WeakKey)?;
        let canonical = VerifyingKey::from(key.to_edwards()).to_bytes();
        if canonical != *bytes || key.is_weak() {
            return Err(Error::WeakKey);
        }
        Ok(StrictVerifyingKey(key))
    }

    /// The 32-byte encoding.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Accepts exactly the signatures `verify_strict` accepts (module docs).
    /// Fails with the opaque [`Error::Invalid`].
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), Error> {
        if SMALL_ORDER_R
            .iter()
            .any(|small| signature[..32] == small[..])
        {
            return Err(Error::Invalid);
        }
        self.0
            .verify(message, &Signature::from_bytes(signature))
            .map_err(|_| Error::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer;

    #[test]
    fn small_order_r_is_exactly_the_small_order_points() {
        // Each entry decodes to a point of order dividing 8 and is that
        // point's canonical encoding.
        for bytes in &SMALL_ORDER_R {
            let point = VerifyingKey::from_bytes(bytes).expect("decodes");
            assert!(point.is_weak(), "{bytes:02x?} is of small order");
            assert_eq!(VerifyingKey::from(point.to_edwards()).as_bytes(), bytes);
        }
        // Eight distinct points: the whole small-order subgroup, which has
        // exactly eight elements (the curve's cofactor), so none is missing.
        for (i, a) in SMALL_ORDER_R.iter().enumerate() {
            for b in &SMALL_ORDER_R[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // And every one of them, as a key, is refused at load.
        for bytes in &SMALL_ORDER_R {
            assert_eq!(
                StrictVerifyingKey::from_bytes(bytes).err(),
                Some(Error::WeakKey)
            );
        }
    }

    #[test]
    fn signatures_equal_signing_key_sign() {
        for seed in [[0u8; 32], [7; 32], [0xff; 32]] {
            let signer = Ed25519Signer::from_bytes(&seed);
            let reference = SigningKey::from_bytes(&seed);
            assert_eq!(
                signer.verifying_key().as_bytes(),
                reference.verifying_key().as_bytes()
            );
            let checked = StrictVerifyingKey::from_bytes(signer.verifying_key().as_bytes());
            assert!(checked.is_ok(), "a seed's public key passes the load check");
            assert_eq!(signer.as_bytes(), &seed);
            for message in [&b""[..], b"m", &[0xa5; 300]] {
                let sig = signer.sign(message);
                assert_eq!(sig, reference.sign(message).to_bytes());
                assert_eq!(signer.clone().sign(message), sig);
            }
        }
    }

    #[test]
    fn verify_agrees_with_verify_strict() {
        let signer = Ed25519Signer::from_bytes(&[3; 32]);
        let key = signer.verifying_key();
        let dalek = VerifyingKey::from_bytes(key.as_bytes()).expect("decodes");
        let good = signer.sign(b"message");
        assert_eq!(key.verify(b"message", &good), Ok(()));
        assert_eq!(key.verify(b"massage", &good), Err(Error::Invalid));
        let mut cases = vec![good];
        for small in &SMALL_ORDER_R {
            let mut sig = good;
            sig[..32].copy_from_slice(small);
            cases.push(sig);
        }
        for bit in [0, 7, 255, 256, 300, 511] {
            let mut sig = good;
            sig[bit / 8] ^= 1 << (bit % 8);
            cases.push(sig);
        }
        // R = identity, S = k * a: plain `verify` accepts this second
        // signature of the message, `verify_strict` refuses it.
        let k = {
            use ed25519_dalek::Digest;
            let mut h = Sha512::new();
            h.update(SMALL_ORDER_R[0]);
            h.update(key.as_bytes());
            h.update(b"message");
            curve25519_dalek::Scalar::from_hash(h)
        };
        let s = k * ExpandedSecretKey::from(&[3; 32]).scalar;
        let mut forged = [0u8; 64];
        forged[..32].copy_from_slice(&SMALL_ORDER_R[0]);
        forged[32..].copy_from_slice(s.as_bytes());
        assert!(dalek
            .verify(b"message", &Signature::from_bytes(&forged))
            .is_ok());
        assert_eq!(key.verify(b"message", &forged), Err(Error::Invalid));
        cases.push(forged);
        for sig in cases {
            let strict = dalek.verify_strict(b"message", &Signature::from_bytes(&sig));
            assert_eq!(key.verify(b"message", &sig).is_ok(), strict.is_ok());
        }
    }

    #[test]
    fn weak_and_non_canonical_keys_are_refused() {
        // The identity point (y = 1) is of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            StrictVerifyingKey::from_bytes(&identity).err(),
            Some(Error::WeakKey)
        );
        // y = p + 1 is a non-canonical encoding of the identity.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        assert_eq!(
            StrictVerifyingKey::from_bytes(&non_canonical).err(),
            Some(Error::WeakKey)
        );
        // About half of all y have no point on the curve.
        let off_curve = (2u8..=255)
            .map(|y| {
                let mut bytes = [0u8; 32];
                bytes[0] = y;
                bytes
            })
            .find(|bytes| VerifyingKey::from_bytes(bytes).is_err())
            .expect("some y is off the curve");
        assert_eq!(
            StrictVerifyingKey::from_bytes(&off_curve).err(),
            Some(Error::WeakKey)
        );
        let good = Ed25519Signer::from_bytes(&[7; 32]).verifying_key();
        let key = StrictVerifyingKey::from_bytes(good.as_bytes()).expect("sound key");
        assert_eq!(key.as_bytes(), good.as_bytes());
    }
}
