//! The [`Verifier`]: checks tokens in the DESIGN.md order, cheapest rejection first.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::claims::{check_times, unix_now, DecodedClaims, Policy, Session, SessionId};
use crate::keys::VerifierKeyset;
use crate::revocation::RevocationFilter;
use crate::token::{PlaintextBuf, UntrustedToken, MAX_BODY};
use crate::Error;

/// Revocations a verifier's own filter is sized for, when none is shared in.
pub const DEFAULT_REVOCATION_CAPACITY: usize = 100_000;
/// False-positive rate of a verifier's own filter.
pub const DEFAULT_REVOCATION_FP_RATE: f64 = 0.001;

/// Verifies tokens and remembers revocations. Holds no signing key, so it
/// cannot mint tokens. `Send + Sync`; share it behind an `Arc`.
///
/// ```
/// use tessera::{Error, Issuer, Keyset, Policy};
///
/// let issuer = Issuer::new(Keyset::generate(), Policy::default());
/// let verifier = issuer.verifier();
/// let token = issuer.issue_at("bob", &(), 1_700_000_000)?;
/// let session = verifier.verify_at::<()>(&token, 1_700_000_100)?;
/// verifier.revoke(&session);
/// assert_eq!(verifier.verify_at::<()>(&token, 1_700_000_101).err(), Some(Error::Revoked));
/// # Ok::<(), tessera::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: VerifierKeyset,
    policy: Policy,
    revocations: Arc<RevocationFilter>,
}

impl Verifier {
    /// A verifier for tokens under `keys` and `policy`, with a revocation filter
    /// of its own (see [`with_revocations`](Self::with_revocations) to share one).
    pub fn new(keys: VerifierKeyset, policy: Policy) -> Verifier {
        Verifier {
            keys,
            policy,
            revocations: Arc::new(RevocationFilter::new(
                DEFAULT_REVOCATION_CAPACITY,
                DEFAULT_REVOCATION_FP_RATE,
            )),
        }
    }

    /// Verifies `token` now.
    ///
    /// # Errors
    ///
    /// The first failed check, in this order: [`Error::TooLarge`],
    /// [`Error::Malformed`] (prefix, base64url, length), [`Error::UnsupportedVersion`],
    /// [`Error::UnknownKey`], [`Error::Invalid`] (decryption or signature),
    /// [`Error::Malformed`] (claims), [`Error::NotYetValid`], [`Error::Expired`],
    /// [`Error::Revoked`].
    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<Session<T>, Error> {
        self.verify_at(token, unix_now())
    }

    /// Verifies `token` as if the time were `now` (unix seconds).
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify).
    pub fn verify_at<T: DeserializeOwned>(
        &self,
        token: &str,
        now: u64,
    ) -> Result<Session<T>, Error> {
        let audience = self.policy.audience.as_bytes();
        // Steps 1-3: length, prefix, canonical base64url, version.
        let mut body = [0u8; MAX_BODY];
        let untrusted = UntrustedToken::parse(token, self.policy.max_token_length, &mut body)?;
        // Step 3: key id.
        let key = self
            .keys
            .lookup(untrusted.key_id)
            .ok_or(Error::UnknownKey)?;
        // Step 4: AEAD open. Without the decryption key, rejection ends here.
        let mut plaintext = PlaintextBuf::new();
        let claims = untrusted.decrypt(key, audience, &mut plaintext)?;
        // Step 5: the signature: holders of the decryption key cannot mint tokens.
        untrusted.verify_signature(key, audience)?;
        // Step 6: claims, consuming every byte.
        let session = decode_claims::<T>(claims)?.into_session(untrusted.key_id)?;
        // Step 7: time.
        check_times(&session, now, self.policy.leeway_secs())?;
        // Step 8: revocation.
        if self
            .revocations
            .is_revoked(session.id(), session.deadline())
        {
            return Err(Error::Revoked);
        }
        Ok(session)
    }

    /// Revokes this session and every renewal of it, until its deadline.
    pub fn revoke<T>(&self, s: &Session<T>) {
        self.revocations.revoke(s.id(), s.deadline());
    }

    /// Revokes a session by id; `deadline` is the session's deadline, after
    /// which the revocation may be forgotten.
    pub fn revoke_id(&self, id: SessionId, deadline: u64) {
        self.revocations.revoke(id, deadline);
    }

    /// Replaces this verifier's revocation filter with a shared one, so that
    /// several verifiers (or a revocation feed) see the same revocations.
    pub fn with_revocations(mut self, filter: Arc<RevocationFilter>) -> Verifier {
        self.revocations = filter;
        self
    }

    /// The revocation filter this verifier consults.
    pub fn revocations(&self) -> &Arc<RevocationFilter> {
        &self.revocations
    }
}

/// Postcard-decodes claims and refuses trailing bytes (postcard's `from_bytes`
/// would accept them).
fn decode_claims<T: DeserializeOwned>(plaintext: &[u8]) -> Result<DecodedClaims<T>, Error> {
    match postcard::take_from_bytes::<DecodedClaims<T>>(plaintext) {
        Ok((claims, [])) => Ok(claims),
        _ => Err(Error::Malformed),
    }
}
