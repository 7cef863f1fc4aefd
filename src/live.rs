//! What a running server holds: a [`LiveVerifier`] (API servers) or a
//! [`LiveIssuer`] (the auth service), whose keys can be swapped while requests
//! are being served.
//!
//! A [`Verifier`] or an [`Issuer`] never changes after it is built, which is
//! what makes its verified-token cache sound. A live handle holds the current
//! one behind an atomic pointer: a request takes the pointer (no lock, no
//! wait), and a key change builds a new one and swaps it in. Requests that
//! already hold the old one finish with it.

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::de::DeserializeOwned;

use crate::claims::Session;
use crate::keys::{Keyset, VerifierKeyset};
use crate::revocation::RevocationFilter;
use crate::{Error, Issuer, Verifier};

/// The verifier an API server holds for months: its keys can be replaced
/// while it serves, its revocation filter stays.
///
/// `Clone + Send + Sync`; clones share the same state, so hand one to every
/// request handler. [`current`](Self::current) is a lock-free pointer load;
/// [`set_keys`](Self::set_keys) (or [`reload_keys`](Self::reload_keys) with
/// the `json` feature) builds a new [`Verifier`] with the same policy, the
/// **same** revocation filter and an empty verified-token cache of the same
/// capacity, and swaps it in. Requests in flight finish on the verifier they
/// started with; the next ones see the new keys.
///
/// ```
/// use tessera::{Error, Issuer, Keyset, LiveVerifier, Policy};
///
/// let mut keys = Keyset::generate();
/// let first = keys.primary();
/// let issuer = Issuer::new(keys.clone(), Policy::default());
/// let live = LiveVerifier::new(issuer.verifier());
/// let old_token = issuer.issue("alice", &())?;
///
/// // Rotation: verifiers learn the new key first, then the issuer signs with it.
/// let next = keys.add();
/// live.set_keys(keys.verifier_keyset());
/// keys.promote(next)?;
/// let issuer = Issuer::new(keys.clone(), Policy::default());
/// let new_token = issuer.issue("bob", &())?;
/// assert!(live.verify::<()>(&old_token).is_ok());
/// assert!(live.verify::<()>(&new_token).is_ok());
///
/// // Once the old key's tokens are past their deadline, retire it.
/// keys.retire(first)?;
/// live.set_keys(keys.verifier_keyset());
/// assert_eq!(live.verify::<()>(&old_token).err(), Some(Error::UnknownKey));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct LiveVerifier {
    shared: Arc<LiveVerifierState>,
}

struct LiveVerifierState {
    current: ArcSwap<Verifier>,
    /// The filter every verifier swapped in consults: kept here so that
    /// [`LiveVerifier::revocations`] can lend it for as long as `self` lives.
    revocations: Arc<RevocationFilter>,
}

impl LiveVerifier {
    /// Starts from `verifier`: its policy, cache capacity and revocation filter
    /// are kept across every later key change.
    pub fn new(verifier: Verifier) -> LiveVerifier {
        let revocations = Arc::clone(verifier.revocations());
        LiveVerifier {
            shared: Arc::new(LiveVerifierState {
                current: ArcSwap::from_pointee(verifier),
                revocations,
            }),
        }
    }

    /// The verifier in use now. Lock-free; hold the `Arc` for one request, not
    /// for the life of the server, or that request keeps the old keys.
    pub fn current(&self) -> Arc<Verifier> {
        self.shared.current.load_full()
    }

    /// Verifies `token` now with the current verifier (see [`Verifier::verify`]).
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify`].
    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<Session<T>, Error> {
        self.shared.current.load().verify(token)
    }

    /// Verifies `token` as if the time were `now` (see [`Verifier::verify_at`]).
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify`].
    pub fn verify_at<T: DeserializeOwned>(
        &self,
        token: &str,
        now: u64,
    ) -> Result<Session<T>, Error> {
        self.shared.current.load().verify_at(token, now)
    }

    /// Revokes this session and every renewal of it, in the shared filter.
    pub fn revoke<T>(&self, session: &Session<T>) {
        self.shared
            .revocations
            .revoke(session.id(), session.deadline());
    }

    /// Replaces the keys: a new [`Verifier`] with the same policy, the same
    /// revocation filter and an empty cache (cached verdicts belong to the old
    /// keys) takes over for every request that starts after this returns.
    /// Tokens under a key missing from `keys` are rejected from then on with
    /// [`Error::UnknownKey`]. Concurrent calls do not merge: the last one
    /// wins, so give a handle one source of keys (a file it reloads, or a
    /// fleet follower), not two.
    pub fn set_keys(&self, keys: VerifierKeyset) {
        let next = self.shared.current.load().with_keys(keys);
        self.shared.current.store(Arc::new(next));
    }

    /// Logs `subject` out everywhere (see [`Verifier::revoke_subject`]): its
    /// sessions issued strictly before `before` are rejected. The subject
    /// revocations, like the filter, are kept across key changes.
    ///
    /// # Errors
    ///
    /// As [`Verifier::revoke_subject`].
    pub fn revoke_subject(&self, subject: &str, before: u64) -> Result<(), Error> {
        self.shared.current.load().revoke_subject(subject, before)
    }

    /// The revocation filter shared by every verifier this handle swaps in:
    /// revoke here, or merge snapshots from elsewhere into it.
    pub fn revocations(&self) -> &Arc<RevocationFilter> {
        &self.shared.revocations
    }

    /// Re-reads a verifier keyset file (see [`VerifierKeyset::load`]) and, if
    /// its keys differ from the current ones, swaps them in as
    /// [`set_keys`](Self::set_keys) does. Returns whether it swapped. Requires
    /// the `json` feature.
    ///
    /// Call it when the file may have changed (on a timer, on SIGHUP, after a
    /// deploy). It blocks on file I/O: from async code, run it on a blocking
    /// thread (`tokio::task::spawn_blocking`).
    ///
    /// # Errors
    ///
    /// Whatever [`VerifierKeyset::load`] returns for the file (I/O, format,
    /// permissions, an issuer keyset). The current keys stay in use: a missing,
    /// half-written or corrupt file never takes keys away from a running
    /// server.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn reload_keys(&self, path: impl AsRef<std::path::Path>) -> Result<bool, Error> {
        let keys = VerifierKeyset::load(path)?;
        if keys.to_json() == self.shared.current.load().keys().to_json() {
            return Ok(false);
        }
        self.set_keys(keys);
        Ok(true)
    }
}

impl std::fmt::Debug for LiveVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveVerifier")
            .field("current", &self.shared.current.load())
            .finish()
    }
}

/// The issuer an auth service holds for months: a promoted key reaches it
/// without a restart.
///
/// `Clone + Send + Sync`; clones share the same state. [`current`](Self::current)
/// is a lock-free pointer load; [`set_keys`](Self::set_keys) (or
/// [`reload_keys`](Self::reload_keys) with the `json` feature) swaps in a new
/// [`Issuer`] with the same policy. Every [`Keyset`] has exactly one primary
/// key, so a swap can never leave the service unable to sign.
///
/// ```
/// use tessera::{Issuer, Keyset, LiveIssuer, Policy};
///
/// let mut keys = Keyset::generate();
/// let live = LiveIssuer::new(Issuer::new(keys.clone(), Policy::default()));
///
/// // The new key was shipped to verifiers earlier; now the issuer signs with it.
/// let next = keys.add();
/// keys.promote(next)?;
/// live.set_keys(keys.clone());
///
/// let token = live.current().issue("alice", &())?;
/// assert_eq!(live.current().verifier().verify::<()>(&token)?.key_id(), next);
/// # Ok::<(), tessera::Error>(())
/// ```
#[derive(Clone)]
pub struct LiveIssuer {
    current: Arc<ArcSwap<Issuer>>,
}

impl LiveIssuer {
    /// Starts from `issuer`; its policy is kept across every key change.
    pub fn new(issuer: Issuer) -> LiveIssuer {
        LiveIssuer {
            current: Arc::new(ArcSwap::from_pointee(issuer)),
        }
    }

    /// The issuer in use now. Lock-free.
    pub fn current(&self) -> Arc<Issuer> {
        self.current.load_full()
    }

    /// Replaces the keys: tokens issued after this returns are signed with
    /// `keys`' primary key. Make sure every verifier already has that key
    /// (ship the verifier keyset before promoting). As with
    /// [`LiveVerifier::set_keys`], the last of concurrent calls wins.
    pub fn set_keys(&self, keys: Keyset) {
        let next = self.current.load().with_keys(keys);
        self.current.store(Arc::new(next));
    }

    /// Re-reads an issuer keyset file (see [`Keyset::load`]) and, if its keys
    /// differ from the current ones, swaps them in. Returns whether it
    /// swapped. Requires the `json` feature. It blocks on file I/O: from async
    /// code, run it on a blocking thread.
    ///
    /// # Errors
    ///
    /// Whatever [`Keyset::load`] returns for the file. The current keys stay
    /// in use: a bad file never leaves the service without a signing key.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn reload_keys(&self, path: impl AsRef<std::path::Path>) -> Result<bool, Error> {
        let keys = Keyset::load(path)?;
        if keys.to_json() == self.current.load().keys().to_json() {
            return Ok(false);
        }
        self.set_keys(keys);
        Ok(true)
    }
}

impl std::fmt::Debug for LiveIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveIssuer")
            .field("current", &self.current.load())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    const T0: u64 = 1_750_000_000;

    #[test]
    fn set_keys_keeps_policy_filter_and_cache_capacity_but_empties_the_cache() {
        let keys = Keyset::generate();
        let policy = Policy::default().audience("orders");
        let issuer = Issuer::new(keys.clone(), policy.clone());
        let live = LiveVerifier::new(issuer.verifier().with_cache_capacity(7));
        let filter = Arc::clone(live.revocations());
        let token = issuer.issue_at("alice", &(), T0).unwrap();
        live.verify_at::<()>(&token, T0).unwrap();
        assert_eq!(live.current().cached_tokens(), 1);

        live.set_keys(keys.verifier_keyset());
        let now = live.current();
        assert!(Arc::ptr_eq(now.revocations(), &filter));
        assert!(Arc::ptr_eq(live.revocations(), &filter));
        assert_eq!(now.cache_capacity(), 7);
        assert_eq!(now.cached_tokens(), 0);
        // Same audience: the token still verifies, a token for no audience does not.
        assert!(live.verify_at::<()>(&token, T0).is_ok());
        let other = Issuer::new(keys, Policy::default());
        assert_eq!(
            live.verify_at::<()>(&other.issue_at("bob", &(), T0).unwrap(), T0)
                .err(),
            Some(Error::Invalid)
        );
    }

    #[test]
    fn clones_share_the_swap() {
        let mut keys = Keyset::generate();
        let live = LiveVerifier::new(Issuer::new(keys.clone(), Policy::default()).verifier());
        let clone = live.clone();
        let next = keys.rotate();
        live.set_keys(keys.verifier_keyset());
        assert!(clone.current().keys().key_ids().contains(&next));

        let issuer = LiveIssuer::new(Issuer::new(Keyset::generate(), Policy::default()));
        let issuer_clone = issuer.clone();
        issuer.set_keys(keys.clone());
        assert_eq!(issuer_clone.current().keys().primary(), next);
    }

    #[test]
    fn revoke_goes_to_the_shared_filter() {
        let issuer = Issuer::new(Keyset::generate(), Policy::default());
        let live = LiveVerifier::new(issuer.verifier());
        let token = issuer.issue_at("alice", &(), T0).unwrap();
        let session = live.verify_at::<()>(&token, T0).unwrap();
        live.revoke(&session);
        assert!(live
            .revocations()
            .is_revoked(session.id(), session.deadline()));
        assert_eq!(
            live.current().verify_at::<()>(&token, T0).err(),
            Some(Error::Revoked)
        );
    }

    #[test]
    fn debug_names_key_ids_only() {
        let keys = Keyset::generate();
        let live = LiveVerifier::new(Issuer::new(keys.clone(), Policy::default()).verifier());
        let issuer = LiveIssuer::new(Issuer::new(keys.clone(), Policy::default()));
        let id = keys.primary().to_string();
        for text in [format!("{live:?}"), format!("{issuer:?}")] {
            assert!(text.contains(&id), "{text}");
            assert!(!text.contains("signing_key"), "{text}");
        }
    }
}
