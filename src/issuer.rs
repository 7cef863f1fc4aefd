//! The [`Issuer`]: mints and renews tokens with the primary key.

use serde::Serialize;

use crate::claims::{Policy, Session, SessionId, WireClaims};
use crate::keys::Keyset;
use crate::os::{os_random, unix_now};
use crate::token::{self, NONCE_LEN};
use crate::{Error, Verifier};

/// Issues and renews session tokens. Holds the signing keys: keep it on the
/// auth service only. `Send + Sync`; share it behind an `Arc`.
///
/// ```
/// use tessera::{Issuer, Keyset, Policy};
///
/// let issuer = Issuer::new(Keyset::generate(), Policy::default());
/// let token = issuer.issue("alice@example.com", &vec!["admin".to_string()])?;
/// let session = issuer.verifier().verify::<Vec<String>>(&token)?;
/// assert_eq!(session.subject(), "alice@example.com");
/// # Ok::<(), tessera::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Issuer {
    keys: Keyset,
    policy: Policy,
}

impl Issuer {
    /// An issuer that signs with `keys`' primary key under `policy`.
    pub fn new(keys: Keyset, policy: Policy) -> Issuer {
        Issuer { keys, policy }
    }

    /// Issues a new session for `subject` carrying `data`, starting now.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] if the token would be longer than the policy allows,
    /// [`Error::Data`] if `data` cannot be serialized, [`Error::Rng`] if the OS
    /// random number generator fails.
    pub fn issue<T: Serialize>(&self, subject: &str, data: &T) -> Result<String, Error> {
        self.issue_at(subject, data, unix_now())
    }

    /// Issues a new session as if the time were `now` (unix seconds): issued-at
    /// `now`, deadline `now + max_lifetime`, expiry `min(now + idle, deadline)`.
    ///
    /// # Errors
    ///
    /// As [`issue`](Self::issue).
    pub fn issue_at<T: Serialize>(
        &self,
        subject: &str,
        data: &T,
        now: u64,
    ) -> Result<String, Error> {
        // One draw from the OS for both the session id and the nonce: each
        // draw is a system call.
        let mut random = [0u8; 16 + NONCE_LEN];
        os_random(&mut random)?;
        let (id, nonce) = random.split_at(16);
        let id: [u8; 16] = id.try_into().map_err(|_| Error::Rng)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::Rng)?;
        let deadline = now.saturating_add(self.policy.max_lifetime);
        self.seal_with_nonce(SessionId(id), subject, data, now, deadline, &nonce)
    }

    /// Renews a verified session: same id, subject, data and deadline; issued
    /// now; expiry `min(now + idle, deadline)`.
    ///
    /// # Errors
    ///
    /// [`Error::Expired`] at or past the session's deadline or once its expiry
    /// (plus leeway) has passed; otherwise as [`issue`](Self::issue).
    pub fn renew<T: Serialize>(&self, s: &Session<T>) -> Result<String, Error> {
        self.renew_at(s, unix_now())
    }

    /// Renews a verified session as if the time were `now`.
    ///
    /// # Errors
    ///
    /// As [`renew`](Self::renew).
    pub fn renew_at<T: Serialize>(&self, s: &Session<T>, now: u64) -> Result<String, Error> {
        let lapsed = now >= s.expires_at().saturating_add(self.policy.leeway_secs());
        if now >= s.deadline() || lapsed {
            return Err(Error::Expired);
        }
        let mut nonce = [0u8; NONCE_LEN];
        os_random(&mut nonce)?;
        self.seal_with_nonce(s.id(), s.subject(), s.data(), now, s.deadline(), &nonce)
    }

    /// A verifier with the verifying half of these keys and the same policy,
    /// and a fresh revocation filter of its own.
    pub fn verifier(&self) -> Verifier {
        Verifier::new(self.keys.verifier_keyset(), self.policy.clone())
    }

    /// An issuer for `keys` with this one's policy.
    pub(crate) fn with_keys(&self, keys: Keyset) -> Issuer {
        Issuer {
            keys,
            policy: self.policy.clone(),
        }
    }

    /// The keys this issuer signs and verifies with.
    #[cfg(any(test, feature = "json"))]
    pub(crate) fn keys(&self) -> &Keyset {
        &self.keys
    }

    /// The policy this issuer applies.
    #[cfg(any(feature = "test-util", feature = "axum"))]
    pub(crate) fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The one sealing path; the nonce is a parameter only so that the
    /// `test-util` feature can produce known-answer vectors.
    pub(crate) fn seal_with_nonce<T: Serialize + ?Sized>(
        &self,
        id: SessionId,
        subject: &str,
        data: &T,
        now: u64,
        deadline: u64,
        nonce: &[u8; NONCE_LEN],
    ) -> Result<String, Error> {
        let key = self.keys.primary_key().ok_or(Error::UnknownKey)?;
        let expires = now.saturating_add(self.policy.idle).min(deadline);
        let claims = WireClaims {
            session_id: id.0,
            issued_at: now,
            expires_after: expires - now.min(expires),
            deadline_after: deadline - now.min(deadline),
            subject,
            data,
        };
        token::seal(
            key,
            self.policy.audience.as_bytes(),
            nonce,
            self.policy.max_token_length,
            |out| match postcard::to_slice(&claims, out) {
                Ok(used) => Ok(used.len()),
                Err(postcard::Error::SerializeBufferFull) => Err(Error::TooLarge),
                Err(_) => Err(Error::Data),
            },
        )
    }
}
