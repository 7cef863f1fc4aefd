//! The one public error type.
//!
//! Every failure on the verification path maps to exactly one variant, and AEAD
//! and signature failures share [`Error::Invalid`] so that a caller (or an
//! attacker timing responses) cannot learn which of the two checks failed.

use core::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in tessera.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a
/// wildcard arm. No variant carries secret material, so errors may be logged.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The token is not a tessera token: wrong prefix, bad base64url (padding,
    /// whitespace, non-canonical bits), too short, or claims whose session id,
    /// times or subject do not decode.
    Malformed,
    /// The token's version byte is not one this build understands.
    UnsupportedVersion,
    /// The key id is not in the keyset (never added, retired, or disabled).
    UnknownKey,
    /// Decryption or signature verification failed. The two are deliberately
    /// indistinguishable.
    Invalid,
    /// The session's idle expiry or absolute deadline has passed (leeway
    /// included), or a renewal was asked for at or after the deadline.
    Expired,
    /// The token claims to be issued in the future, beyond the leeway.
    NotYetValid,
    /// The session was revoked.
    Revoked,
    /// The token is genuine (it passed decryption and the signature check)
    /// but its application data does not decode as the type `T` asked for:
    /// it was issued with another data type, by another version of the
    /// application or another service that shares the keys. This is a
    /// deployment or programming mistake, not an attack, and saying so leaks
    /// nothing: only the holder of the signing key can make a token that gets
    /// this far. Forged or damaged tokens are [`Invalid`](Error::Invalid) or
    /// [`Malformed`](Error::Malformed), never this.
    DataMismatch,
    /// The token (or a token about to be issued) is longer than the policy's
    /// maximum length.
    TooLarge,
    /// The primary key cannot be retired or disabled; promote another key first.
    PrimaryKey,
    /// Key material was rejected: a weak (small-order) or non-canonically
    /// encoded Ed25519 public key, or a verifying key that does not match its
    /// signing key.
    WeakKey,
    /// The application data could not be serialized into the claims.
    Data,
    /// The operating system's random number generator failed.
    Rng,
    /// Text given as a [`SessionId`](crate::SessionId) is not exactly 32 hex
    /// digits. The message does not repeat the text.
    SessionIdFormat,
    /// A revocation snapshot is corrupt, truncated, or not a snapshot at all.
    CorruptSnapshot,
    /// A revocation by session id alone was asked to cover a range of
    /// deadlines longer than [`MAX_REVOKE_WINDOW`](crate::MAX_REVOKE_WINDOW);
    /// nothing was revoked. Give the session's deadline instead.
    RevocationWindow,
    /// Merging a revocation snapshot would chain more sub-filters into one
    /// deadline hour than a generation may hold (178).
    MergeLimit,
    /// Reading or writing a file failed, where no file name is at hand.
    /// Keyset files report [`Error::File`] instead.
    Io(std::io::ErrorKind),
    /// Reading, writing or locking a file failed. Displayed as the file's
    /// name and the operating system's message, e.g.
    /// `/etc/tessera/issuer.json: Permission denied (os error 13)`.
    File {
        /// The file the operation was on (for a symbolic link, the file it
        /// points to when that is the one written).
        path: PathBuf,
        /// The kind of failure, to match on.
        kind: std::io::ErrorKind,
        /// The operating system's message, or what went wrong in its words.
        message: String,
    },
    /// A disabled key cannot be promoted; enable it (and ship the verifier
    /// keyset) first.
    DisabledKey,
    /// A keyset file is not valid: bad JSON, a missing or unknown field, an
    /// unsupported version, a key of the wrong length, duplicate ids, not
    /// exactly one primary key, or larger than the size limit. The message says
    /// which, and where; it never contains key material.
    KeysetFormat(String),
    /// An issuer keyset (it holds signing keys) was given where a verifier
    /// keyset was expected. Verifiers need only the verifier keyset.
    IssuerKeyset,
    /// A keyset file (issuer or verifier: both hold secret keys) can be read
    /// or written by its group or by others, so it was not read (as ssh does
    /// with private keys). `mode` holds the file's permission bits.
    InsecurePermissions {
        /// The file that was refused.
        path: PathBuf,
        /// Its permission bits, e.g. `0o644`.
        mode: u32,
    },
    /// A subject revocation names a subject longer than
    /// [`MAX_SUBJECT_LEN`](crate::MAX_SUBJECT_LEN) bytes.
    SubjectTooLong,
    /// The subject revocation table is full (its capacity of subjects
    /// revoked within the maximum lifetime); the revocation was not recorded.
    SubjectTableFull,
    /// A revocation to publish to the fleet has a deadline (or a subject
    /// cutoff) further in the future than any session can have: more than the
    /// fleet's maximum lifetime plus the largest leeway after now (for a
    /// cutoff: more than the largest leeway). Followers would skip it.
    FleetTooFarAhead,
    /// The revocation feed has not been read for longer than the staleness
    /// limit the operator set, and the policy is to fail closed.
    Stale,
    /// The revocation feed (Redis) failed or sent something unusable. The
    /// message says what; it never holds key material or passwords.
    Fleet(String),
    /// A web setting (cookie attributes, a trusted origin) was refused when it
    /// was configured; the text says which rule it breaks, such as a
    /// `__Host-` cookie without `Secure`.
    WebConfig(&'static str),
    /// Logging in or renewing needs an issuer, and none was configured: this
    /// server only verifies.
    NoIssuer,
    /// The abuse guard refused a new session: this client has opened too
    /// many within the guard's session window.
    TooManySessions,
    /// An abuse guard is configured but the request's client address could
    /// not be found: the app is served without
    /// `into_make_service_with_connect_info`, or the handle was not the one
    /// extracted from the request. A server configuration error.
    NoClientAddress,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Error::Malformed => "malformed token",
            Error::UnsupportedVersion => "unsupported token version",
            Error::UnknownKey => "unknown key id",
            Error::Invalid => "invalid token",
            Error::Expired => "session expired",
            Error::NotYetValid => "token issued in the future",
            Error::Revoked => "session revoked",
            Error::DataMismatch => {
                "genuine token, but its session data is not of the type asked for \
                 (issued with another data type)"
            }
            Error::SessionIdFormat => "a session id is exactly 32 hex digits",
            Error::TooLarge => "token too large",
            Error::PrimaryKey => "the primary key cannot be retired or disabled",
            Error::WeakKey => "weak or non-canonical key material",
            Error::Data => "session data could not be encoded",
            Error::Rng => "the operating system's random number generator failed",
            Error::CorruptSnapshot => "corrupt revocation snapshot",
            Error::MergeLimit => {
                "merging the revocation snapshot would chain more than 178 sub-filters \
                 into one deadline hour"
            }
            Error::RevocationWindow => {
                "revocation by id covers more than 366 days of deadlines; give the deadline"
            }
            Error::DisabledKey => "a disabled key cannot be promoted; enable it first",
            Error::IssuerKeyset => {
                "this is an issuer keyset (it holds signing keys); verifiers need the \
                 verifier keyset exported from it"
            }
            Error::SubjectTooLong => "subject too long to revoke",
            Error::SubjectTableFull => "subject revocation table full; revocation not recorded",
            Error::FleetTooFarAhead => {
                "revocation deadline or cutoff further in the future than any session can last; \
                 not published"
            }
            Error::Stale => "revocation feed stale: refusing to verify (fail-closed policy)",
            Error::Fleet(why) => return write!(f, "revocation feed: {why}"),
            Error::TooManySessions => "too many new sessions from this client; try again later",
            Error::NoClientAddress => {
                "no client address for the abuse guard: serve the app with \
                 into_make_service_with_connect_info, or use the request's Sessions handle"
            }
            Error::NoIssuer => "no issuer is configured: this server only verifies sessions",
            Error::WebConfig(why) => return write!(f, "invalid web configuration: {why}"),
            Error::Io(kind) => return write!(f, "file error: {kind}"),
            Error::File { path, message, .. } => return write!(f, "{}: {message}", path.display()),
            Error::KeysetFormat(why) => return write!(f, "invalid keyset file: {why}"),
            Error::InsecurePermissions { path, mode } => {
                let path = path.display();
                return write!(
                    f,
                    "{path} is accessible by group or others (mode {mode:04o}) and holds \
                     secret keys; refusing to read it. Run: chmod 600 {path}"
                );
            }
        };
        f.write_str(text)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e.kind())
    }
}
