//! The following side: a task per server that applies the feed to its
//! [`LiveVerifier`], and the handle that owns it.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::event::{EntryId, Event};
use super::publisher::{fetch_keyset, load_snapshot, store_snapshot, Published};
use super::snapshot;
use super::{redis_error, FleetConfig, CONNECT_TIMEOUT};
use crate::os::unix_now;
use crate::{Error, LiveVerifier, Session};

/// "Never": the last successful read time before the first one, and the
/// staleness limit when failing closed is off.
const NEVER: u64 = u64::MAX;
/// First and largest wait between reconnection attempts.
const BACKOFF_START: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often the follower forgets revocations past their deadline.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// How a [`Follower`] follows the feed.
#[derive(Clone, Debug)]
pub struct FollowerConfig {
    fleet: FleetConfig,
    client_name: String,
    follow_keys: bool,
    fail_closed_after: Option<Duration>,
    block: Duration,
    batch: usize,
    snapshot_every: Option<Duration>,
}

impl FollowerConfig {
    /// Follows `fleet`: applies revocations, subject revocations and
    /// published keysets; never fails closed; blocking reads of up to one
    /// second; no snapshots written.
    pub fn new(fleet: FleetConfig) -> FollowerConfig {
        FollowerConfig {
            fleet,
            client_name: "tessera-follower".into(),
            follow_keys: true,
            fail_closed_after: None,
            block: Duration::from_secs(1),
            batch: 1000,
            snapshot_every: None,
        }
    }

    /// The name the follower's Redis connection takes (`CLIENT SETNAME`), as
    /// `CLIENT LIST` shows it. Characters Redis refuses in a name (anything
    /// but printable ASCII without spaces) are replaced by `_`.
    pub fn client_name(mut self, name: &str) -> FollowerConfig {
        self.client_name = name
            .chars()
            .map(|c| if c.is_ascii_graphic() { c } else { '_' })
            .collect();
        self
    }

    /// Whether to swap in verifier keysets published to Redis (default
    /// true). Turn it off to keep Redis out of the trust placed in keys: the
    /// server then takes keys only from its own files, and Redis carries only
    /// revocations.
    pub fn follow_keys(mut self, follow: bool) -> FollowerConfig {
        self.follow_keys = follow;
        self
    }

    /// Fail closed: once the feed has not been read successfully for longer
    /// than `limit` (or before the follower is first ready),
    /// [`FleetVerifier::verify`] returns [`Error::Stale`] instead of
    /// verifying. Off by default: verification keeps working on the last
    /// state while Redis is away.
    pub fn fail_closed_after(mut self, limit: Duration) -> FollowerConfig {
        self.fail_closed_after = Some(limit);
        self
    }

    /// The longest blocking read (default 1 s; kept between 1 ms and 60 s):
    /// an idle feed is still read successfully this often, which is what
    /// staleness measures.
    pub fn block(mut self, d: Duration) -> FollowerConfig {
        self.block = d.clamp(Duration::from_millis(1), Duration::from_secs(60));
        self
    }

    /// Write a snapshot to Redis (and trim the stream) this often. One or two
    /// followers per fleet are enough; a snapshot is only ever replaced by a
    /// newer one.
    pub fn snapshot_every(mut self, every: Duration) -> FollowerConfig {
        self.snapshot_every = Some(every);
        self
    }
}

/// State shared by the task, its handle and the verifiers made from it.
#[derive(Debug)]
struct Shared {
    /// Origin of the millisecond clock below.
    base: Instant,
    /// Milliseconds after `base` of the last successful read, or `NEVER`.
    last_ok: AtomicU64,
    /// The fail-closed limit in milliseconds, or `NEVER`.
    limit: u64,
    /// Set once the follower first caught up.
    ready: AtomicBool,
    /// Malformed entries skipped, and connections lost, so far.
    malformed: AtomicU64,
    reconnects: AtomicU64,
    /// Set while the follower is held before an entry it could not apply
    /// (a subject revocation that does not fit in a full table).
    stalled: AtomicBool,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    fn mark_read(&self) {
        self.last_ok.store(self.now_ms(), Ordering::Relaxed);
    }

    fn staleness(&self) -> Option<Duration> {
        let last = self.last_ok.load(Ordering::Relaxed);
        (last != NEVER).then(|| Duration::from_millis(self.now_ms().saturating_sub(last)))
    }
}

/// Starts followers.
#[derive(Debug)]
pub struct Follower;

impl Follower {
    /// Starts a follower task on the current tokio runtime that applies the
    /// feed to `live`. Returns at once; [`FollowerHandle::ready`] says when
    /// it has caught up. Dropping the handle stops the task.
    ///
    /// # Errors
    ///
    /// [`Error::Fleet`] if the Redis URL is invalid or no tokio runtime is
    /// running. Redis being unreachable is not an error: the task keeps
    /// trying.
    pub fn spawn(config: FollowerConfig, live: LiveVerifier) -> Result<FollowerHandle, Error> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Fleet("a follower needs a running tokio runtime".into()))?;
        let client = config.fleet.client()?;
        let shared = Arc::new(Shared {
            base: Instant::now(),
            last_ok: AtomicU64::new(NEVER),
            limit: config
                .fail_closed_after
                .map_or(NEVER, |d| u64::try_from(d.as_millis()).unwrap_or(NEVER - 1)),
            ready: AtomicBool::new(false),
            malformed: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            stalled: AtomicBool::new(false),
        });
        let (position_tx, position) = watch::channel(EntryId::ZERO);
        let (ready_tx, ready) = watch::channel(false);
        let task = Task {
            config: config.clone(),
            client: client.clone(),
            live: live.clone(),
            shared: shared.clone(),
            position: position_tx,
            ready: ready_tx,
            applied: None,
            keyset: None,
            last_prune: Instant::now(),
            last_snapshot: Instant::now(),
            healthy: false,
            stalled_backoff: BACKOFF_START,
        };
        let task = runtime.spawn(task.run());
        Ok(FollowerHandle {
            config,
            client,
            live,
            shared,
            position,
            ready,
            task,
        })
    }
}

/// Owns a follower task: dropping it (or [`shutdown`](Self::shutdown))
/// stops the task. Hand [`verifier`](Self::verifier)s to request handlers.
#[derive(Debug)]
pub struct FollowerHandle {
    config: FollowerConfig,
    client: redis::Client,
    live: LiveVerifier,
    shared: Arc<Shared>,
    position: watch::Receiver<EntryId>,
    ready: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl Drop for FollowerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FollowerHandle {
    /// Waits until the follower has loaded the snapshot and applied every
    /// entry that was in the stream when it caught up.
    ///
    /// # Errors
    ///
    /// [`Error::Fleet`] if the task has stopped.
    pub async fn ready(&self) -> Result<(), Error> {
        let mut ready = self.ready.clone();
        ready
            .wait_for(|r| *r)
            .await
            .map(|_| ())
            .map_err(|_| Error::Fleet("the follower task has stopped".into()))
    }

    /// Whether the follower has caught up once.
    pub fn is_ready(&self) -> bool {
        self.shared.ready.load(Ordering::Relaxed)
    }

    /// The last entry applied. It goes back only when Redis lost the stream
    /// (see docs/fleet.md, "When Redis is down"): the follower then reads the
    /// new stream from its start.
    pub fn position(&self) -> EntryId {
        *self.position.borrow()
    }

    /// Waits until the entry `id` (as a [`Publisher`](super::Publisher)
    /// returned it) has been applied.
    ///
    /// # Errors
    ///
    /// [`Error::Fleet`] if the task has stopped.
    pub async fn applied(&self, id: EntryId) -> Result<(), Error> {
        let mut position = self.position.clone();
        position
            .wait_for(|p| *p >= id)
            .await
            .map(|_| ())
            .map_err(|_| Error::Fleet("the follower task has stopped".into()))
    }

    /// Time since the last successful read from Redis; `None` before the
    /// first.
    pub fn staleness(&self) -> Option<Duration> {
        self.shared.staleness()
    }

    /// Stream entries logged and skipped so far: malformed ones, and session
    /// deadlines or subject cutoffs further in the future than a
    /// [`Publisher`](super::Publisher) accepts (by one more leeway).
    pub fn malformed_entries(&self) -> u64 {
        self.shared.malformed.load(Ordering::Relaxed)
    }

    /// Times the connection to Redis was lost (or could not be made) so far.
    pub fn reconnects(&self) -> u64 {
        self.shared.reconnects.load(Ordering::Relaxed)
    }

    /// Whether the follower is held before an entry it cannot apply yet: a
    /// subject revocation that does not fit in the verifier's full subject
    /// table. It retries the entry with backoff and applies nothing after it
    /// meanwhile; staleness grows, and a fail-closed verifier refuses
    /// requests, until it fits.
    pub fn is_stalled(&self) -> bool {
        self.shared.stalled.load(Ordering::Relaxed)
    }

    /// A verifier that checks staleness first (see
    /// [`FollowerConfig::fail_closed_after`]); `Clone`, for request handlers.
    pub fn verifier(&self) -> FleetVerifier {
        FleetVerifier {
            live: self.live.clone(),
            shared: self.shared.clone(),
        }
    }

    /// Stores a snapshot of this server's state covering every entry applied
    /// so far, stamped `now` (unix seconds), unless a newer one is stored;
    /// then trims the stream as of `now`. Returns whether it was stored.
    ///
    /// # Errors
    ///
    /// [`Error::Fleet`] if Redis fails.
    pub async fn write_snapshot(&self, now: u64) -> Result<bool, Error> {
        let mut conn = connect(&self.client, Duration::from_secs(5)).await?;
        // The position first: every entry up to it is already in the state
        // read next (the task publishes a position after applying it).
        let position = self.position();
        let data = encode_off_runtime(&self.live, position, now).await?;
        let stored = store_snapshot(&mut conn, &self.config.fleet, position, now, data).await?;
        trim(&mut conn, &self.config.fleet, now).await?;
        Ok(stored)
    }

    /// Stops the task and waits until it has stopped.
    pub async fn shutdown(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

/// A [`LiveVerifier`] behind the follower's staleness policy. `Clone`,
/// `Send + Sync`.
#[derive(Clone, Debug)]
pub struct FleetVerifier {
    live: LiveVerifier,
    shared: Arc<Shared>,
}

impl FleetVerifier {
    /// The live verifier the follower updates.
    pub fn live(&self) -> &LiveVerifier {
        &self.live
    }

    /// Time since the follower's last successful read; `None` before the
    /// first.
    pub fn staleness(&self) -> Option<Duration> {
        self.shared.staleness()
    }

    /// `Ok` unless the fail-closed policy is on and the feed is stale (or the
    /// follower has not caught up yet, or is held before a revocation it
    /// cannot record: see [`FollowerHandle::is_stalled`]). Three atomic
    /// loads and a clock read.
    ///
    /// # Errors
    ///
    /// [`Error::Stale`].
    pub fn check_fresh(&self) -> Result<(), Error> {
        let shared = &*self.shared;
        if shared.limit == NEVER {
            return Ok(());
        }
        let last = shared.last_ok.load(Ordering::Relaxed);
        if !shared.ready.load(Ordering::Relaxed)
            || shared.stalled.load(Ordering::Relaxed)
            || last == NEVER
            || shared.now_ms().saturating_sub(last) > shared.limit
        {
            return Err(Error::Stale);
        }
        Ok(())
    }

    /// [`check_fresh`](Self::check_fresh), then
    /// [`Verifier::verify`](crate::Verifier::verify) with the current keys.
    ///
    /// # Errors
    ///
    /// [`Error::Stale`], or any error of `Verifier::verify`.
    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<Session<T>, Error> {
        self.check_fresh()?;
        self.live.verify(token)
    }

    /// [`verify`](Self::verify) as if the time were `now` (the staleness
    /// check still uses the real elapsed time).
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify).
    pub fn verify_at<T: DeserializeOwned>(
        &self,
        token: &str,
        now: u64,
    ) -> Result<Session<T>, Error> {
        self.check_fresh()?;
        self.live.verify_at(token, now)
    }
}

/// Opens a dedicated connection (a blocking read must not share one).
async fn connect(
    client: &redis::Client,
    response_timeout: Duration,
) -> Result<MultiplexedConnection, Error> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(response_timeout);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| redis_error(&e))
}

/// Encodes a snapshot of `live`'s state on a blocking thread: a full
/// filter snapshot and its check take milliseconds of CPU for a large
/// filter, which must not hold up the runtime's other tasks.
async fn encode_off_runtime(
    live: &LiveVerifier,
    position: EntryId,
    written_at: u64,
) -> Result<Vec<u8>, Error> {
    let filter = live.revocations().clone();
    let subjects = live.current().subject_revocations().clone();
    tokio::task::spawn_blocking(move || snapshot::encode(position, written_at, &filter, &subjects))
        .await
        .map_err(|_| Error::Fleet("snapshot encoding did not complete".into()))
}

/// `XTRIM <stream> MINID ~ <now - window>`.
async fn trim(
    conn: &mut MultiplexedConnection,
    fleet: &FleetConfig,
    now: u64,
) -> Result<(), Error> {
    let min = now.saturating_mul(1000).saturating_sub(fleet.window_ms());
    redis::cmd("XTRIM")
        .arg(fleet.stream_key())
        .arg("MINID")
        .arg("~")
        .arg(min)
        .query_async::<()>(conn)
        .await
        .map_err(|e| redis_error(&e))
}

/// The follower task's own state.
struct Task {
    config: FollowerConfig,
    client: redis::Client,
    live: LiveVerifier,
    shared: Arc<Shared>,
    position: watch::Sender<EntryId>,
    ready: watch::Sender<bool>,
    /// The last entry applied; `None` until the snapshot has been loaded.
    applied: Option<EntryId>,
    /// The JSON of the keyset last swapped in (secret).
    keyset: Option<zeroize::Zeroizing<Vec<u8>>>,
    last_prune: Instant,
    last_snapshot: Instant,
    /// Whether the current connection has been read from successfully.
    healthy: bool,
    /// The wait before retrying an entry that could not be applied.
    stalled_backoff: Duration,
}

impl Task {
    async fn run(mut self) {
        let mut backoff = BACKOFF_START;
        loop {
            let Err(e) = self.follow().await;
            self.shared.reconnects.fetch_add(1, Ordering::Relaxed);
            // A connection that was read from starts the backoff over: a
            // killed connection is retried at once, an unreachable Redis
            // less and less often.
            if std::mem::take(&mut self.healthy) {
                backoff = BACKOFF_START;
            }
            tracing::warn!(
                error = %e,
                retry_in_ms = backoff.as_millis() as u64,
                position = %self.applied.unwrap_or_default(),
                "tessera fleet: revocation feed unavailable; verifying on the last state"
            );
            tokio::time::sleep(jitter(backoff)).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// One connection's life: returns only when it fails.
    async fn follow(&mut self) -> Result<Infallible, Error> {
        let fleet = self.config.fleet.clone();
        let timeout = self.config.block.saturating_add(Duration::from_secs(5));
        let mut conn = connect(&self.client, timeout).await?;
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(&self.config.client_name)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| redis_error(&e))?;
        let started = Instant::now();
        if self.applied.is_none() {
            let from = self.load_snapshot(&mut conn).await?;
            self.applied = Some(from);
            self.position.send_replace(from);
        } else {
            self.rewind_if_stream_lost(&mut conn, &fleet).await?;
        }
        if self.config.follow_keys {
            self.load_keyset(&mut conn).await?;
        }
        // Catch up without blocking, then follow with blocking reads.
        // Not ready while held before an entry it could not apply.
        loop {
            let count = self.read(&mut conn, &fleet, None).await?;
            if count < self.config.batch && !self.shared.stalled.load(Ordering::Relaxed) {
                break;
            }
        }
        if !self.shared.ready.swap(true, Ordering::Relaxed) {
            self.ready.send_replace(true);
            tracing::info!(
                position = %self.applied.unwrap_or_default(),
                took_ms = started.elapsed().as_millis() as u64,
                "tessera fleet: caught up with the revocation feed"
            );
        }
        loop {
            self.read(&mut conn, &fleet, Some(self.config.block))
                .await?;
            self.maintain(&mut conn, &fleet).await?;
        }
    }

    /// Loads the newest stored snapshot into the live state and returns the
    /// position it covers; a corrupt one is logged and the whole stream is
    /// replayed instead.
    async fn load_snapshot(&self, conn: &mut MultiplexedConnection) -> Result<EntryId, Error> {
        let data = match load_snapshot(conn, &self.config.fleet).await {
            Ok(Some(data)) => data,
            Ok(None) => return Ok(EntryId::ZERO),
            Err(Error::CorruptSnapshot) => {
                tracing::error!("tessera fleet: stored snapshot too large; replaying the stream");
                return Ok(EntryId::ZERO);
            }
            Err(e) => return Err(e),
        };
        // Merging a large filter takes milliseconds of CPU: off the runtime.
        let live = self.live.clone();
        let merged = tokio::task::spawn_blocking(move || {
            snapshot::decode(&data).and_then(|snap| {
                live.revocations().merge_snapshot(snap.filter)?;
                live.current()
                    .subject_revocations()
                    .merge_snapshot(snap.subjects)?;
                Ok((snap.position, snap.written_at))
            })
        })
        .await
        .map_err(|_| Error::Fleet("snapshot merge did not complete".into()))
        .and_then(|merged| merged)
        .inspect(|(position, written_at)| {
            tracing::info!(
                position = %position,
                age_secs = unix_now().saturating_sub(*written_at),
                "tessera fleet: snapshot loaded"
            );
        })
        .map(|(position, _)| position);
        match merged {
            Ok(position) => Ok(position),
            Err(e) => {
                // Replaying everything is correct (the stream holds every
                // entry that can still matter), only slower.
                tracing::error!(error = %e, "tessera fleet: stored snapshot unusable; replaying the stream");
                Ok(EntryId::ZERO)
            }
        }
    }

    /// On a reconnect: reads the stream from its start if its newest entry
    /// is before the last one applied (or it is empty or gone). Entries leave
    /// a stream only from its old end, so that stream is not the one this
    /// follower read: Redis lost its data (a restart without persistence,
    /// `FLUSHALL`), and the new stream's ids may be before the position (a
    /// Redis clock behind the old one). Reading after the position would
    /// skip those entries; applying an entry again changes nothing.
    async fn rewind_if_stream_lost(
        &mut self,
        conn: &mut MultiplexedConnection,
        fleet: &FleetConfig,
    ) -> Result<(), Error> {
        let Some(applied) = self.applied.filter(|a| *a > EntryId::ZERO) else {
            return Ok(());
        };
        let reply: Value = redis::cmd("XREVRANGE")
            .arg(fleet.stream_key())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(conn)
            .await
            .map_err(|e| redis_error(&e))?;
        let newest = match &reply {
            Value::Array(entries) => match entries.first() {
                Some(Value::Array(entry)) => entry.first().and_then(entry_id),
                _ => None,
            },
            _ => None,
        };
        if newest.is_none_or(|newest| newest < applied) {
            tracing::warn!(
                position = %applied,
                newest = %newest.unwrap_or_default(),
                "tessera fleet: stream ends before the last entry applied (Redis lost its \
                 data?); reading it from its start"
            );
            self.applied = Some(EntryId::ZERO);
            self.position.send_replace(EntryId::ZERO);
        }
        Ok(())
    }

    /// Swaps in the published keyset if it changed. Only a Redis failure is
    /// an error; an invalid keyset is logged and the current keys kept.
    async fn load_keyset(&mut self, conn: &mut MultiplexedConnection) -> Result<(), Error> {
        let published = fetch_keyset(conn, &self.config.fleet).await?;
        if let Published::Json(json) = &published {
            if self.keyset.as_ref().is_some_and(|k| k[..] == json[..]) {
                return Ok(());
            }
        }
        match published.parse() {
            Ok(keys) => {
                let ids: Vec<u32> = keys.key_ids().iter().map(|k| k.0).collect();
                self.live.set_keys(keys);
                if let Published::Json(json) = published {
                    self.keyset = Some(json);
                }
                tracing::info!(key_ids = ?ids, "tessera fleet: verifier keyset swapped in");
            }
            Err(Error::Fleet(_)) => {} // nothing published yet
            Err(e) => {
                tracing::error!(error = %e, "tessera fleet: published keyset refused; keeping the current keys");
            }
        }
        Ok(())
    }

    /// One `XREAD` (blocking for `block` if given) after the last applied
    /// entry; applies what it returns and says how many entries came.
    async fn read(
        &mut self,
        conn: &mut MultiplexedConnection,
        fleet: &FleetConfig,
        block: Option<Duration>,
    ) -> Result<usize, Error> {
        let after = self.applied.unwrap_or_default();
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT").arg(self.config.batch);
        if let Some(block) = block {
            cmd.arg("BLOCK")
                .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX));
        }
        cmd.arg("STREAMS")
            .arg(fleet.stream_key())
            .arg(after.to_string());
        let reply: Value = cmd.query_async(conn).await.map_err(|e| redis_error(&e))?;
        self.healthy = true;
        let entries = stream_entries(&reply);
        let count = entries.len();
        let result = self.apply(conn, entries).await;
        let stalled = self.shared.stalled.load(Ordering::Relaxed);
        // Fresh before the position moves: whoever waits for an entry then
        // finds the follower fresh too. Held before an entry, the state is
        // not as fresh as the read, so staleness keeps growing.
        if !stalled {
            self.shared.mark_read();
        }
        self.position.send_replace(self.applied.unwrap_or_default());
        if stalled {
            // Retry the entry after a wait.
            tokio::time::sleep(jitter(self.stalled_backoff)).await;
            self.stalled_backoff = (self.stalled_backoff * 2).min(BACKOFF_MAX);
        } else {
            self.stalled_backoff = BACKOFF_START;
        }
        result.map(|()| count)
    }

    /// Applies entries in order, advancing the position past each one,
    /// malformed ones included (logged and skipped). Stops before a subject
    /// revocation that does not fit (see [`Task::record_subject`]).
    async fn apply(
        &mut self,
        conn: &mut MultiplexedConnection,
        entries: Vec<(&Value, &[Value])>,
    ) -> Result<(), Error> {
        let now = unix_now();
        for (id, fields) in entries {
            let Some(id) = entry_id(id) else {
                // Without an id the position cannot advance past it: the
                // reply is not a stream reply. Reconnect and read again.
                return Err(Error::Fleet("stream entry without a valid id".into()));
            };
            if self.applied.is_some_and(|a| id <= a) {
                continue;
            }
            match Event::parse(fields) {
                Ok(Event::Session { deadline, .. })
                    if deadline > self.config.fleet.latest_applied_deadline(now) =>
                {
                    self.skip_far_ahead(id, "session deadline");
                }
                Ok(Event::Subject { before, .. })
                    if before > FleetConfig::latest_applied_cutoff(now) =>
                {
                    self.skip_far_ahead(id, "subject cutoff");
                }
                Ok(Event::Session { id, deadline }) => {
                    self.live.revocations().revoke(id, deadline);
                }
                Ok(Event::Subject { subject, before }) => {
                    if !self.record_subject(id, &subject, before) {
                        // Not advanced: the next read starts with it again.
                        return Ok(());
                    }
                }
                Ok(Event::Keyset) => {
                    if self.config.follow_keys {
                        self.load_keyset(conn).await?;
                    }
                }
                Err(reason) => {
                    self.shared.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(entry = %id, reason, "tessera fleet: malformed stream entry skipped");
                }
            }
            self.applied = Some(id);
        }
        Ok(())
    }

    /// Records a subject revocation; returns whether the position may move
    /// past it. A full table is first pruned of revocations that can no
    /// longer reject anything; if it is still full the follower stalls: the
    /// entry is not skipped (a dropped revocation is a session that stays
    /// valid) but retried with backoff, and meanwhile the follower counts as
    /// stale.
    fn record_subject(&self, entry: EntryId, subject: &str, before: u64) -> bool {
        let current = self.live.current();
        let result = match current.revoke_subject(subject, before) {
            Err(Error::SubjectTableFull) => {
                current.subject_revocations().prune(unix_now());
                current.revoke_subject(subject, before)
            }
            other => other,
        };
        match result {
            Ok(()) => {
                if self.shared.stalled.swap(false, Ordering::Relaxed) {
                    tracing::warn!(entry = %entry, "tessera fleet: subject revocation recorded; following again");
                }
                true
            }
            Err(Error::SubjectTableFull) => {
                self.shared.stalled.store(true, Ordering::Relaxed);
                tracing::error!(
                    entry = %entry,
                    capacity = current.subject_revocations().capacity(),
                    retry_in_ms = self.stalled_backoff.as_millis() as u64,
                    "tessera fleet: subject revocation table full; holding the feed at this \
                     entry (stale) until it fits"
                );
                false
            }
            Err(e) => {
                // Only an overlong subject, which parsing already refuses.
                self.shared.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(entry = %entry, error = %e, "tessera fleet: malformed stream entry skipped");
                true
            }
        }
    }

    /// Skips an entry further in the future than a publisher writes (someone
    /// wrote to the stream directly): applying it would hold memory for as
    /// long as it says.
    fn skip_far_ahead(&self, entry: EntryId, what: &'static str) {
        self.shared.malformed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            entry = %entry,
            what,
            "tessera fleet: stream entry too far in the future skipped"
        );
    }

    /// Periodic work between reads: forget what has passed, and write a
    /// snapshot (and trim) when configured.
    async fn maintain(
        &mut self,
        conn: &mut MultiplexedConnection,
        fleet: &FleetConfig,
    ) -> Result<(), Error> {
        if self.last_prune.elapsed() >= PRUNE_EVERY {
            self.last_prune = Instant::now();
            let now = unix_now();
            self.live.revocations().prune(now);
            self.live.current().subject_revocations().prune(now);
        }
        if let Some(every) = self.config.snapshot_every {
            if self.last_snapshot.elapsed() >= every {
                self.last_snapshot = Instant::now();
                let now = unix_now();
                let position = self.applied.unwrap_or_default();
                let data = encode_off_runtime(&self.live, position, now).await?;
                store_snapshot(conn, fleet, position, now, data).await?;
                trim(conn, fleet, now).await?;
                tracing::debug!(position = %position, "tessera fleet: snapshot written");
            }
        }
        Ok(())
    }
}

/// The entries of an `XREAD` reply for one stream: `[[key, [[id, fields],
/// ...]]]` (RESP2) or `{key: [[id, fields], ...]}` (RESP3); nothing for a
/// timeout (nil) or anything else.
fn stream_entries(reply: &Value) -> Vec<(&Value, &[Value])> {
    let entries = match reply {
        Value::Array(streams) => match streams.first() {
            Some(Value::Array(stream)) => stream.get(1),
            _ => None,
        },
        Value::Map(streams) => streams.first().map(|(_, v)| v),
        _ => None,
    };
    let Some(Value::Array(entries)) = entries else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| match entry {
            Value::Array(parts) => match parts.as_slice() {
                [id, Value::Array(fields)] => Some((id, fields.as_slice())),
                [id, ..] => Some((id, &[][..])),
                [] => None,
            },
            _ => None,
        })
        .collect()
}

fn entry_id(v: &Value) -> Option<EntryId> {
    match v {
        Value::BulkString(b) => core::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

/// Between half and all of `d`, so that a fleet does not reconnect in step.
fn jitter(d: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let r = getrandom::fill(&mut byte).map_or(255, |()| byte[0]);
    d / 2 + d / 2 * u32::from(r) / 255
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names_are_what_redis_accepts() {
        let config = FollowerConfig::new(FleetConfig::new("redis://x", "p"));
        let named = config.client_name("api 1\né-ok");
        assert_eq!(named.client_name, "api_1__-ok");
    }

    #[test]
    fn stream_replies_are_read_defensively() {
        let entry = |id: &[u8]| {
            Value::Array(vec![
                Value::BulkString(id.to_vec()),
                Value::Array(vec![Value::BulkString(b"kind".to_vec())]),
            ])
        };
        let reply = Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"p:stream".to_vec()),
            Value::Array(vec![entry(b"1-0"), Value::Int(3), entry(b"2-5")]),
        ])]);
        let entries = stream_entries(&reply);
        assert_eq!(entries.len(), 2);
        assert_eq!(entry_id(entries[1].0), Some(EntryId { ms: 2, seq: 5 }));
        assert!(stream_entries(&Value::Nil).is_empty());
        assert!(stream_entries(&Value::Array(vec![])).is_empty());
        assert_eq!(entry_id(&Value::Int(1)), None);
    }

    fn verifier_with(limit: u64) -> FleetVerifier {
        let issuer = crate::Issuer::new(crate::Keyset::generate(), crate::Policy::default());
        FleetVerifier {
            live: LiveVerifier::new(issuer.verifier()),
            shared: Arc::new(Shared {
                base: Instant::now(),
                last_ok: AtomicU64::new(NEVER),
                limit,
                ready: AtomicBool::new(false),
                malformed: AtomicU64::new(0),
                reconnects: AtomicU64::new(0),
                stalled: AtomicBool::new(false),
            }),
        }
    }

    #[test]
    fn fail_closed_only_when_asked_and_stale_or_not_ready() {
        // Off: always fresh, even before the first read.
        assert_eq!(verifier_with(NEVER).check_fresh(), Ok(()));
        let v = verifier_with(60_000);
        assert_eq!(v.check_fresh(), Err(Error::Stale)); // never read
        v.shared.mark_read();
        assert_eq!(v.check_fresh(), Err(Error::Stale)); // not caught up yet
        v.shared.ready.store(true, Ordering::Relaxed);
        assert_eq!(v.check_fresh(), Ok(()));
        assert!(v.staleness().unwrap() < Duration::from_secs(60));
        assert_eq!(v.verify::<()>("tsr1.x").err(), Some(Error::Malformed));
        // A read long ago: stale (the clock is the shared base's).
        let old = verifier_with(10);
        old.shared.ready.store(true, Ordering::Relaxed);
        old.shared.last_ok.store(0, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(old.check_fresh(), Err(Error::Stale));
        assert_eq!(old.verify::<()>("tsr1.x").err(), Some(Error::Stale));
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        for _ in 0..100 {
            let d = jitter(Duration::from_millis(100));
            assert!(d >= Duration::from_millis(50) && d <= Duration::from_millis(100));
        }
    }
}
