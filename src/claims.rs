//! Claims (what a token says), the [`Policy`] that governs lifetimes, and the
//! time checks.
//!
//! Times are unix seconds (`u64`). On the wire the expiry and the deadline are
//! stored as offsets from the issue time, so that postcard's varints keep them
//! to two or three bytes.

use core::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::keys::KeyId;
use crate::Error;

/// The longest leeway a [`Policy`] accepts; larger values are clamped to it.
/// The revocation filter keeps revocations this long past their deadline.
pub const MAX_LEEWAY: Duration = Duration::from_secs(3600);

/// The default maximum token length in characters: what fits in a cookie.
pub const DEFAULT_MAX_TOKEN_LENGTH: usize = 4096;

/// The largest maximum token length a [`Policy`] accepts (twice a cookie);
/// verification decodes into fixed stack buffers of this size.
pub const MAX_TOKEN_LENGTH_LIMIT: usize = 8192;

/// A session's identifier: 16 random bytes, stable across renewals. It is the
/// revocation key, and it is secret (it travels only inside the ciphertext).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub [u8; 16]);

impl SessionId {
    /// The id as 32 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(32);
        for byte in self.0 {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        out
    }

    /// Parses 32 hex digits (either case).
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] for anything but exactly 32 hex digits.
    pub fn from_hex(text: &str) -> Result<SessionId, Error> {
        let digits = text.as_bytes();
        if digits.len() != 32 {
            return Err(Error::Malformed);
        }
        let mut id = [0u8; 16];
        for (byte, pair) in id.iter_mut().zip(digits.chunks_exact(2)) {
            let hi = hex_value(pair[0]).ok_or(Error::Malformed)?;
            let lo = hex_value(pair[1]).ok_or(Error::Malformed)?;
            *byte = (hi << 4) | lo;
        }
        Ok(SessionId(id))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.to_hex())
    }
}

/// Lifetimes, leeway, audience and size limit shared by an [`Issuer`](crate::Issuer)
/// and its [`Verifier`](crate::Verifier)s.
///
/// Defaults: idle timeout 30 minutes, maximum lifetime 12 hours, leeway 60
/// seconds, no audience, tokens of at most 4096 characters. Durations are
/// counted in whole seconds (sub-second parts are dropped) and lifetimes are at
/// least one second.
///
/// ```
/// use std::time::Duration;
/// use tessera::Policy;
///
/// let policy = Policy::default()
///     .idle_timeout(Duration::from_secs(15 * 60))
///     .max_lifetime(Duration::from_secs(8 * 3600))
///     .audience("billing-api");
/// # let _ = policy;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub(crate) idle: u64,
    pub(crate) max_lifetime: u64,
    pub(crate) leeway: u64,
    pub(crate) audience: Arc<str>,
    pub(crate) max_token_length: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            idle: 30 * 60,
            max_lifetime: 12 * 3600,
            leeway: 60,
            audience: Arc::from(""),
            max_token_length: DEFAULT_MAX_TOKEN_LENGTH,
        }
    }
}

impl Policy {
    /// How long a session lives without renewal (the sliding expiry).
    pub fn idle_timeout(mut self, d: Duration) -> Policy {
        self.idle = d.as_secs().max(1);
        self
    }

    /// The absolute deadline after issue; renewals never extend it.
    pub fn max_lifetime(mut self, d: Duration) -> Policy {
        self.max_lifetime = d.as_secs().max(1);
        self
    }

    /// Clock skew tolerated between issuer and verifiers, clamped to [`MAX_LEEWAY`].
    pub fn leeway(mut self, d: Duration) -> Policy {
        self.leeway = d.min(MAX_LEEWAY).as_secs();
        self
    }

    /// Binds tokens to an application context (a service name, say). It is
    /// authenticated but never transmitted: a token issued for one audience does
    /// not verify under another. `audience("")` is the same as no audience.
    pub fn audience(mut self, aud: &str) -> Policy {
        self.audience = Arc::from(aud);
        self
    }

    /// The longest token, in characters, that is issued or accepted; clamped to
    /// [`MAX_TOKEN_LENGTH_LIMIT`]. Checked before any decoding.
    pub fn max_token_length(mut self, chars: usize) -> Policy {
        self.max_token_length = chars.min(MAX_TOKEN_LENGTH_LIMIT);
        self
    }

    /// The leeway in seconds.
    pub(crate) fn leeway_secs(&self) -> u64 {
        self.leeway
    }
}

/// A verified session: what a token said, after every check passed.
///
/// Only [`Verifier::verify`](crate::Verifier::verify) makes one from a token,
/// so holding a `Session` means its token was authentic and current. `Debug`
/// shows the id, subject, times and key id, never the application data.
#[derive(Clone)]
pub struct Session<T> {
    pub(crate) id: SessionId,
    pub(crate) subject: String,
    pub(crate) data: T,
    pub(crate) issued_at: u64,
    pub(crate) expires_at: u64,
    pub(crate) deadline: u64,
    pub(crate) key_id: KeyId,
}

impl<T> Session<T> {
    /// The session id: stable across renewals, the revocation key.
    pub fn id(&self) -> SessionId {
        self.id
    }
    /// Who the session belongs to.
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// The application's own data.
    pub fn data(&self) -> &T {
        &self.data
    }
    /// When this token was issued (or renewed), unix seconds.
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }
    /// When this token expires unless renewed, unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
    /// The absolute deadline of the session, unix seconds: no renewal passes it.
    pub fn deadline(&self) -> u64 {
        self.deadline
    }
    /// The key the token was signed with.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }
    /// Whether the token has used more than half of its idle window and a
    /// renewal would push its expiry later (false once the expiry is the
    /// deadline). Servers renew only then, not on every request.
    pub fn needs_renewal_at(&self, now: u64) -> bool {
        let window = self.expires_at.saturating_sub(self.issued_at);
        let used = now.saturating_sub(self.issued_at);
        self.expires_at < self.deadline && now < self.deadline && used > window / 2
    }
}

impl<T> fmt::Debug for Session<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("subject", &self.subject)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("deadline", &self.deadline)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The claims as they are serialized (postcard) before encryption. Field
/// order is the wire order; see docs/FORMAT.md.
#[derive(Serialize)]
pub(crate) struct WireClaims<'a, T: ?Sized> {
    pub(crate) session_id: [u8; 16],
    pub(crate) issued_at: u64,
    pub(crate) expires_after: u64,
    pub(crate) deadline_after: u64,
    pub(crate) subject: &'a str,
    pub(crate) data: &'a T,
}

/// The owned mirror of [`WireClaims`], for decoding.
#[derive(Deserialize)]
pub(crate) struct DecodedClaims<T> {
    pub(crate) session_id: [u8; 16],
    pub(crate) issued_at: u64,
    pub(crate) expires_after: u64,
    pub(crate) deadline_after: u64,
    pub(crate) subject: String,
    pub(crate) data: T,
}

impl<T> DecodedClaims<T> {
    /// Turns the wire offsets back into absolute times; offsets that overflow or
    /// an expiry past the deadline are malformed.
    pub(crate) fn into_session(self, key_id: KeyId) -> Result<Session<T>, Error> {
        let expires_at = self.issued_at.checked_add(self.expires_after);
        let deadline = self.issued_at.checked_add(self.deadline_after);
        match (expires_at, deadline) {
            (Some(expires_at), Some(deadline)) if expires_at <= deadline => Ok(Session {
                id: SessionId(self.session_id),
                subject: self.subject,
                data: self.data,
                issued_at: self.issued_at,
                expires_at,
                deadline,
                key_id,
            }),
            _ => Err(Error::Malformed),
        }
    }
}

/// The time checks of step 7: not issued in the future, expiry and deadline
/// not passed. A token is valid while `now < expiry + leeway`.
pub(crate) fn check_times<T>(s: &Session<T>, now: u64, leeway: u64) -> Result<(), Error> {
    if s.issued_at > now.saturating_add(leeway) {
        return Err(Error::NotYetValid);
    }
    if now >= s.expires_at.saturating_add(leeway) || now >= s.deadline.saturating_add(leeway) {
        return Err(Error::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(issued_at: u64, expires_at: u64, deadline: u64) -> Session<()> {
        Session {
            id: SessionId([1; 16]),
            subject: "alice".into(),
            data: (),
            issued_at,
            expires_at,
            deadline,
            key_id: KeyId(1),
        }
    }

    #[test]
    fn time_checks_apply_leeway_at_each_edge() {
        let s = session(1000, 2000, 5000);
        assert_eq!(check_times(&s, 939, 60), Err(Error::NotYetValid));
        assert_eq!(check_times(&s, 940, 60), Ok(()));
        assert_eq!(check_times(&s, 2059, 60), Ok(()));
        assert_eq!(check_times(&s, 2060, 60), Err(Error::Expired));
        let capped = session(1000, 2000, 2000);
        assert_eq!(check_times(&capped, 2060, 60), Err(Error::Expired));
        let deadline_first = session(1000, 2000, 2000);
        assert_eq!(check_times(&deadline_first, 2059, 60), Ok(()));
        assert_eq!(check_times(&s, u64::MAX, 60), Err(Error::Expired));
    }

    #[test]
    fn needs_renewal_after_half_window_until_expiry_reaches_deadline() {
        let s = session(1000, 2800, 10_000);
        assert!(!s.needs_renewal_at(1000));
        assert!(!s.needs_renewal_at(1900));
        assert!(s.needs_renewal_at(1901));
        let capped = session(1000, 2800, 2800);
        assert!(!capped.needs_renewal_at(2500));
        assert!(!s.needs_renewal_at(10_000));
    }

    #[test]
    fn decoded_offsets_are_checked() {
        let claims = |iat, exp, dl| DecodedClaims {
            session_id: [0; 16],
            issued_at: iat,
            expires_after: exp,
            deadline_after: dl,
            subject: String::new(),
            data: (),
        };
        assert!(claims(10, 5, 6).into_session(KeyId(1)).is_ok());
        assert_eq!(
            claims(10, 7, 6).into_session(KeyId(1)).err(),
            Some(Error::Malformed)
        );
        assert_eq!(
            claims(u64::MAX, 1, 1).into_session(KeyId(1)).err(),
            Some(Error::Malformed)
        );
    }

    #[test]
    fn session_id_hex_round_trip_and_rejects() {
        let id = SessionId([0xab; 16]);
        assert_eq!(id.to_hex(), "ab".repeat(16));
        assert_eq!(SessionId::from_hex(&id.to_hex()), Ok(id));
        assert_eq!(SessionId::from_hex(&"AB".repeat(16)), Ok(id));
        assert_eq!(SessionId::from_hex("ab"), Err(Error::Malformed));
        assert_eq!(SessionId::from_hex(&"zz".repeat(16)), Err(Error::Malformed));
        assert_eq!(format!("{id:?}"), format!("SessionId({})", "ab".repeat(16)));
    }

    #[test]
    fn policy_clamps() {
        let p = Policy::default()
            .leeway(Duration::from_secs(7200))
            .idle_timeout(Duration::ZERO)
            .max_token_length(1 << 20);
        assert_eq!(p.leeway, 3600);
        assert_eq!(p.idle, 1);
        assert_eq!(p.max_token_length, MAX_TOKEN_LENGTH_LIMIT);
    }
}
