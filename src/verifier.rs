//! The [`Verifier`]: checks tokens in the documented order (docs/FORMAT.md),
//! cheapest rejection first.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::cache::{VerifiedCache, SLOT_PLAINTEXT};
use crate::claims::{check_times, decode_session, Policy, Session, SessionId};
use crate::keys::{KeyId, VerifierKeyset};
use crate::os::unix_now;
use crate::revocation::RevocationFilter;
use crate::subjects::{SubjectRevocations, DEFAULT_SUBJECT_CAPACITY};
use crate::token::{
    check_length_and_prefix, message_room, PlaintextBuf, UntrustedToken, MAX_BODY, SMALL_BODY,
    SMALL_TOKEN,
};
use crate::Error;

/// Revocations a verifier's own filter is sized for, when none is shared in.
pub const DEFAULT_REVOCATION_CAPACITY: usize = 100_000;
/// False-positive rate of a verifier's own filter.
pub const DEFAULT_REVOCATION_FP_RATE: f64 = 0.001;
/// Entries in a verifier's verified-token cache unless
/// [`Verifier::with_cache_capacity`] says otherwise (240 bytes each: about 2 MB).
pub const DEFAULT_CACHE_CAPACITY: usize = 8_192;

/// Verifies tokens and remembers revocations. Holds no signing key, so it
/// cannot mint tokens. `Send + Sync`; share it behind an `Arc`.
///
/// # The verified-token cache
///
/// The Ed25519 check is nearly all of a verification's cost, and a client
/// sends the same token with every request until it is renewed. A verifier
/// therefore remembers the last [`DEFAULT_CACHE_CAPACITY`] tokens it fully
/// verified, keyed by their exact text (a SHA-512 digest of it), together
/// with their decrypted claims. When exactly the same text comes back, the
/// base64url decoding, decryption and signature check are skipped: they are
/// deterministic, and this verifier's keys and audience never change, so they
/// would succeed again with the same result. The length bound and prefix are
/// checked before the lookup, and the claims are decoded and their times and
/// revocation checked on every call, so a cached token expires and is revoked
/// exactly as an uncached one would be. Any other text, however close, misses
/// and is verified in full. Cached claims are secret: they are zeroized when
/// evicted and when the cache is dropped, and never printed by `Debug`.
/// Claims of more than 192 bytes (tokens of more than 407 characters)
/// are not cached.
///
/// The cache is sharded (one small lock per shard, no global lock), never
/// grows past its capacity, and is shared by clones of the verifier.
/// [`with_cache_capacity`](Self::with_cache_capacity) resizes it; a capacity
/// of 0 turns it off.
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
    /// Subjects whose older sessions are revoked ("log out everywhere").
    subjects: Arc<SubjectRevocations>,
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
            subjects: Arc::new(SubjectRevocations::new(DEFAULT_SUBJECT_CAPACITY)),
            cache: VerifiedCache::new(DEFAULT_CACHE_CAPACITY).map(Arc::new),
        }
    }

    /// Replaces the verified-token cache with an empty one of `capacity`
    /// entries; 0 turns caching off. Each entry is a 240-byte slot (a digest,
    /// a key id and up to 192 bytes of claims), all allocated now: the default
    /// 8,192 take about 2 MB. The new cache is shared with clones made from the
    /// returned verifier, not with clones made before.
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

    /// A verifier for `keys` with this one's policy and revocation filter and
    /// an empty cache of the same capacity: cached verdicts belong to the keys
    /// they were reached with.
    pub(crate) fn with_keys(&self, keys: VerifierKeyset) -> Verifier {
        Verifier {
            keys,
            cache: VerifiedCache::new(self.cache_capacity()).map(Arc::new),
            ..self.clone()
        }
    }

    /// The ids of the keys this verifier accepts, ascending: what a running
    /// server can report after a key change.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.keys.key_ids()
    }

    /// The keys this verifier accepts.
    #[cfg(any(test, feature = "json"))]
    pub(crate) fn keys(&self) -> &VerifierKeyset {
        &self.keys
    }

    /// How many tokens the cache holds now.
    #[cfg(test)]
    pub(crate) fn cached_tokens(&self) -> usize {
        self.cache.as_deref().map_or(0, VerifiedCache::len)
    }

    /// Verifies `token` now.
    ///
    /// # Errors
    ///
    /// The first failed check, in this order: [`Error::TooLarge`],
    /// [`Error::Malformed`] (prefix, base64url, length), [`Error::UnsupportedVersion`],
    /// [`Error::UnknownKey`], [`Error::Invalid`] (decryption or signature),
    /// [`Error::Malformed`] (the claims' session id, times or subject),
    /// [`Error::DataMismatch`] (a genuine token whose data is not a `T`),
    /// [`Error::NotYetValid`], [`Error::Expired`], [`Error::Revoked`] (the
    /// session, or its subject before the session was issued).
    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<Session<T>, Error> {
        // The clock is read only once the claims are known to be genuine:
        // garbage and forgeries are rejected without it.
        self.verify_with(token, unix_now)
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
        self.verify_with(token, || now)
    }

    /// [`verify_at`](Self::verify_at) with the time read from `now` only
    /// when step 7 needs it.
    fn verify_with<T: DeserializeOwned>(
        &self,
        token: &str,
        now: impl FnOnce() -> u64,
    ) -> Result<Session<T>, Error> {
        // Step 1, on every call: length bound and exact prefix.
        check_length_and_prefix(token, self.policy.max_token_length)?;
        // Exactly this text passed steps 2-5 here before: the crypto would
        // give the same plaintext again (see the type's docs).
        let cache = self.cache.as_deref().map(|c| (c, c.tag(token)));
        if let Some((cache, tag)) = cache {
            let mut plaintext = PlaintextBuf::<SLOT_PLAINTEXT>::new();
            if let Some(key_id) = cache.get(token, tag, &mut plaintext) {
                return self.check_claims(plaintext.as_slice(), key_id, now());
            }
        }
        // The stack buffers are zeroed on every call: size them from the token.
        if token.len() <= SMALL_TOKEN {
            self.verify_in::<T, SMALL_BODY, { message_room(SMALL_BODY) }>(token, now, cache)
        } else {
            self.verify_in::<T, MAX_BODY, { message_room(MAX_BODY) }>(token, now, cache)
        }
    }

    /// Every step of [`verify_at`](Self::verify_at), with `BODY` bytes of
    /// stack for the body and for the plaintext, and `MESSAGE` for the signed
    /// message; on success, remembers the token in `cache` (with its tag).
    fn verify_in<T: DeserializeOwned, const BODY: usize, const MESSAGE: usize>(
        &self,
        token: &str,
        now: impl FnOnce() -> u64,
        cache: Option<(&VerifiedCache, u64)>,
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
        // Step 5: the signature: holders of the decryption key cannot mint tokens.
        untrusted.verify_signature::<MESSAGE>(key, audience)?;
        let session = self.check_claims(claims, untrusted.key_id, now())?;
        // Only a token that passed every check is remembered.
        if let Some((cache, tag)) = cache {
            cache.insert(token, tag, untrusted.key_id, claims);
        }
        Ok(session)
    }

    /// Steps 6-8, run on every verification, cache hit or not: decode the
    /// claims (consuming every byte), check the times, then revocation.
    fn check_claims<T: DeserializeOwned>(
        &self,
        claims: &[u8],
        key_id: KeyId,
        now: u64,
    ) -> Result<Session<T>, Error> {
        let session = decode_session::<T>(claims, key_id)?;
        check_times(&session, now, self.policy.leeway_secs())?;
        if self
            .revocations
            .is_revoked(session.id(), session.deadline())
        {
            return Err(Error::Revoked);
        }
        // Step 8, continued: "log out everywhere" for the subject, judged by
        // when the *session* began. A renewal's issued-at is the renewal
        // time, but it keeps the deadline, which was set to start + maximum
        // lifetime when the session began: so a renewal made after the cutoff
        // (by a renewer that had not heard of it) cannot escape it.
        let began = session
            .issued_at()
            .min(session.deadline().saturating_sub(self.policy.max_lifetime));
        if self.subjects.is_revoked(session.subject(), began) {
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
    ///
    /// `deadline` must be the session's exact deadline (as
    /// [`Session::deadline`] gives it): lookups probe only the hour it falls
    /// in, so another hour's deadline revokes nothing. Knowing only the id,
    /// use [`revoke_id_any`](Self::revoke_id_any).
    pub fn revoke_id(&self, id: SessionId, deadline: u64) {
        self.revocations.revoke(id, deadline);
    }

    /// Revokes a session knowing only its id (from a log, say), whatever its
    /// deadline: see [`revoke_id_any_at`](Self::revoke_id_any_at), at the
    /// current time.
    ///
    /// # Errors
    ///
    /// As [`revoke_id_any_at`](Self::revoke_id_any_at).
    pub fn revoke_id_any(&self, id: SessionId) -> Result<u64, Error> {
        self.revoke_id_any_at(id, unix_now())
    }

    /// Revokes a session knowing only its id, as if the time were `now`: for
    /// every deadline a session this verifier could accept at or after `now`
    /// can have under its policy, from `now - leeway` (a deadline just passed,
    /// still within the leeway) to `now + leeway + max_lifetime` (a session
    /// issued now, by an issuer whose clock is ahead by the leeway). Returns
    /// how many deadline hours that is; each costs one insert into the
    /// filter ([`RevocationFilter::revoke_deadlines`]): 13 or 14 with the
    /// default 12-hour lifetime.
    ///
    /// The policy's maximum lifetime must be at least the issuers' (as
    /// [`Issuer::verifier`](crate::Issuer::verifier) gives it).
    ///
    /// # Errors
    ///
    /// [`Error::RevocationWindow`] if the maximum lifetime plus twice the
    /// leeway is longer than [`MAX_REVOKE_WINDOW`](crate::MAX_REVOKE_WINDOW);
    /// nothing is revoked then.
    ///
    /// ```
    /// use tessera::{Error, Issuer, Keyset, Policy};
    ///
    /// let issuer = Issuer::new(Keyset::generate(), Policy::default());
    /// let verifier = issuer.verifier();
    /// let token = issuer.issue_at("alice", &(), 1_750_000_000)?;
    /// let id = verifier.verify_at::<()>(&token, 1_750_000_000)?.id();
    /// // Ten minutes later, with the id from a log and no deadline:
    /// verifier.revoke_id_any_at(id, 1_750_000_600)?;
    /// assert_eq!(
    ///     verifier.verify_at::<()>(&token, 1_750_000_600).err(),
    ///     Some(Error::Revoked)
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    pub fn revoke_id_any_at(&self, id: SessionId, now: u64) -> Result<u64, Error> {
        let leeway = self.policy.leeway_secs();
        let earliest = now.saturating_sub(leeway);
        let latest = now
            .saturating_add(leeway)
            .saturating_add(self.policy.max_lifetime);
        self.revocations.revoke_deadlines(id, earliest..=latest)
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

    /// Logs `subject` out everywhere: every session of it issued strictly
    /// before `before` (unix seconds) is rejected, including renewals of
    /// those sessions made at any time, while sessions issued at or after
    /// `before` (a new sign-in after a password change) are accepted.
    ///
    /// A session's start is its first issue time: the earlier of a token's
    /// issued-at and its deadline minus this verifier's maximum lifetime
    /// (renewal keeps the deadline). Verifiers must therefore use the same
    /// maximum lifetime as the issuer, as they do when they share its
    /// [`Policy`]. The revocation is kept
    /// until every session it rejects has passed its deadline: `before` plus
    /// this verifier's maximum lifetime plus the largest leeway; call
    /// `subject_revocations().prune(now)` now and then to forget passed ones,
    /// as with the filter's `prune` (a fleet follower does both).
    ///
    /// ```
    /// use tessera::{Error, Issuer, Keyset, Policy};
    ///
    /// let issuer = Issuer::new(Keyset::generate(), Policy::default());
    /// let verifier = issuer.verifier();
    /// let old = issuer.issue_at("alice", &(), 1_700_000_000)?;
    /// verifier.revoke_subject("alice", 1_700_000_100)?;
    /// let new = issuer.issue_at("alice", &(), 1_700_000_100)?;
    /// assert_eq!(verifier.verify_at::<()>(&old, 1_700_000_100).err(), Some(Error::Revoked));
    /// assert!(verifier.verify_at::<()>(&new, 1_700_000_100).is_ok());
    /// # Ok::<(), tessera::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::SubjectTooLong`] or [`Error::SubjectTableFull`] (see
    /// [`SubjectRevocations::revoke`]); nothing is recorded then.
    pub fn revoke_subject(&self, subject: &str, before: u64) -> Result<(), Error> {
        self.subjects
            .revoke(subject, before, self.subject_forget_after(before))
    }

    /// When a subject revocation with cutoff `before` may be forgotten under
    /// this verifier's policy.
    pub fn subject_forget_after(&self, before: u64) -> u64 {
        SubjectRevocations::forget_after(before, Duration::from_secs(self.policy.max_lifetime))
    }

    /// Replaces this verifier's subject revocations with a shared table, so
    /// that several verifiers (or a revocation feed) see the same ones.
    pub fn with_subject_revocations(mut self, subjects: Arc<SubjectRevocations>) -> Verifier {
        self.subjects = subjects;
        self
    }

    /// The subject revocations this verifier consults.
    pub fn subject_revocations(&self) -> &Arc<SubjectRevocations> {
        &self.subjects
    }

    /// The policy this verifier checks tokens against.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Issuer, Keyset};

    const T0: u64 = 1_750_000_000;

    /// The claims plaintext of a genuine token, decrypted by hand.
    fn plaintext_of(verifier: &Verifier, token: &str) -> (KeyId, Vec<u8>) {
        let mut body = [0u8; MAX_BODY];
        let untrusted = UntrustedToken::parse(token, 8192, &mut body).unwrap();
        let key = verifier.keys.lookup(untrusted.key_id).unwrap();
        let mut plaintext = PlaintextBuf::<MAX_BODY>::new();
        let claims = untrusted.decrypt(key, b"", &mut plaintext).unwrap();
        (untrusted.key_id, claims.to_vec())
    }

    /// Shows that a hit skips the crypto (steps 2-5), and only that: a text
    /// that is not even base64url, put in the cache by hand with genuine
    /// claims, is accepted, yet step 1 still applies, and so do the time
    /// checks and revocation.
    #[test]
    fn a_hit_skips_the_crypto_and_nothing_else() {
        let issuer = Issuer::new(Keyset::generate(), Policy::default());
        let verifier = issuer.verifier();
        let token = issuer.issue_at("alice", &(), T0).unwrap();
        let (key_id, claims) = plaintext_of(&verifier, &token);
        let cache = verifier.cache.as_deref().unwrap();
        let put = |text: &str| cache.insert(text, cache.tag(text), key_id, &claims);

        let fake = "tsr1.!not base64!";
        assert_eq!(
            verifier.verify_at::<()>(fake, T0).err(),
            Some(Error::Malformed)
        );
        put(fake);
        let session = verifier.verify_at::<()>(fake, T0).unwrap();
        assert_eq!(session.subject(), "alice");
        assert_eq!(session.key_id(), key_id);
        assert_eq!(
            verifier.verify_at::<()>(fake, T0 + 86_400).err(),
            Some(Error::Expired)
        );
        // Step 1 runs before the lookup.
        let unprefixed = "tsr2.whatever";
        let long = format!("tsr1.{}", "A".repeat(5000));
        put(unprefixed);
        put(&long);
        assert_eq!(
            verifier.verify_at::<()>(unprefixed, T0).err(),
            Some(Error::Malformed)
        );
        assert_eq!(
            verifier.verify_at::<()>(&long, T0).err(),
            Some(Error::TooLarge)
        );
        verifier.revoke(&session);
        assert_eq!(
            verifier.verify_at::<()>(fake, T0).err(),
            Some(Error::Revoked)
        );
    }

    /// The hit path decodes the data as the cold path does: a text that
    /// only the cache knows (not even base64url) holding genuine claims of
    /// another type is a `DataMismatch`, and a wrong type is never cached.
    #[test]
    fn a_hit_tells_a_data_mismatch_from_malformed_claims_as_a_miss_does() {
        let issuer = Issuer::new(Keyset::generate(), Policy::default());
        let verifier = issuer.verifier();
        let cache = verifier.cache.as_deref().unwrap();
        let token = issuer.issue_at("alice", &(1u32, "x"), T0).unwrap();
        assert_eq!(
            verifier.verify_at::<bool>(&token, T0).err(),
            Some(Error::DataMismatch)
        );
        assert_eq!(cache.len(), 0, "a mismatch is not cached");
        let (key_id, claims) = plaintext_of(&verifier, &token);
        let fake = "tsr1.!only in the cache!";
        cache.insert(fake, cache.tag(fake), key_id, &claims);
        assert_eq!(
            verifier.verify_at::<bool>(fake, T0).err(),
            Some(Error::DataMismatch)
        );
        assert_eq!(
            verifier
                .verify_at::<(u32, String)>(fake, T0)
                .unwrap()
                .into_data(),
            (1, "x".to_string())
        );
        // Claims cut inside the subject: the framing's fault, whatever the type.
        let cut = "tsr1.!cut claims!";
        let framing = claims.len() - 3; // data: 01, then "x" as 01 'x'
        cache.insert(cut, cache.tag(cut), key_id, &claims[..framing - 1]);
        assert_eq!(
            verifier.verify_at::<()>(cut, T0).err(),
            Some(Error::Malformed)
        );
        assert_eq!(
            verifier.verify_at::<(u32, String)>(cut, T0).err(),
            Some(Error::Malformed)
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
