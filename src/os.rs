//! What tessera takes from the operating system: the wall clock (and how far
//! clocks may disagree) and random bytes. The bottom layer: it imports
//! nothing from the rest of the crate but the error type, so that keys,
//! claims, the issuer and the verifier all read time and randomness from one
//! place.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;

/// The longest leeway a [`Policy`](crate::Policy) accepts (larger values are
/// clamped to it): how far the clocks of the machines that issue and verify
/// may disagree. The revocation filter keeps revocations this long past their
/// deadline, and [`Keyset::prune`](crate::Keyset::prune) waits this long past
/// the last deadline a key signed.
pub const MAX_LEEWAY: Duration = Duration::from_secs(3600);

/// The current unix time in seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Fills `buf` from the OS random number generator.
pub(crate) fn os_random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|_| Error::Rng)
}

/// Fills `buf` from the OS random number generator, for infallible key
/// generation APIs: there is no safe way to continue without randomness.
pub(crate) fn os_random_or_panic(buf: &mut [u8]) {
    if os_random(buf).is_err() {
        panic!("the operating system's random number generator failed");
    }
}
