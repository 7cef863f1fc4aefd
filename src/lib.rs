#![doc = include_str!("../README.md")]
// docs.rs (nightly rustdoc, `--cfg docsrs`) marks feature-gated items.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Lets unit tests share tests/support/ files, which name the crate `tessera`.
#[cfg(test)]
extern crate self as tessera;

mod cache;
mod claims;
mod ed25519;
mod error;
mod files;
#[cfg(feature = "redis")]
pub mod fleet;
mod guard;
mod issuer;
#[cfg(feature = "json")]
mod keyfile;
mod keys;
mod live;
mod os;
mod revocation;
mod subjects;
mod token;
mod verifier;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;
#[cfg(feature = "axum")]
pub mod web;

pub use claims::{
    Policy, Session, SessionId, DEFAULT_MAX_TOKEN_LENGTH, MAX_LEEWAY, MAX_TOKEN_LENGTH_LIMIT,
};
pub use error::Error;
pub use guard::{Guard, GuardConfig, GuardCounters, Offender, Rejections};
pub use issuer::Issuer;
#[cfg(feature = "json")]
pub use keyfile::MAX_KEYSET_FILE_LEN;
pub use keys::{KeyId, KeyInfo, KeyState, Keyset, VerifierKeyset};
pub use live::{LiveIssuer, LiveVerifier};
pub use revocation::{RevocationFilter, MAX_REVOKE_WINDOW, MAX_SNAPSHOT_LEN};
pub use subjects::{SubjectRevocations, DEFAULT_SUBJECT_CAPACITY, MAX_SUBJECT_LEN};
pub use verifier::{
    Verifier, DEFAULT_CACHE_CAPACITY, DEFAULT_REVOCATION_CAPACITY, DEFAULT_REVOCATION_FP_RATE,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn shared_types_are_send_and_sync() {
        assert_send_sync::<Issuer>();
        assert_send_sync::<Verifier>();
        assert_send_sync::<RevocationFilter>();
        assert_send_sync::<Guard>();
        assert_send_sync::<SubjectRevocations>();
        assert_send_sync::<Keyset>();
        assert_send_sync::<VerifierKeyset>();
        assert_send_sync::<LiveVerifier>();
        assert_send_sync::<LiveIssuer>();
    }
}
