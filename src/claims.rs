//! Claims (what a token says), the [`Policy`] that governs lifetimes, and the
//! time checks.
//!
//! Times are unix seconds (`u64`). On the wire the expiry and the deadline are
//! stored as offsets from the issue time, so that postcard's varints keep them
//! to two or three bytes.

use core::fmt;
use core::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, DeserializeOwned, Visitor};
use serde::{ser, Deserialize, Deserializer, Serialize, Serializer};

use crate::keys::KeyId;
use crate::os::unix_now;
use crate::Error;

pub use crate::os::MAX_LEEWAY;

/// The default maximum token length in characters: what fits in a cookie.
pub const DEFAULT_MAX_TOKEN_LENGTH: usize = 4096;

/// The largest maximum token length a [`Policy`] accepts (twice a cookie);
/// verification decodes into fixed stack buffers of this size.
pub const MAX_TOKEN_LENGTH_LIMIT: usize = 8192;

/// A session's identifier: 16 random bytes, stable across renewals. It is the
/// revocation key, and it is secret (it travels only inside the ciphertext).
///
/// As text (`Display`, [`FromStr`](core::str::FromStr), [`to_hex`](Self::to_hex),
/// [`from_hex`](Self::from_hex)) it is 32 hex digits: written in lowercase,
/// read in either case. With serde it is that hex string in human-readable
/// formats (JSON, TOML, ...) and the 16 raw bytes in binary ones (postcard,
/// bincode, ...), where postcard spends exactly 16 bytes on it.
///
/// ```
/// use tessera::{Error, SessionId};
///
/// let id: SessionId = "00112233445566778899AABBCCDDEEFF".parse()?;
/// assert_eq!(id.to_string(), "00112233445566778899aabbccddeeff");
/// assert_eq!(id, SessionId([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
///                           0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]));
/// assert_eq!("0011".parse::<SessionId>(), Err(Error::SessionIdFormat));
///
/// let json = serde_json::to_string(&id)?;
/// assert_eq!(json, "\"00112233445566778899aabbccddeeff\"");
/// assert_eq!(serde_json::from_str::<SessionId>(&json)?, id);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub [u8; 16]);

impl SessionId {
    /// The id as 32 lowercase hex digits (the same text as `Display`).
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// Parses exactly 32 hex digits, in either case (the same as
    /// [`str::parse`]). Never panics, whatever the text.
    ///
    /// # Errors
    ///
    /// [`Error::SessionIdFormat`] for anything but exactly 32 hex digits
    /// (no prefix, sign, separator or whitespace).
    pub fn from_hex(text: &str) -> Result<SessionId, Error> {
        let digits = text.as_bytes();
        if digits.len() != 32 {
            return Err(Error::SessionIdFormat);
        }
        let mut id = [0u8; 16];
        for (byte, pair) in id.iter_mut().zip(digits.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (
                pair.first().copied().and_then(hex_value),
                pair.get(1).copied().and_then(hex_value),
            ) else {
                return Err(Error::SessionIdFormat);
            };
            *byte = (hi << 4) | lo;
        }
        Ok(SessionId(id))
    }

    /// The 32 lowercase hex digits, on the stack.
    fn hex_digits(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (pair, byte) in out.chunks_exact_mut(2).zip(self.0) {
            pair.copy_from_slice(&[HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0x0f)]]);
        }
        out
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

/// 32 lowercase hex digits, as [`SessionId::to_hex`].
impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.hex_digits();
        // Hex digits are ASCII, so this never fails.
        f.write_str(core::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
    }
}

/// Exactly 32 hex digits in either case, as [`SessionId::from_hex`].
impl FromStr for SessionId {
    type Err = Error;

    fn from_str(text: &str) -> Result<SessionId, Error> {
        SessionId::from_hex(text)
    }
}

/// The hex string in human-readable formats, the 16 raw bytes (a fixed-size
/// array: no length prefix) in binary ones.
impl Serialize for SessionId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            let digits = self.hex_digits();
            let text = core::str::from_utf8(&digits).map_err(ser::Error::custom)?;
            serializer.serialize_str(text)
        } else {
            self.0.serialize(serializer)
        }
    }
}

/// What [`Serialize`] writes: the hex string (either case) in human-readable
/// formats, the 16 raw bytes in binary ones. A bad id is an error that does
/// not repeat the text it was given (it may be most of a secret id).
impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SessionId, D::Error> {
        struct Hex;
        impl Visitor<'_> for Hex {
            type Value = SessionId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a session id: 32 hex digits")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<SessionId, E> {
                SessionId::from_hex(text).map_err(E::custom)
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(Hex)
        } else {
            <[u8; 16]>::deserialize(deserializer).map(SessionId)
        }
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
    /// The application's own data, by value: the session is consumed.
    ///
    /// ```
    /// use tessera::{Issuer, Keyset, Policy};
    ///
    /// let issuer = Issuer::new(Keyset::generate(), Policy::default());
    /// let token = issuer.issue("alice", &vec!["admin".to_string()])?;
    /// let session = issuer.verifier().verify::<Vec<String>>(&token)?;
    /// let roles: Vec<String> = session.into_data();
    /// assert_eq!(roles, ["admin"]);
    /// # Ok::<(), tessera::Error>(())
    /// ```
    pub fn into_data(self) -> T {
        self.data
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
    /// [`needs_renewal_at`](Self::needs_renewal_at) the current time (the
    /// system clock, in unix seconds): call it after a successful
    /// [`verify`](crate::Verifier::verify), and if it says so, send the client
    /// the token [`Issuer::renew`](crate::Issuer::renew) returns.
    ///
    /// ```
    /// use tessera::{Issuer, Keyset, Policy};
    ///
    /// let issuer = Issuer::new(Keyset::generate(), Policy::default());
    /// let session = issuer.verifier().verify::<()>(&issuer.issue("alice", &())?)?;
    /// // Just issued: nothing of its 30-minute idle window is used yet.
    /// assert!(!session.needs_renewal());
    /// if session.needs_renewal() {
    ///     let _renewed = issuer.renew(&session)?;
    /// }
    /// # Ok::<(), tessera::Error>(())
    /// ```
    pub fn needs_renewal(&self) -> bool {
        self.needs_renewal_at(unix_now())
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

/// The claims before the application data (session id, times, subject): the
/// framing every token has, whatever its data type. Decoded on its own so
/// that a failure here (`Malformed`) is told apart from data that does not
/// decode as the caller's type (`DataMismatch`).
#[derive(Deserialize)]
struct ClaimsHead {
    session_id: [u8; 16],
    issued_at: u64,
    expires_after: u64,
    deadline_after: u64,
    subject: String,
}

/// Step 6: decodes a claims plaintext into a session under `key_id`.
///
/// First the framing ([`ClaimsHead`]), then its offsets turned into absolute
/// times: anything wrong there is [`Error::Malformed`]. Only then the rest,
/// which must be exactly one postcard encoding of `T` (every byte consumed):
/// anything wrong there is [`Error::DataMismatch`]. Postcard encodes a struct
/// as its fields one after the other, so this reads exactly what
/// [`WireClaims`] wrote. Callers pass only plaintext that passed the AEAD and
/// the signature (or came from the verified-token cache, which holds only
/// such plaintext), so a mismatch means a genuine token of another data type.
pub(crate) fn decode_session<T: DeserializeOwned>(
    plaintext: &[u8],
    key_id: KeyId,
) -> Result<Session<T>, Error> {
    let (head, rest) =
        postcard::take_from_bytes::<ClaimsHead>(plaintext).map_err(|_| Error::Malformed)?;
    let (Some(expires_at), Some(deadline)) = (
        head.issued_at.checked_add(head.expires_after),
        head.issued_at.checked_add(head.deadline_after),
    ) else {
        return Err(Error::Malformed);
    };
    if expires_at > deadline {
        return Err(Error::Malformed);
    }
    let data = match postcard::take_from_bytes::<T>(rest) {
        Ok((data, [])) => data,
        _ => return Err(Error::DataMismatch),
    };
    Ok(Session {
        id: SessionId(head.session_id),
        subject: head.subject,
        data,
        issued_at: head.issued_at,
        expires_at,
        deadline,
        key_id,
    })
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

    /// The postcard claims of a session with these times and `data`.
    fn wire<T: Serialize>(iat: u64, exp: u64, dl: u64, data: &T) -> Vec<u8> {
        postcard::to_allocvec(&WireClaims {
            session_id: [7; 16],
            issued_at: iat,
            expires_after: exp,
            deadline_after: dl,
            subject: "alice",
            data,
        })
        .unwrap()
    }

    #[test]
    fn decoded_offsets_are_checked() {
        let s = decode_session::<()>(&wire(10, 5, 6, &()), KeyId(3)).unwrap();
        assert_eq!((s.issued_at, s.expires_at, s.deadline), (10, 15, 16));
        assert_eq!(
            (s.id, s.subject(), s.key_id),
            (SessionId([7; 16]), "alice", KeyId(3))
        );
        assert_eq!(
            decode_session::<()>(&wire(10, 7, 6, &()), KeyId(1)).err(),
            Some(Error::Malformed)
        );
        assert_eq!(
            decode_session::<()>(&wire(u64::MAX, 1, 1, &()), KeyId(1)).err(),
            Some(Error::Malformed)
        );
    }

    #[test]
    fn framing_errors_are_malformed_and_data_errors_are_a_mismatch() {
        let good = wire(10, 5, 6, &(1u8, "xy".to_string()));
        let s = decode_session::<(u8, String)>(&good, KeyId(1)).unwrap();
        assert_eq!(s.into_data(), (1, "xy".to_string()));
        // The data is the 4 bytes after the framing: 01 02 'x' 'y'.
        let framing = good.len() - 4;
        // Data of another type: too short, refused by it, or not all consumed.
        assert_eq!(
            decode_session::<(u8, String, u8)>(&good, KeyId(1)).err(),
            Some(Error::DataMismatch)
        );
        assert_eq!(
            decode_session::<(bool, String)>(&wire(10, 5, 6, &(2u8, "")), KeyId(1)).err(),
            Some(Error::DataMismatch)
        );
        for other in [
            decode_session::<()>(&good, KeyId(1)).err(),
            decode_session::<u8>(&good, KeyId(1)).err(),
        ] {
            assert_eq!(other, Some(Error::DataMismatch));
        }
        // A trailing byte after the data is a mismatch too: the framing decoded.
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(
            decode_session::<(u8, String)>(&longer, KeyId(1)).err(),
            Some(Error::DataMismatch)
        );
        // Framing cut short, whatever the data type: malformed.
        for len in 0..framing {
            for err in [
                decode_session::<()>(&good[..len], KeyId(1)).err(),
                decode_session::<(u8, String)>(&good[..len], KeyId(1)).err(),
            ] {
                assert_eq!(err, Some(Error::Malformed), "{len}");
            }
        }
        // A subject that is not UTF-8 is the framing's fault.
        let mut bad_subject = wire(10, 5, 6, &());
        let last = bad_subject.len() - 1;
        bad_subject[last] = 0xff;
        assert_eq!(
            decode_session::<()>(&bad_subject, KeyId(1)).err(),
            Some(Error::Malformed)
        );
        // Inconsistent times are found before the data is looked at.
        assert_eq!(
            decode_session::<u64>(&wire(10, 7, 6, &"not a u64"), KeyId(1)).err(),
            Some(Error::Malformed)
        );
    }

    #[test]
    fn session_id_hex_round_trip_and_rejects() {
        let id = SessionId([0xab; 16]);
        assert_eq!(id.to_hex(), "ab".repeat(16));
        assert_eq!(SessionId::from_hex(&id.to_hex()), Ok(id));
        assert_eq!(SessionId::from_hex(&"AB".repeat(16)), Ok(id));
        assert_eq!(format!("{id:?}"), format!("SessionId({})", "ab".repeat(16)));
    }

    #[test]
    fn session_id_text_is_32_hex_digits_and_nothing_else() {
        let id = SessionId(core::array::from_fn(|i| (i as u8) * 17));
        let text = "00112233445566778899aabbccddeeff";
        assert_eq!(id.to_string(), text);
        assert_eq!(format!("{id}"), id.to_hex());
        assert_eq!(text.parse::<SessionId>(), Ok(id));
        assert_eq!(text.to_uppercase().parse::<SessionId>(), Ok(id));
        assert_eq!(
            "00112233445566778899AaBbCcDdEeFf".parse::<SessionId>(),
            Ok(id)
        );
        let bad = [
            String::new(),
            text[..31].to_string(),
            format!("{text}0"),
            format!("0x{}", &text[2..]),
            format!("+{}", &text[1..]),
            format!(" {}", &text[1..]),
            format!("{} ", &text[..31]),
            format!("{}g", &text[..31]),
            format!("{}-", &text[..31]),
            // 32 bytes, but not 32 digits.
            format!("é{}", &text[2..]),
            "\u{0}".repeat(32),
            "0".repeat(1 << 16),
        ];
        for text in &bad {
            assert_eq!(
                text.parse::<SessionId>(),
                Err(Error::SessionIdFormat),
                "{text:?}"
            );
            assert_eq!(SessionId::from_hex(text), Err(Error::SessionIdFormat));
        }
        // Every byte value round-trips, at every position.
        for b in 0..=255u8 {
            let id = SessionId([b; 16]);
            assert_eq!(id.to_string().parse::<SessionId>(), Ok(id));
        }
    }

    #[test]
    fn session_id_serde_is_hex_for_people_and_16_bytes_for_machines() {
        let id = SessionId(core::array::from_fn(|i| 0xf0 | i as u8));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<SessionId>(&json).unwrap(), id);
        let upper = json.to_uppercase();
        assert_eq!(serde_json::from_str::<SessionId>(&upper).unwrap(), id);
        // Inside a struct, and from a reader (no borrowed string).
        let doc = serde_json::json!({ "id": id });
        assert_eq!(doc["id"], id.to_hex());
        let back: std::collections::BTreeMap<String, SessionId> =
            serde_json::from_reader(doc.to_string().as_bytes()).unwrap();
        assert_eq!(back["id"], id);
        // A bad id is an error that does not repeat the text.
        let secretish = format!("\"{}\"", &id.to_hex()[..31]);
        for bad in [
            secretish.as_str(),
            "\"\"",
            "\"zz\"",
            "42",
            "null",
            "[1,2,3]",
        ] {
            let err = serde_json::from_str::<SessionId>(bad)
                .unwrap_err()
                .to_string();
            assert!(!err.contains(&id.to_hex()[..31]), "{err}");
        }
        // postcard: exactly the 16 bytes, no length prefix.
        let bytes = postcard::to_allocvec(&id).unwrap();
        assert_eq!(bytes, id.0);
        assert_eq!(postcard::from_bytes::<SessionId>(&bytes).unwrap(), id);
        assert!(postcard::from_bytes::<SessionId>(&bytes[..15]).is_err());
        // The same bytes as in the claims.
        let claims = postcard::to_allocvec(&(id, 5u8)).unwrap();
        assert_eq!(claims.len(), 17);
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
