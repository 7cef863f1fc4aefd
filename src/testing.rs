//! Deterministic keys and nonces, for known-answer vectors and fuzzing only.
//!
//! Behind the `test-util` feature. **Never enable it in production**: a fixed
//! nonce reused under one key breaks XChaCha20-Poly1305's confidentiality.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::claims::{Session, SessionId};
use crate::keys::{EncryptionKey, IssuerKey, KeyId, KeyInfo, KeyState, Keyset};
use crate::{Error, Issuer};

/// Raw material for one key pair: the Ed25519 secret seed and the
/// XChaCha20-Poly1305 key.
#[derive(Clone, Copy)]
pub struct RawKey {
    /// Key id.
    pub id: KeyId,
    /// Ed25519 secret key (seed) bytes.
    pub signing_seed: [u8; 32],
    /// XChaCha20-Poly1305 key bytes.
    pub encryption_key: [u8; 32],
}

impl core::fmt::Debug for RawKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A keyset from fixed bytes; the first key is the primary.
///
/// # Errors
///
/// [`Error::PrimaryKey`] if `keys` is empty, [`Error::UnknownKey`] for a
/// duplicate id, [`Error::WeakKey`] for unsound key material.
pub fn keyset_from_raw(keys: &[RawKey]) -> Result<Keyset, Error> {
    let parts = keys
        .iter()
        .enumerate()
        .map(|(i, raw)| IssuerKey {
            info: KeyInfo {
                id: raw.id,
                state: if i == 0 {
                    KeyState::Primary
                } else {
                    KeyState::Enabled
                },
                created_at: 0,
                demoted_at: None,
            },
            signing: crate::ed25519::Ed25519Signer::from_bytes(&raw.signing_seed),
            encryption: EncryptionKey::from_bytes(&raw.encryption_key),
        })
        .collect();
    Keyset::from_parts(parts)
}

/// Issues a token with a fixed session id and nonce, as of `now`.
///
/// # Errors
///
/// As [`Issuer::issue`].
pub fn issue_deterministic<T: Serialize>(
    issuer: &Issuer,
    subject: &str,
    data: &T,
    now: u64,
    session_id: [u8; 16],
    nonce: [u8; 24],
) -> Result<String, Error> {
    let deadline = now.saturating_add(issuer.policy().max_lifetime);
    issuer.seal_with_nonce(SessionId(session_id), subject, data, now, deadline, &nonce)
}

/// Decodes decrypted claims bytes exactly as [`Verifier::verify`](crate::Verifier::verify)
/// does after the AEAD and signature checks (postcard, every byte consumed,
/// offsets turned into absolute times), without any cryptography, so that the
/// claims decoder can be fuzzed directly. The session's key id is `KeyId(0)`.
///
/// # Errors
///
/// [`Error::Malformed`] if the session id, times and subject do not decode,
/// or the times overflow or put the expiry past the deadline;
/// [`Error::DataMismatch`] if they do but the rest is not exactly one
/// encoding of a `T`.
pub fn decode_claims<T: DeserializeOwned>(bytes: &[u8]) -> Result<Session<T>, Error> {
    crate::claims::decode_session::<T>(bytes, KeyId(0))
}

/// Whether tessera accepts these Ed25519 public key bytes when it loads a
/// keyset: they must decode, be canonically encoded, and not be of small
/// order. The Wycheproof tests run every vector's key through this check, as
/// a verifier loading that key would.
///
/// # Errors
///
/// [`Error::WeakKey`] for key bytes tessera refuses to load.
pub fn check_verifying_key(bytes: &[u8; 32]) -> Result<(), Error> {
    crate::ed25519::StrictVerifyingKey::from_bytes(bytes).map(|_| ())
}

/// Ed25519 exactly as a verifier runs it on a token's signature: the key goes
/// through the load check (as [`check_verifying_key`]), then the signature
/// through tessera's strict verification (`verify_strict`'s rules, see
/// docs/FORMAT.md step 5). The Wycheproof tests compare this with
/// ed25519-dalek's `verify_strict` on every vector.
///
/// # Errors
///
/// [`Error::WeakKey`] for key bytes tessera refuses to load;
/// [`Error::Invalid`] for a signature it rejects.
pub fn verify_ed25519(
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), Error> {
    crate::ed25519::StrictVerifyingKey::from_bytes(public_key)?.verify(message, signature)
}
