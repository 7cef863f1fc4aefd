//! The [`Verifier`]: checks tokens in the DESIGN.md order, cheapest rejection first.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::cache::VerifiedCache;
use crate::claims::{check_times, unix_now, DecodedClaims, Policy, Session, SessionId};
use crate::keys::VerifierKeyset;
use crate::revocation::RevocationFilter;
use crate::token::{message_room, PlaintextBuf, UntrustedToken, MAX_BODY, SMALL_BODY, SMALL_TOKEN};
use crate::Error;

/// Revocations a verifier's own filter is sized for, when none is shared in.
pub const DEFAULT_REVOCATION_CAPACITY: usize = 100_000;
/// False-positive rate of a verifier's own filter.
pub const DEFAULT_REVOCATION_FP_RATE: f64 = 0.001;
/// Entries in a verifier's verified-token cache unless
/// [`Verifier::with_cache_capacity`] says otherwise (97 bytes each: about 1 MB).
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// Verifies tokens and remembers revocations. Holds no signing key, so it
/// cannot mint tokens. `Send + Sync`; share it behind an `Arc`.
///
/// # The verified-token cache
///
/// The Ed25519 check is nearly all of a verification's cost, and a client
/// sends the same token with every request until it is renewed. A verifier
/// therefore remembers the last [`DEFAULT_CACHE_CAPACITY`] tokens it fully
/// verified (each as its signature and a SHA-512 digest of the bytes before it:
/// nothing secret) and skips only the signature check when exactly the same
/// token comes back.
/// The token is still decrypted, its claims decoded, and its times and
/// revocation checked on every call, so a cached token expires and is revoked
/// exactly as an uncached one would be. The cache is sharded (one small lock per
/// shard, no global lock), never grows past its capacity, and is shared by
/// clones of the verifier. [`with_cache_capacity`](Self::with_cache_capacity)
/// resizes it; a capacity of 0 turns it off.
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
    /// Fully verified tokens; `None` when turned off. Bound to this
    /// verifier's keys and audience, which never change after `new`.
    cache: Option<Arc<VerifiedCache>>,
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
            cache: VerifiedCache::new(DEFAULT_CACHE_CAPACITY).map(Arc::new),
        }
    }

    /// Replaces the verified-token cache with an empty one of `capacity`
    /// entries (97 bytes each, allocated now); 0 turns caching off. The new cache
    /// is shared with clones made from the returned verifier, not with clones
    /// made before.
    ///
    /// ```
    /// use tessera::{Issuer, Keyset, Policy};
    ///
    /// let issuer = Issuer::new(Keyset::generate(), Policy::default());
    /// let verifier = issuer.verifier().with_cache_capacity(100_000);
    /// assert_eq!(verifier.cache_capacity(), 100_000);
    /// let uncached = issuer.verifier().with_cache_capacity(0);
    /// assert_eq!(uncached.cache_capacity(), 0);
    /// ```
    pub fn with_cache_capacity(mut self, capacity: usize) -> Verifier {
        self.cache = VerifiedCache::new(capacity).map(Arc::new);
        self
    }

    /// The most tokens the verified-token cache remembers (0: caching is off).
    pub fn cache_capacity(&self) -> usize {
        self.cache.as_deref().map_or(0, VerifiedCache::capacity)
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
        // The stack buffers are zeroed on every call: size them from the token.
        if token.len() <= SMALL_TOKEN {
            self.verify_in::<T, SMALL_BODY, { message_room(SMALL_BODY) }>(token, now)
        } else {
            self.verify_in::<T, MAX_BODY, { message_room(MAX_BODY) }>(token, now)
        }
    }

    /// [`verify_at`](Self::verify_at) with `BODY` bytes of stack for the body
    /// and for the plaintext, and `MESSAGE` for the signed message.
    fn verify_in<T: DeserializeOwned, const BODY: usize, const MESSAGE: usize>(
        &self,
        token: &str,
        now: u64,
    ) -> Result<Session<T>, Error> {
        let audience = self.policy.audience.as_bytes();
        // Steps 1-3: length, prefix, canonical base64url, version.
        let mut body = [0u8; BODY];
        let untrusted = UntrustedToken::parse(token, self.policy.max_token_length, &mut body)?;
        // Step 3: key id.
        let key = self
            .keys
            .lookup(untrusted.key_id)
            .ok_or(Error::UnknownKey)?;
        // Step 4: AEAD open. Without the decryption key, rejection ends here.
        let mut plaintext = PlaintextBuf::<BODY>::new();
        let claims = untrusted.decrypt(key, audience, &mut plaintext)?;
        // Step 5: the signature: holders of the decryption key cannot mint
        // tokens. Skipped only for exactly the bytes of a token this verifier
        // fully verified before (see the type's docs).
        let cache = self.cache.as_deref();
        let hit = cache.is_some_and(|c| c.contains(untrusted.content, untrusted.signature));
        if !hit {
            untrusted.verify_signature::<MESSAGE>(key, audience)?;
        }
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
        if let (false, Some(cache)) = (hit, cache) {
            cache.insert(untrusted.content, untrusted.signature);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Issuer, Keyset};
    use base64ct::{Base64UrlUnpadded, Encoding};

    const T0: u64 = 1_750_000_000;

    /// Shows that a hit skips the signature check, and only that: a token with
    /// a broken signature, put in the cache by hand, is accepted, and is still
    /// rejected for time and revocation.
    #[test]
    fn a_hit_skips_the_signature_check_and_nothing_else() {
        let issuer = Issuer::new(Keyset::generate(), Policy::default());
        let verifier = issuer.verifier();
        let token = issuer.issue_at("alice", &(), T0).unwrap();
        let mut body = Base64UrlUnpadded::decode_vec(&token[5..]).unwrap();
        let last = body.len() - 1;
        body[last] ^= 0x01; // the signature's last byte
        let broken = format!("tsr1.{}", Base64UrlUnpadded::encode_string(&body));
        assert_eq!(
            verifier.verify_at::<()>(&broken, T0).err(),
            Some(Error::Invalid)
        );

        let cache = verifier.cache.as_deref().unwrap();
        let (content, signature) = body.split_at(body.len() - 64);
        cache.insert(content, signature.try_into().unwrap());
        let session = verifier.verify_at::<()>(&broken, T0).unwrap();
        assert_eq!(session.subject(), "alice");
        assert_eq!(
            verifier.verify_at::<()>(&broken, T0 + 86_400).err(),
            Some(Error::Expired)
        );
        verifier.revoke(&session);
        assert_eq!(
            verifier.verify_at::<()>(&broken, T0).err(),
            Some(Error::Revoked)
        );
    }

    #[test]
    fn only_fully_verified_tokens_are_cached() {
        let issuer = Issuer::new(Keyset::generate(), Policy::default());
        let verifier = issuer.verifier();
        let cache = verifier.cache.as_deref().unwrap();
        let token = issuer.issue_at("alice", &(), T0).unwrap();
        // Expired: the signature verified, but the token was not accepted.
        assert!(verifier.verify_at::<()>(&token, T0 + 86_400).is_err());
        assert_eq!(cache.len(), 0);
        verifier.verify_at::<()>(&token, T0).unwrap();
        assert_eq!(cache.len(), 1);
        verifier.verify_at::<()>(&token, T0).unwrap();
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn clones_share_the_cache_and_resizing_replaces_it() {
        let issuer = Issuer::new(Keyset::generate(), Policy::default());
        let verifier = issuer.verifier();
        let clone = verifier.clone();
        verifier
            .verify_at::<()>(&issuer.issue_at("a", &(), T0).unwrap(), T0)
            .unwrap();
        assert_eq!(clone.cache.as_deref().unwrap().len(), 1);
        let resized = clone.with_cache_capacity(5);
        assert_eq!(resized.cache_capacity(), 5);
        assert_eq!(resized.cache.as_deref().unwrap().len(), 0);
        assert_eq!(resized.with_cache_capacity(0).cache_capacity(), 0);
    }
}
