//! The one public error type.
//!
//! Every failure on the verification path maps to exactly one variant, and AEAD
//! and signature failures share [`Error::Invalid`] so that a caller (or an
//! attacker timing responses) cannot learn which of the two checks failed.

use core::fmt;

/// Everything that can go wrong in tessera.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a
/// wildcard arm. No variant carries secret material, so errors may be logged.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The token is not a tessera token: wrong prefix, bad base64url (padding,
    /// whitespace, non-canonical bits), too short, or claims that do not decode.
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
    /// A revocation snapshot is corrupt, truncated, or not a snapshot at all.
    CorruptSnapshot,
    /// Reading or writing a file failed.
    Io(std::io::ErrorKind),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Error::Io(kind) = self {
            return write!(f, "file error: {kind}");
        }
        f.write_str(match self {
            Error::Malformed => "malformed token",
            Error::UnsupportedVersion => "unsupported token version",
            Error::UnknownKey => "unknown key id",
            Error::Invalid => "invalid token",
            Error::Expired => "session expired",
            Error::NotYetValid => "token issued in the future",
            Error::Revoked => "session revoked",
            Error::TooLarge => "token too large",
            Error::PrimaryKey => "the primary key cannot be retired or disabled",
            Error::WeakKey => "weak or non-canonical key material",
            Error::Data => "session data could not be encoded",
            Error::Rng => "the operating system's random number generator failed",
            Error::CorruptSnapshot => "corrupt revocation snapshot",
            Error::Io(_) => "file error",
        })
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e.kind())
    }
}
