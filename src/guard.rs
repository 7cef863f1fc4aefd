//! The abuse guard: per-client failure and new-session limits, a list of the
//! heaviest offenders and a fleet-wide anomaly signal, in fixed memory.
//!
//! # Design
//!
//! * **Who is a client.** An IPv4 address, or an IPv6 address's /64 prefix
//!   (one host is routinely given a whole /64, so counting single IPv6
//!   addresses would let it rotate through 2^64 of them). IPv4-mapped IPv6
//!   addresses (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4
//!   peer) count as the IPv4 address. The key is that address as a `u128`: the
//!   IPv4-mapped form for IPv4, the /64 network address (low 64 bits zero) for
//!   IPv6; the two never coincide.
//! * **Count-min sketches, not a table.** Failures and new sessions are each
//!   counted in a count-min sketch of [`DEPTH`] rows of `AtomicU64` cells.
//!   A client's count is the smallest of its `DEPTH` cells, so it is never
//!   below the truth; another client adds to it only by sharing a cell in
//!   every row. Memory is fixed in [`Guard::new`] from the budget and never
//!   grows, however many clients there are: more clients than the sketch has
//!   room for make counts coarser (more honest clients share cells), never
//!   memory larger.
//! * **A keyed hash picks the cells.** The row positions come from one
//!   64-bit SipHash of the client key under a random 128-bit key that comes
//!   from the operating system's generator (`std`'s [`RandomState`], the hasher
//!   `HashMap` relies on against hash flooding: SipHash-1-3 so far, and
//!   always a keyed hash resistant to flooding), split into rows by double
//!   hashing. An attacker who wants to push an honest client over the limit
//!   must find addresses that share that client's cell in every row, and
//!   without the key cannot compute where anything lands; all it sees is
//!   whether its own requests are refused, which says nothing about an
//!   honest client's cells. SipHash is a pseudorandom function
//!   built for exactly this, and costs tens of nanoseconds; SHA-512 (already
//!   in the tree) would cost ten times more and buy nothing here.
//! * **Time in half windows.** Each cell packs a 24-bit half-window number
//!   and two 20-bit counts: the current half window and the one before. A
//!   client's count is their sum, which covers at least the last half
//!   `window` and at most the last whole `window`. So a client that stays
//!   under the limit in every `window` is never blocked by its own failures,
//!   a client that reaches the limit within half a `window` always is, and a
//!   block lifts by itself at most one `window` after the last failure. Stale
//!   cells are recognised by their half-window number and reset on the next
//!   write: no sweep, no global rotation. Updates are compare-and-swap loops on
//!   the one word, so concurrent failures are never lost.
//! * **Offenders and anomalies** sit behind one small mutex, taken by
//!   [`Guard::record_failure`] and the reports, never by the checks
//!   ([`Guard::is_blocked`], [`Guard::allow_new_session`]): a space-saving
//!   table of [`OFFENDER_SLOTS`] clients, and per-minute failure totals
//!   against an exponentially weighted baseline. Neither allocates.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::mem::size_of;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::Error;

/// Rows of each count-min sketch.
const DEPTH: usize = 4;
/// Bits of the half-window number kept in a cell.
const TAG_BITS: u32 = 24;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
/// Bits of each of a cell's two counts.
const COUNT_BITS: u32 = 20;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
/// Entries in the space-saving table behind [`Guard::top_offenders`].
const OFFENDER_SLOTS: usize = 64;
/// Narrowest sketch row: below this, honest clients would share cells with
/// everyone.
const MIN_WIDTH: usize = 256;
/// Minutes the anomaly baseline learns before the signal can be raised.
const WARMUP_MINUTES: u64 = 10;
/// Weight of each new minute in the anomaly baseline (a time constant of
/// about half an hour).
const BASELINE_ALPHA: f64 = 1.0 / 32.0;

/// Limits and memory for a [`Guard`].
///
/// Windows are [`Duration`]s, counted in whole seconds (at least two); the
/// guard's methods take the time as unix seconds (`now: u64`), like the rest
/// of tessera, and never read the clock. Build one with struct update syntax
/// so fields added later keep your code compiling:
///
/// ```
/// use std::time::Duration;
/// use tessera::GuardConfig;
///
/// let config = GuardConfig {
///     max_failures: 20,
///     window: Duration::from_secs(300),
///     ..GuardConfig::default()
/// };
/// assert_eq!(config.max_new_sessions, 60);
/// ```
///
/// The default stops a brute-forcer after 50 failures (never more than 100 in
/// any 15 minutes, about 200 an hour after that) and lets one address (a
/// household or an office behind NAT) make up to 49 failures in any 15
/// minutes and open 60 sessions in any 10 minutes without ever being refused,
/// in 1 MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardConfig {
    /// A client is blocked once it has this many failures within `window`
    /// (default 50; clamped to 1..=1,048,575).
    pub max_failures: u32,
    /// The failure window (default 15 minutes; whole seconds, at least 2).
    pub window: Duration,
    /// New sessions a client may open within `session_window` (default 60;
    /// clamped to 1..=1,048,575).
    pub max_new_sessions: u32,
    /// The new-session window (default 10 minutes; whole seconds, at least 2).
    pub session_window: Duration,
    /// Bytes the guard may use, fixed at [`Guard::new`] (default 1 MiB;
    /// clamped to 64 KiB..=1 GiB). [`Guard::memory_bytes`] never exceeds it.
    pub memory_budget: usize,
    /// The anomaly signal is raised when a minute's failures, fleet-wide,
    /// exceed `anomaly_factor` times the baseline plus `anomaly_floor`
    /// (default 10).
    pub anomaly_factor: u32,
    /// See `anomaly_factor` (default 100 failures a minute).
    pub anomaly_floor: u32,
}

impl Default for GuardConfig {
    fn default() -> GuardConfig {
        GuardConfig {
            max_failures: 50,
            window: Duration::from_secs(15 * 60),
            max_new_sessions: 60,
            session_window: Duration::from_secs(10 * 60),
            memory_budget: 1 << 20,
            anomaly_factor: 10,
            anomaly_floor: 100,
        }
    }
}

impl GuardConfig {
    /// The smallest `memory_budget` honoured; smaller budgets get this.
    pub const MIN_MEMORY_BUDGET: usize = 64 << 10;
    /// The largest `memory_budget` honoured; larger budgets get this.
    pub const MAX_MEMORY_BUDGET: usize = 1 << 30;
    /// The largest `max_failures` and `max_new_sessions` honoured (a cell's
    /// count is 20 bits).
    pub const MAX_LIMIT: u32 = COUNT_MAX as u32;

    /// This configuration as the guard applies it: limits clamped to
    /// `1..=MAX_LIMIT`, windows to whole seconds (at least 2), the budget to
    /// `MIN_MEMORY_BUDGET..=MAX_MEMORY_BUDGET`.
    pub fn effective(self) -> GuardConfig {
        let window = |d: Duration| Duration::from_secs(d.as_secs().max(2));
        GuardConfig {
            max_failures: self.max_failures.clamp(1, Self::MAX_LIMIT),
            window: window(self.window),
            max_new_sessions: self.max_new_sessions.clamp(1, Self::MAX_LIMIT),
            session_window: window(self.session_window),
            memory_budget: self
                .memory_budget
                .clamp(Self::MIN_MEMORY_BUDGET, Self::MAX_MEMORY_BUDGET),
            anomaly_factor: self.anomaly_factor,
            anomaly_floor: self.anomaly_floor,
        }
    }
}

/// Rejected tokens by reason, as recorded with [`Guard::record_rejection`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rejections {
    /// [`Error::Malformed`].
    pub malformed: u64,
    /// [`Error::UnsupportedVersion`].
    pub unsupported_version: u64,
    /// [`Error::UnknownKey`].
    pub unknown_key: u64,
    /// [`Error::Invalid`]: failed decryption or signature.
    pub invalid: u64,
    /// [`Error::TooLarge`].
    pub too_large: u64,
    /// [`Error::Expired`].
    pub expired: u64,
    /// [`Error::NotYetValid`].
    pub not_yet_valid: u64,
    /// [`Error::Revoked`].
    pub revoked: u64,
    /// [`Error::DataMismatch`]: a genuine token with another data type.
    pub data_mismatch: u64,
    /// Any other error.
    pub other: u64,
}

impl Rejections {
    /// All rejections.
    pub fn total(&self) -> u64 {
        [
            self.malformed,
            self.unsupported_version,
            self.unknown_key,
            self.invalid,
            self.too_large,
            self.expired,
            self.not_yet_valid,
            self.revoked,
            self.data_mismatch,
            self.other,
        ]
        .iter()
        .fold(0, |a, &b| a.saturating_add(b))
    }
}

/// What the guard has seen since it was created: a plain snapshot, from
/// [`Guard::counters`]. Each field is read atomically, the whole not at one
/// instant.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuardCounters {
    /// Tokens verified ([`Guard::record_success`]).
    pub verified: u64,
    /// Tokens rejected, by reason ([`Guard::record_rejection`]).
    pub rejected: Rejections,
    /// Failures held against clients ([`Guard::record_failure`], directly or
    /// through `record_rejection`).
    pub failures: u64,
    /// Checks that found the client blocked ([`Guard::is_blocked`] returning
    /// `true`).
    pub blocked: u64,
    /// New sessions allowed ([`Guard::allow_new_session`] returning `true`).
    pub sessions_allowed: u64,
    /// New sessions refused ([`Guard::allow_new_session`] returning `false`).
    pub sessions_refused: u64,
    /// Minutes in which the anomaly signal was raised.
    pub anomalies: u64,
}

/// One of the heaviest offenders, from [`Guard::top_offenders`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offender {
    /// The client as the guard counts it: an IPv4 address, or an IPv6 /64
    /// network address (its low 64 bits zero).
    pub client: IpAddr,
    /// Its failures, an upper bound, halved for every failure `window` that
    /// has passed since (so the list follows current attacks).
    pub failures: u64,
    /// How much `failures` may overstate: the true figure is between
    /// `failures - overcount` and `failures`.
    pub overcount: u64,
}

/// The abuse guard: throttles clients that fail too often or open too many
/// sessions, and reports what it sees. `Send + Sync`; share one per process
/// (in an `Arc`).
///
/// Call [`is_blocked`](Guard::is_blocked) before any cryptography and refuse
/// blocked clients; report each verification with
/// [`record_success`](Guard::record_success) or
/// [`record_rejection`](Guard::record_rejection) (which holds guessing-class
/// errors against the client), or count other failures (a wrong password)
/// with [`record_failure`](Guard::record_failure). Ask
/// [`allow_new_session`](Guard::allow_new_session) before issuing a session.
///
/// ```
/// use std::net::IpAddr;
/// use tessera::{Guard, GuardConfig};
///
/// let guard = Guard::new(GuardConfig::default());
/// let client = IpAddr::from([203, 0, 113, 7]);
/// let now = 1_700_000_000;
/// for _ in 0..50 {
///     assert!(!guard.is_blocked(client, now));
///     guard.record_failure(client, now);
/// }
/// assert!(guard.is_blocked(client, now));
/// // Fifteen quiet minutes later the block has lifted by itself.
/// assert!(!guard.is_blocked(client, now + 15 * 60));
/// ```
pub struct Guard {
    config: GuardConfig,
    keys: RandomState,
    failures: Sketch,
    sessions: Sketch,
    counters: Counters,
    detector: Mutex<Detector>,
}

impl Guard {
    /// A guard with `config` (clamped as [`GuardConfig::effective`] says),
    /// all its memory allocated now, and a fresh random hash key.
    pub fn new(config: GuardConfig) -> Guard {
        let config = config.effective();
        // Two sketches of DEPTH rows share what the fixed part leaves.
        let fixed = size_of::<Guard>();
        let per_row = 2 * DEPTH * size_of::<AtomicU64>();
        let width = (config.memory_budget.saturating_sub(fixed) / per_row).max(MIN_WIDTH);
        Guard {
            config,
            keys: RandomState::new(),
            failures: Sketch::new(width, config.window),
            sessions: Sketch::new(width, config.session_window),
            counters: Counters::default(),
            detector: Mutex::new(Detector::new()),
        }
    }

    /// The configuration in force (after clamping).
    pub fn config(&self) -> GuardConfig {
        self.config
    }

    /// Holds one failure against `client` at `now` (unix seconds): a forged
    /// or corrupt token, a wrong password. Also feeds the offender list and
    /// the anomaly signal, and emits a `tracing` event (`info`) when this
    /// failure blocks the client, and one (`warn`) when it raises the anomaly
    /// signal. Never allocates.
    pub fn record_failure(&self, client: IpAddr, now: u64) {
        let key = client_key(client);
        let cells = self.failures.cells_for(self.keys.hash_one(key));
        let count = self.failures.add(&cells, now);
        bump(&self.counters.failures);
        if count == u64::from(self.config.max_failures) {
            tracing::info!(
                client = %key_addr(key),
                failures = count,
                "tessera guard: client blocked after too many failures"
            );
        }
        let mut detector = self.detector();
        let window = self.config.window.as_secs();
        detector.offend(key, now / window);
        if let Some((failures, baseline)) = detector.failure_at(now, &self.config) {
            bump(&self.counters.anomalies);
            tracing::warn!(
                failures_this_minute = failures,
                baseline_per_minute = baseline,
                "tessera guard: failure rate far above its baseline (a guessing \
                 campaign spread over many addresses?)"
            );
        }
    }

    /// Whether `client` has reached `max_failures` within the window at `now`
    /// (unix seconds). Lock-free; counts the refusal in
    /// [`GuardCounters::blocked`] when it says yes.
    pub fn is_blocked(&self, client: IpAddr, now: u64) -> bool {
        let key = client_key(client);
        let cells = self.failures.cells_for(self.keys.hash_one(key));
        let blocked = self.failures.count(&cells, now) >= u64::from(self.config.max_failures);
        if blocked {
            bump(&self.counters.blocked);
        }
        blocked
    }

    /// Whether `client` may open a new session at `now` (unix seconds):
    /// `true`, and the session is counted, while it has opened fewer than
    /// `max_new_sessions` within `session_window`; `false` (not counted)
    /// otherwise. Calls racing for a client's last allowed session may each
    /// be allowed.
    pub fn allow_new_session(&self, client: IpAddr, now: u64) -> bool {
        let key = client_key(client);
        let cells = self.sessions.cells_for(self.keys.hash_one(key));
        if self.sessions.count(&cells, now) >= u64::from(self.config.max_new_sessions) {
            bump(&self.counters.sessions_refused);
            return false;
        }
        self.sessions.add(&cells, now);
        bump(&self.counters.sessions_allowed);
        true
    }

    /// Counts a verified token. The client and time are taken for symmetry
    /// with [`record_rejection`](Guard::record_rejection); a success does
    /// not clear past failures (one valid token must not buy an attacker a
    /// fresh allowance).
    pub fn record_success(&self, _client: IpAddr, _now: u64) {
        bump(&self.counters.verified);
    }

    /// Counts a rejected token by reason, and holds it against `client` (as
    /// [`record_failure`](Guard::record_failure)) when only a forger or a
    /// broken client produces it: [`Error::Malformed`],
    /// [`Error::UnsupportedVersion`], [`Error::UnknownKey`], [`Error::Invalid`]
    /// and [`Error::TooLarge`]. [`Error::Expired`], [`Error::NotYetValid`],
    /// [`Error::Revoked`] and [`Error::DataMismatch`] are only counted: they
    /// need a token tessera issued, and honest browsers send expired cookies
    /// every day. Do not also call
    /// `record_failure` for the same rejection.
    pub fn record_rejection(&self, client: IpAddr, error: &Error, now: u64) {
        let r = &self.counters.rejected;
        let (counter, failure) = match error {
            Error::Malformed => (&r.malformed, true),
            Error::UnsupportedVersion => (&r.unsupported_version, true),
            Error::UnknownKey => (&r.unknown_key, true),
            Error::Invalid => (&r.invalid, true),
            Error::TooLarge => (&r.too_large, true),
            Error::Expired => (&r.expired, false),
            Error::NotYetValid => (&r.not_yet_valid, false),
            Error::Revoked => (&r.revoked, false),
            Error::DataMismatch => (&r.data_mismatch, false),
            _ => (&r.other, false),
        };
        bump(counter);
        if failure {
            self.record_failure(client, now);
        }
    }

    /// The counters so far.
    pub fn counters(&self) -> GuardCounters {
        let c = &self.counters;
        let r = &c.rejected;
        GuardCounters {
            verified: read(&c.verified),
            rejected: Rejections {
                malformed: read(&r.malformed),
                unsupported_version: read(&r.unsupported_version),
                unknown_key: read(&r.unknown_key),
                invalid: read(&r.invalid),
                too_large: read(&r.too_large),
                expired: read(&r.expired),
                not_yet_valid: read(&r.not_yet_valid),
                revoked: read(&r.revoked),
                data_mismatch: read(&r.data_mismatch),
                other: read(&r.other),
            },
            failures: read(&c.failures),
            blocked: read(&c.blocked),
            sessions_allowed: read(&c.sessions_allowed),
            sessions_refused: read(&c.sessions_refused),
            anomalies: read(&c.anomalies),
        }
    }

    /// Up to `n` (at most 64) of the clients with the most failures,
    /// heaviest first, from a fixed-size space-saving table: any client with
    /// more than 1/64 of the (decayed) failures is in it.
    pub fn top_offenders(&self, n: usize) -> Vec<Offender> {
        let detector = self.detector();
        let o = &detector.offenders;
        let mut slots: Vec<(u128, u64, u64)> = (o.keys.iter().zip(&o.counts).zip(&o.overcounts))
            .filter(|((&key, _), _)| key != NO_CLIENT)
            .map(|((&key, &count), &overcount)| (key, count, overcount))
            .collect();
        slots.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        slots
            .into_iter()
            .take(n)
            .map(|(key, failures, overcount)| Offender {
                client: key_addr(key),
                failures,
                overcount,
            })
            .collect()
    }

    /// Whether the anomaly signal is up at `now` (unix seconds): the
    /// fleet-wide failures of this minute or the last exceeded
    /// `anomaly_factor` × baseline + `anomaly_floor`. The baseline is an
    /// exponentially weighted average of past minutes (a time constant of
    /// about 30 minutes) that learns for 10 minutes before the signal can be
    /// raised, and does not learn from anomalous minutes, so the signal stays
    /// up for as long as a campaign lasts.
    pub fn anomaly(&self, now: u64) -> bool {
        let minute = now / 60;
        self.detector()
            .raised
            .is_some_and(|m| m == minute || m.saturating_add(1) == minute)
    }

    /// Bytes this guard holds, fixed at [`Guard::new`] and never above the
    /// budget: the struct, the two sketches and the offender table (inline).
    pub fn memory_bytes(&self) -> usize {
        size_of::<Guard>() + self.failures.heap_bytes() + self.sessions.heap_bytes()
    }

    fn detector(&self) -> MutexGuard<'_, Detector> {
        // A panic elsewhere cannot leave the detector inconsistent in a way
        // that matters (counts only), so a poisoned lock is simply taken.
        self.detector.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash key stays out of it.
        f.debug_struct("Guard")
            .field("config", &self.config)
            .field("memory_bytes", &self.memory_bytes())
            .field("counters", &self.counters())
            .finish_non_exhaustive()
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

#[derive(Default)]
struct Counters {
    verified: AtomicU64,
    rejected: RejectionCounters,
    failures: AtomicU64,
    blocked: AtomicU64,
    sessions_allowed: AtomicU64,
    sessions_refused: AtomicU64,
    anomalies: AtomicU64,
}

#[derive(Default)]
struct RejectionCounters {
    malformed: AtomicU64,
    unsupported_version: AtomicU64,
    unknown_key: AtomicU64,
    invalid: AtomicU64,
    too_large: AtomicU64,
    expired: AtomicU64,
    not_yet_valid: AtomicU64,
    revoked: AtomicU64,
    data_mismatch: AtomicU64,
    other: AtomicU64,
}

/// The key a client is counted under (see the module docs).
fn client_key(client: IpAddr) -> u128 {
    match client {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(v4.to_ipv6_mapped()),
            None => u128::from(v6) & !u128::from(u64::MAX),
        },
    }
}

/// The address a key stands for: IPv4, or the IPv6 /64 network address.
fn key_addr(key: u128) -> IpAddr {
    let v6 = Ipv6Addr::from(key);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// A cell's two counts, as of some half window.
struct Cell {
    tag: u64,
    cur: u64,
    prev: u64,
}

impl Cell {
    fn unpack(word: u64) -> Cell {
        Cell {
            tag: word >> (2 * COUNT_BITS),
            cur: (word >> COUNT_BITS) & COUNT_MAX,
            prev: word & COUNT_MAX,
        }
    }

    fn pack(&self) -> u64 {
        (self.tag & TAG_MASK) << (2 * COUNT_BITS)
            | (self.cur & COUNT_MAX) << COUNT_BITS
            | (self.prev & COUNT_MAX)
    }

    /// Half windows from the cell's to `half`, within ±2^23: negative when the
    /// cell is ahead (a caller whose clock is slightly behind another's).
    fn lag(&self, half: u64) -> i64 {
        let d = half.wrapping_sub(self.tag) & TAG_MASK;
        if d >= 1 << (TAG_BITS - 1) {
            d as i64 - (1 << TAG_BITS) // ok: d < 2^24, no overflow
        } else {
            d as i64 // ok: d < 2^23
        }
    }

    /// The count over the current and previous half windows at `half`.
    fn count(&self, half: u64) -> u64 {
        match self.lag(half) {
            0 => self.cur + self.prev,
            1 => self.cur,
            l if l < 0 => self.cur + self.prev,
            _ => 0,
        }
    }

    /// The cell with one more event at `half`. Counts saturate.
    fn add(&self, half: u64) -> Cell {
        let inc = |c: u64| (c + 1).min(COUNT_MAX);
        // An empty cell has no time of its own (a never-used one says tag 0,
        // which can look "ahead" of `half`): it starts counting now.
        if self.cur == 0 && self.prev == 0 {
            return Cell {
                tag: half & TAG_MASK,
                cur: 1,
                prev: 0,
            };
        }
        match self.lag(half) {
            0 => Cell {
                tag: self.tag,
                cur: inc(self.cur),
                prev: self.prev,
            },
            1 => Cell {
                tag: half & TAG_MASK,
                cur: 1,
                prev: self.cur,
            },
            -1 => Cell {
                tag: self.tag,
                cur: self.cur,
                prev: inc(self.prev),
            },
            l if l < -1 => Cell {
                tag: self.tag,
                cur: inc(self.cur),
                prev: self.prev,
            },
            _ => Cell {
                tag: half & TAG_MASK,
                cur: 1,
                prev: 0,
            },
        }
    }
}

/// A count-min sketch of windowed counts.
struct Sketch {
    cells: Box<[AtomicU64]>,
    width: usize,
    /// Half the window, in seconds (at least 1).
    half_secs: u64,
}

impl Sketch {
    fn new(width: usize, window: Duration) -> Sketch {
        Sketch {
            cells: (0..DEPTH * width).map(|_| AtomicU64::new(0)).collect(),
            width,
            half_secs: (window.as_secs() / 2).max(1),
        }
    }

    fn heap_bytes(&self) -> usize {
        self.cells.len() * size_of::<AtomicU64>()
    }

    /// The cell of each row for a hash (double hashing, then multiply-shift
    /// into the row).
    fn cells_for(&self, hash: u64) -> [usize; DEPTH] {
        let h1 = hash as u32; // ok: the low half, by design
        let h2 = ((hash >> 32) as u32) | 1;
        let mut cells = [0; DEPTH];
        for (row, cell) in cells.iter_mut().enumerate() {
            let g = h1.wrapping_add(h2.wrapping_mul(row as u32)); // ok: row < DEPTH
            let col = (u64::from(g) * self.width as u64) >> 32; // ok: < width
            *cell = row * self.width + col as usize;
        }
        cells
    }

    fn count(&self, cells: &[usize; DEPTH], now: u64) -> u64 {
        let half = now / self.half_secs;
        cells
            .iter()
            .map(|&i| {
                self.cells
                    .get(i)
                    .map_or(0, |c| Cell::unpack(c.load(Ordering::Relaxed)).count(half))
            })
            .min()
            .unwrap_or(0)
    }

    /// Adds one event and returns the new count.
    fn add(&self, cells: &[usize; DEPTH], now: u64) -> u64 {
        let half = now / self.half_secs;
        let mut least = u64::MAX;
        for cell in cells.iter().filter_map(|&i| self.cells.get(i)) {
            let step = |w: u64| Some(Cell::unpack(w).add(half).pack());
            // The closure always returns Some, so this is always Ok.
            let old = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, step);
            let old = old.unwrap_or_else(|w| w);
            least = least.min(Cell::unpack(old).add(half).count(half));
        }
        least
    }
}

/// A key no client has (its low 64 bits are not zero, so not an IPv6 /64;
/// its high bits are not zero, so not IPv4-mapped): an empty offender slot.
const NO_CLIENT: u128 = u128::MAX;

/// The space-saving table, one array per field so that finding a client and
/// finding the least counted slot each scan one small contiguous array.
/// An empty slot has key [`NO_CLIENT`] and count 0.
struct Offenders {
    keys: [u128; OFFENDER_SLOTS],
    counts: [u64; OFFENDER_SLOTS],
    overcounts: [u64; OFFENDER_SLOTS],
}

/// What [`Guard::record_failure`] updates under the lock.
struct Detector {
    offenders: Offenders,
    /// The failure window the offender counts were last decayed to.
    offender_window: u64,
    /// The minute being counted, and its failures so far.
    minute: Option<u64>,
    minute_failures: u64,
    /// Failures per minute, exponentially weighted.
    baseline: f64,
    /// Minutes folded into the baseline.
    learned: u64,
    /// The last minute that raised the signal.
    raised: Option<u64>,
}

impl Detector {
    fn new() -> Detector {
        Detector {
            offenders: Offenders {
                keys: [NO_CLIENT; OFFENDER_SLOTS],
                counts: [0; OFFENDER_SLOTS],
                overcounts: [0; OFFENDER_SLOTS],
            },
            offender_window: 0,
            minute: None,
            minute_failures: 0,
            baseline: 0.0,
            learned: 0,
            raised: None,
        }
    }

    /// Space-saving update for one failure of `key` in failure window `window`.
    fn offend(&mut self, key: u128, window: u64) {
        let o = &mut self.offenders;
        if window > self.offender_window {
            let shift = (window - self.offender_window).min(63) as u32; // ok: ≤ 63
            for ((count, overcount), key) in
                o.counts.iter_mut().zip(&mut o.overcounts).zip(&mut o.keys)
            {
                *count >>= shift;
                *overcount >>= shift;
                if *count == 0 {
                    *key = NO_CLIENT;
                }
            }
            self.offender_window = window;
        }
        if let Some(i) = o.keys.iter().position(|&k| k == key) {
            if let Some(count) = o.counts.get_mut(i) {
                *count = count.saturating_add(1);
            }
            return;
        }
        // Space-saving: the newcomer takes the least counted slot (an empty
        // one when there is one) and inherits its count as a possible overcount.
        let least =
            (0..OFFENDER_SLOTS).min_by_key(|&i| o.counts.get(i).copied().unwrap_or(u64::MAX));
        if let Some(i) = least {
            let old = o.counts.get(i).copied().unwrap_or(0);
            if let (Some(k), Some(c), Some(e)) = (
                o.keys.get_mut(i),
                o.counts.get_mut(i),
                o.overcounts.get_mut(i),
            ) {
                *k = key;
                *c = old.saturating_add(1);
                *e = old;
            }
        }
    }

    /// Counts one failure at `now`; returns `(failures this minute, baseline)`
    /// when this failure raises the anomaly signal.
    fn failure_at(&mut self, now: u64, config: &GuardConfig) -> Option<(u64, f64)> {
        let minute = now / 60;
        match self.minute {
            None => self.minute = Some(minute),
            Some(current) if minute > current => self.close(current, minute),
            // A caller slightly behind another counts into the current minute.
            Some(_) => {}
        }
        self.minute_failures = self.minute_failures.saturating_add(1);
        let current = self.minute.unwrap_or(minute);
        let threshold =
            f64::from(config.anomaly_factor) * self.baseline + f64::from(config.anomaly_floor);
        if self.learned >= WARMUP_MINUTES
            && self.raised != Some(current)
            && self.minute_failures as f64 > threshold
        {
            self.raised = Some(current);
            return Some((self.minute_failures, self.baseline));
        }
        None
    }

    /// Folds the minute `closed` (unless it was anomalous) and the empty
    /// minutes after it into the baseline, and starts counting `next`.
    fn close(&mut self, closed: u64, next: u64) {
        if self.raised != Some(closed) {
            self.learn(self.minute_failures as f64);
        }
        // Empty minutes; after a thousand the baseline is zero anyway.
        let empty = next - closed - 1;
        for _ in 0..empty.min(1024) {
            self.learn(0.0);
        }
        self.learned = self.learned.saturating_add(empty.saturating_sub(1024));
        self.minute = Some(next);
        self.minute_failures = 0;
    }

    fn learn(&mut self, failures: f64) {
        // The first minutes are a plain average, then exponentially weighted.
        let alpha = (1.0 / (self.learned as f64 + 1.0)).max(BASELINE_ALPHA);
        self.baseline += alpha * (failures - self.baseline);
        self.learned = self.learned.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ipv4_mapped_and_prefixes() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_key(v4), client_key(mapped));
        assert_eq!(key_addr(client_key(mapped)), v4);
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        assert_eq!(
            key_addr(client_key(a)),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        // ::/64 (loopback, the unspecified address) is not an IPv4 key.
        let lo: IpAddr = "::1".parse().unwrap();
        assert_eq!(client_key(lo), 0);
        assert_ne!(client_key(lo), client_key("0.0.0.0".parse().unwrap()));
        // No address is the empty offender slot's key.
        let all_ones: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap();
        assert_ne!(client_key(all_ones), NO_CLIENT);
        assert_ne!(client_key("255.255.255.255".parse().unwrap()), NO_CLIENT);
    }

    #[test]
    fn cell_slides_by_half_windows() {
        let c = Cell::unpack(0);
        let c = c.add(10).add(10).add(10);
        assert_eq!((c.count(10), c.count(11), c.count(12)), (3, 3, 0));
        let c = c.add(11);
        assert_eq!((c.cur, c.prev, c.count(11), c.count(12)), (1, 3, 4, 1));
        // A caller one half window behind counts into the previous slot.
        let c = c.add(10);
        assert_eq!((c.cur, c.prev), (1, 4));
        // Far behind: counted now, never lost.
        let c = c.add(3);
        assert_eq!((c.cur, c.prev), (2, 4));
        // Stale cells reset.
        let c = Cell::unpack(c.pack()).add(20);
        assert_eq!((c.cur, c.prev), (1, 0));
    }

    #[test]
    fn cell_tag_wraps_and_counts_saturate() {
        let top = TAG_MASK; // the last tag before wrapping
        let c = Cell {
            tag: top,
            cur: COUNT_MAX,
            prev: 0,
        }
        .add(top);
        assert_eq!(c.cur, COUNT_MAX);
        let c = Cell::unpack(c.pack()).add(top + 1);
        assert_eq!((c.tag, c.cur, c.prev), (0, 1, COUNT_MAX));
        assert_eq!(c.count(top + 1), COUNT_MAX + 1);
    }

    #[test]
    fn budget_is_respected_and_clamped() {
        for budget in [0, 64 << 10, 100_000, 1 << 20, 3 << 20] {
            let guard = Guard::new(GuardConfig {
                memory_budget: budget,
                ..Default::default()
            });
            let budget = guard.config().memory_budget;
            assert!(guard.memory_bytes() <= budget, "{budget}");
            assert!(guard.memory_bytes() > budget * 9 / 10, "{budget}");
        }
    }

    #[test]
    fn baseline_warms_up_learns_quiet_minutes_and_skips_anomalies() {
        let config = GuardConfig::default();
        let mut d = Detector::new();
        let t0 = 60 * 1_000;
        // Warm-up: 1,000 failures in each of the first ten minutes raise nothing.
        for minute in 0..WARMUP_MINUTES {
            for _ in 0..1_000 {
                assert_eq!(d.failure_at(t0 + minute * 60, &config), None);
            }
        }
        assert_eq!(d.learned, WARMUP_MINUTES - 1);
        // The eleventh minute closes the tenth: the plain average is 1,000.
        assert_eq!(d.failure_at(t0 + 600, &config), None);
        assert_eq!((d.learned, d.baseline), (WARMUP_MINUTES, 1_000.0));
        // An hour later, the quiet minutes have pulled the baseline down.
        assert_eq!(d.failure_at(t0 + 660 + 3600, &config), None);
        assert_eq!(d.learned, WARMUP_MINUTES + 61);
        // A plain average to 32 minutes (10,001 / 32), then 39 minutes at 31/32.
        let expected = 10_001.0 / 32.0 * (31.0f64 / 32.0).powi(39);
        assert!((d.baseline - expected).abs() < 1.0, "{}", d.baseline);
        // Above 10 x baseline + 100: raised once in the minute, not learned.
        let minute = t0 + 660 + 3660;
        assert_eq!(d.failure_at(minute, &config), None); // closes the last minute
        let before = d.baseline;
        let threshold = (10.0 * before + 100.0) as u64;
        let raised: Vec<_> = (0..threshold + 10)
            .filter_map(|_| d.failure_at(minute, &config))
            .collect();
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].0, threshold + 1);
        assert_eq!(d.failure_at(minute + 60, &config), None);
        assert_eq!(d.baseline, before);
        // Far in the future: no overflow, baseline back to (about) nothing.
        assert_eq!(d.failure_at(u64::MAX, &config), None);
        assert!(d.baseline < 1e-9);
    }

    #[test]
    fn space_saving_keeps_heavy_hitters_and_decays() {
        let mut d = Detector::new();
        for i in 0..10_000u128 {
            d.offend(i + 1000, 0);
            if i % 10 == 0 {
                d.offend(7, 0);
            }
        }
        let slot = |d: &Detector, key: u128| {
            let o = &d.offenders;
            let i = o.keys.iter().position(|&k| k == key).unwrap();
            (o.counts[i], o.overcounts[i])
        };
        let (count, overcount) = slot(&d, 7);
        assert!(count >= 1000 && count - overcount <= 1000);
        // Two windows later every count is a quarter, plus this failure.
        d.offend(7, 2);
        assert_eq!(slot(&d, 7), (count / 4 + 1, overcount / 4));
        // Slots that decayed to nothing are empty again.
        d.offend(7, 100);
        assert_eq!(
            d.offenders.keys.iter().filter(|&&k| k != NO_CLIENT).count(),
            1
        );
        assert_eq!(slot(&d, 7), (1, 0));
    }
}
