//! Revocations, subject revocations and verifier keysets spread across a
//! fleet of servers through Redis (feature `redis`).
//!
//! Every request is still verified locally, with no network round trip: Redis
//! only carries changes. The auth service (or an operator's `tessera`)
//! appends entries to a Redis Stream with a [`Publisher`]; every API server
//! runs a [`Follower`] task that applies them to its
//! [`LiveVerifier`](crate::LiveVerifier):
//!
//! ```text
//!   auth service / tessera CLI            Redis                 API servers
//!  ┌────────────────────────┐   XADD   ┌──────────────┐  XREAD  ┌──────────────┐
//!  │ Publisher              │ ───────► │ <p>:stream   │ ──────► │ Follower ──► │
//!  │  revoke_session        │          │ <p>:snapshot │ ──────► │ LiveVerifier │
//!  │  revoke_subject        │   SET    │ <p>:keyset   │   GET   │   (x N)      │
//!  │  publish_keyset        │ ───────► └──────────────┘         └──────────────┘
//!  └────────────────────────┘
//! ```
//!
//! * A follower starts from the newest snapshot stored in Redis, replays the
//!   stream after the position it covers, reports ready once caught up, then
//!   follows with blocking reads. It reconnects with backoff and resumes
//!   after the last entry it applied.
//! * The stream is trimmed by entry time to what can still matter (the
//!   maximum lifetime plus twice the largest leeway), so Redis memory follows the
//!   revocations alive at once; snapshots only shorten a new server's replay.
//! * Staleness (time since the last successful read) is exposed, and
//!   [`FollowerConfig::fail_closed_after`] makes verification fail past a
//!   limit.
//!
//! The published verifier keyset holds decryption keys, and whoever can write
//! it can make followers accept tokens signed by a key of their own: Redis
//! must be protected like secret storage (docs/fleet.md).
//!
//! ```no_run
//! use std::sync::Arc;
//! use tessera::fleet::{FleetConfig, Follower, FollowerConfig, Publisher};
//! use tessera::{Issuer, Keyset, LiveVerifier, Policy};
//!
//! # async fn run() -> Result<(), tessera::Error> {
//! let fleet = FleetConfig::new("redis://127.0.0.1:6379", "myapp");
//! let issuer = Issuer::new(Keyset::generate(), Policy::default());
//!
//! // On each API server:
//! let live = LiveVerifier::new(issuer.verifier());
//! let follower = Follower::spawn(FollowerConfig::new(fleet.clone()), live)?;
//! follower.ready().await?;
//! let verifier = follower.verifier(); // Clone; use it in request handlers
//!
//! // In the auth service, on logout:
//! let publisher = Publisher::connect(fleet).await?;
//! let token = issuer.issue("alice", &())?;
//! let session = verifier.verify::<()>(&token)?;
//! publisher.revoke_session(session.id(), session.deadline()).await?;
//! # Ok(()) }
//! ```

mod event;
mod follower;
mod publisher;
mod snapshot;

use std::time::Duration;

pub use event::{EntryId, Event};
pub use follower::{FleetVerifier, Follower, FollowerConfig, FollowerHandle};
pub use publisher::{FleetStatus, Publisher, SnapshotInfo};

use crate::{Error, MAX_LEEWAY};

/// Where the feed lives and how long its entries matter. Shared by
/// publishers and followers of one fleet.
#[derive(Clone)]
pub struct FleetConfig {
    url: String,
    prefix: String,
    max_lifetime: Duration,
}

impl core::fmt::Debug for FleetConfig {
    /// The URL may hold a password: only the prefix is shown.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FleetConfig")
            .field("prefix", &self.prefix)
            .field("max_lifetime", &self.max_lifetime)
            .finish_non_exhaustive()
    }
}

impl FleetConfig {
    /// The feed at Redis `url` (`redis://[user:password@]host:port[/db]`),
    /// under keys `<prefix>:stream`, `<prefix>:snapshot` and `<prefix>:keyset`,
    /// for sessions of at most the default maximum lifetime (12 h).
    pub fn new(url: &str, prefix: &str) -> FleetConfig {
        FleetConfig {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            max_lifetime: Duration::from_secs(12 * 3600),
        }
    }

    /// The longest maximum lifetime of any session in the fleet: entries
    /// older than it plus twice the largest leeway (two hours) are trimmed.
    pub fn max_lifetime(mut self, d: Duration) -> FleetConfig {
        self.max_lifetime = d;
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How long an entry can matter, in milliseconds. A session revoked
    /// now was issued by a clock at most one leeway ahead, so its deadline is
    /// at most now + leeway + maximum lifetime, and verifiers accept it for
    /// one more leeway: the maximum lifetime plus twice the largest leeway.
    /// (A subject cutoff is at most one leeway ahead too; see
    /// [`Publisher::revoke_subject`].)
    pub(crate) fn window_ms(&self) -> u64 {
        let secs = self
            .max_lifetime
            .as_secs()
            .saturating_add(2 * MAX_LEEWAY.as_secs());
        secs.saturating_mul(1000)
    }

    /// The latest session deadline a publisher accepts at `now` (unix
    /// seconds): a session issued now by a clock one leeway ahead has a
    /// deadline of at most now + leeway + maximum lifetime. Its entry is then
    /// trimmed (one window after now) no earlier than one leeway after that
    /// deadline, when no verifier accepts the session any more.
    pub(crate) fn latest_deadline(&self, now: u64) -> u64 {
        now.saturating_add(self.max_lifetime.as_secs())
            .saturating_add(MAX_LEEWAY.as_secs())
    }

    /// The latest session deadline a follower applies at `now`: one leeway
    /// more than a publisher accepts, for the two clocks' difference. A
    /// later one could only come from someone writing to the stream directly,
    /// and each distinct far-future hour would cost a filter generation.
    pub(crate) fn latest_applied_deadline(&self, now: u64) -> u64 {
        self.latest_deadline(now)
            .saturating_add(MAX_LEEWAY.as_secs())
    }

    /// The latest subject cutoff a publisher accepts at `now`.
    pub(crate) fn latest_cutoff(now: u64) -> u64 {
        now.saturating_add(MAX_LEEWAY.as_secs())
    }

    /// The latest subject cutoff a follower applies at `now` (one leeway
    /// more, for the two clocks' difference).
    pub(crate) fn latest_applied_cutoff(now: u64) -> u64 {
        Self::latest_cutoff(now).saturating_add(MAX_LEEWAY.as_secs())
    }

    pub(crate) fn stream_key(&self) -> String {
        format!("{}:stream", self.prefix)
    }

    pub(crate) fn snapshot_key(&self) -> String {
        format!("{}:snapshot", self.prefix)
    }

    pub(crate) fn keyset_key(&self) -> String {
        format!("{}:keyset", self.prefix)
    }

    pub(crate) fn client(&self) -> Result<redis::Client, Error> {
        // The URL is not echoed: it may hold a password.
        redis::Client::open(self.url.as_str()).map_err(|_| Error::Fleet("invalid Redis URL".into()))
    }
}

/// A Redis failure as the library's error; Redis error texts hold no key
/// material and no password.
pub(crate) fn redis_error(e: &redis::RedisError) -> Error {
    Error::Fleet(e.to_string())
}

/// Connection timeout of every connection the fleet opens.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_bounds_keep_entries_in_the_window() {
        let fleet = FleetConfig::new("redis://x", "p").max_lifetime(Duration::from_secs(7200));
        let now = 1_700_000_000;
        let leeway = MAX_LEEWAY.as_secs();
        assert_eq!(fleet.latest_deadline(now), now + 7200 + leeway);
        assert_eq!(fleet.latest_applied_deadline(now), now + 7200 + 2 * leeway);
        // An entry written at `now` is trimmed one window later, no earlier
        // than one leeway past the latest deadline a publisher accepts.
        assert!(now + fleet.window_ms() / 1000 >= fleet.latest_deadline(now) + leeway);
        assert_eq!(FleetConfig::latest_cutoff(now), now + leeway);
        assert_eq!(FleetConfig::latest_applied_cutoff(now), now + 2 * leeway);
        // No overflow on absurd clocks.
        assert_eq!(fleet.latest_applied_deadline(u64::MAX), u64::MAX);
    }
}
