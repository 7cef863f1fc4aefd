//! The revocation filter: the only per-session state a verifier keeps.
//!
//! # Design
//!
//! * **Generations by deadline.** A revoked session never outlives its
//!   deadline, so revocations are grouped by deadline into one-hour buckets
//!   ([`BUCKET_SECS`]). A lookup probes only the generation its deadline falls
//!   in, and [`prune`](RevocationFilter::prune) drops whole generations once
//!   every deadline in them is more than [`MAX_LEEWAY`] in the past. One hour is
//!   the leeway itself: a dead revocation is held between one and two hours
//!   past its deadline, and with the default 12-hour lifetime about fourteen
//!   generations are alive at once. Narrower buckets would mean more, smaller
//!   generations (more sizing guesswork per revocation); wider ones would keep
//!   dead revocations longer. Nothing about the deadline spread is assumed.
//! * **Blocked Bloom filters.** Each generation is a chain of sub-filters made
//!   of 512-bit blocks, one 64-byte cache line each. A session id is 16
//!   uniformly random secret bytes, so its bits index the filter directly, with
//!   no hashing: the high 64 bits pick the block (multiply-shift, so block
//!   counts need not be powers of two) and the low bits give `k` nine-bit
//!   positions inside it. `k` and the block count are chosen per sub-filter
//!   from the exact false-positive rate of a blocked filter (a Poisson sum over
//!   block loads), not from the classic formula, which is optimistic for
//!   blocks.
//! * **Memory follows revocations.** Nothing is allocated until the first
//!   revocation; a generation is created on its first revocation with a small
//!   sub-filter ([`MIN_SUB_CAPACITY`] ids). When the newest sub-filter is full,
//!   the generation grows by chaining a new one (a scalable Bloom filter). Its
//!   size is the generation's *share* of the capacity still unused (capacity
//!   minus revocations held, over live generations), kept between a quarter and
//!   all of what the generation already holds: a generation at most doubles at
//!   a time, and grows in small steps once it nears its share, so the newest
//!   sub-filter is rarely much emptier than needed. Past the stated capacity
//!   it doubles each time. A chain is about `log2(share / 64) + 2` long, and a
//!   lookup that misses probes each sub-filter once.
//! * **False-positive budget.** A lookup in a generation is a false positive
//!   if any of its sub-filters says so, so the sub-filters' rates must add up to
//!   at most the filter's rate. Each new sub-filter takes a part of what its
//!   generation has not yet spent, in proportion to its size against the
//!   revocations the generation is still expected to get, and never more than
//!   half: the sum converges below `fp_rate` however far the generation grows,
//!   including many times over capacity. A Bloom filter has no false negatives,
//!   and no operation here ever clears a bit of a live generation.
//! * **Concurrency.** Bits are `AtomicU64` words: inserts `fetch_or` and
//!   lookups `load`, both `Relaxed` (see [`Block`]). A generation's chain is
//!   append-only, linked through [`OnceLock`]s, so lookups walk it without
//!   locks and an insert racing with growth lands in a sub-filter that stays in
//!   the chain. The sorted table of generations is an immutable `Vec` behind
//!   an [`ArcSwap`]: lookups and inserts load it without a lock (arc-swap's
//!   wait-free read path; std has no atomic `Arc`, and this crate forbids
//!   `unsafe`). Structural changes (a new generation, `prune`) take a mutex
//!   that only writers contend on, copy the table of pointers, and publish the
//!   copy; building and freeing generations happens outside it.
//! * **Snapshots** are versioned, CRC-32-checked and parsed with every length
//!   bounded by the input (docs/FORMAT.md).

use std::fmt;
use std::io::Read;
use std::mem::size_of;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::{ArcSwap, Guard};

use crate::claims::{SessionId, MAX_LEEWAY};
use crate::Error;

/// Width of a generation, in seconds of deadline.
const BUCKET_SECS: u64 = 3600;

/// The longest snapshot [`RevocationFilter::load`] reads (256 MiB): far above
/// any real filter (a million revocations at 1% take about 2.2 MB), and a
/// bound on what a hostile file can make a verifier allocate.
pub const MAX_SNAPSHOT_LEN: usize = 256 << 20;
/// Bits in a block: one 64-byte cache line.
const BLOCK_BITS: u32 = 512;
/// `u64` words in a block.
const BLOCK_WORDS: usize = 8;
/// Bytes in a block.
const BLOCK_BYTES: usize = 64;
/// Most bit positions per id: 10 nine-bit positions use the low 90 bits of the
/// id; the block index comes from the high 64 (mostly their top bits).
const MAX_K: u32 = 10;
/// Ids the first sub-filter of a generation holds.
const MIN_SUB_CAPACITY: u64 = 64;
/// Largest and smallest part of its generation's unspent false-positive
/// budget a new sub-filter takes.
const MAX_BUDGET_SHARE: f64 = 0.5;
const MIN_BUDGET_SHARE: f64 = 1.0 / 1024.0;
/// Range accepted for `fp_rate`; values outside it are clamped.
const MIN_FP_RATE: f64 = 1e-9;
const MAX_FP_RATE: f64 = 0.5;
/// The tightest rate a sub-filter is designed for (tens of thousands of bits
/// per id; never reached in practice).
const MIN_FP_TARGET: f64 = 1e-18;

const SNAPSHOT_MAGIC: &[u8; 4] = b"TSRV";
const SNAPSHOT_VERSION: u8 = 1;
const CHECK_LEN: usize = 4;

/// Remembers revoked sessions until their deadline plus the maximum leeway, in
/// a compact generational Bloom filter: it may wrongly report a session as
/// revoked (at most `fp_rate` of lookups; the user signs in again), never the
/// reverse.
///
/// Revocations are grouped by deadline hour; a lookup reads one cache line per
/// sub-filter of that hour's generation, and [`prune`](Self::prune) frees a
/// whole hour at once, one to two hours after its deadlines. Memory follows
/// the revocations held: nothing at first, then about 16 to 26 bits per
/// revocation at the stated capacity and 1%, however the deadlines are
/// spread, as long as a deadline hour holds a few hundred revocations (below
/// that, each hour's fixed 100 to 200 bytes count). Far below capacity it
/// costs more per revocation, as room is kept for growth. Past the capacity
/// it keeps growing and keeps its rate.
///
/// `Send + Sync`: share it behind an `Arc`. Lookups and inserts set and test
/// atomic words under the shared side of a read-write lock, so they never wait
/// for each other; adding or pruning a generation takes the exclusive side for
/// the time of a pointer move. Never reads the clock: `prune` is told the time.
///
/// ```
/// use tessera::{RevocationFilter, SessionId};
///
/// let filter = RevocationFilter::new(10_000, 0.001);
/// filter.revoke(SessionId([7; 16]), 1_700_000_000);
/// assert!(filter.is_revoked(SessionId([7; 16]), 1_700_000_000));
/// let copy = RevocationFilter::from_snapshot(&filter.to_snapshot())?;
/// assert!(copy.is_revoked(SessionId([7; 16]), 1_700_000_000));
/// # Ok::<(), tessera::Error>(())
/// ```
pub struct RevocationFilter {
    capacity: u64,
    fp_rate: f64,
    /// Live generations, sorted by bucket, no two with the same bucket.
    /// Replaced as a whole, never changed in place.
    generations: ArcSwap<Vec<Arc<Generation>>>,
    /// Serializes the writers that replace `generations`.
    structure: Mutex<()>,
}

/// The revocations whose deadlines fall in one bucket.
struct Generation {
    /// `deadline / BUCKET_SECS` for every deadline in it.
    bucket: u64,
    /// The oldest sub-filter; the rest hang off it.
    first: SubFilter,
}

/// One blocked Bloom filter in a generation's chain.
struct SubFilter {
    blocks: Box<[Block]>,
    /// Bit positions set per id.
    k: u32,
    /// Ids its blocks hold at `fp_target`.
    capacity: u64,
    /// Its false-positive rate when full.
    fp_target: f64,
    /// Ids inserted, never more than `capacity` (slots are reserved first).
    count: AtomicU64,
    /// The next, newer sub-filter, once this one is full.
    next: OnceLock<Box<SubFilter>>,
}

/// A 512-bit block, aligned so that it is exactly one cache line.
///
/// Memory ordering: inserts `fetch_or` and lookups `load` with `Relaxed`. A
/// bit publishes nothing but itself, so no acquire/release pairing is needed
/// for it: once `revoke` has returned, any lookup that happens after it (via a
/// join, a channel, a lock, the application's own synchronisation) sees the
/// bits by write-read coherence. A lookup racing with the `revoke` of the same
/// id may see some of its bits and answer "not revoked"; that is the same as
/// running before it. The sub-filter holding the block is published through
/// a `OnceLock` or the generations lock, both acquire/release, so its zeroed
/// words are seen before any bit set in them.
#[derive(Default)]
#[repr(align(64))]
struct Block([AtomicU64; BLOCK_WORDS]);

/// The bucket a deadline falls in.
fn bucket_of(deadline: u64) -> u64 {
    deadline / BUCKET_SECS
}

/// Whether every deadline in `bucket` is more than the maximum leeway before
/// `now`: the last deadline in it is `(bucket + 1) * BUCKET_SECS - 1`.
fn is_expired(bucket: u64, now: u64) -> bool {
    // The bucket's last deadline is `(bucket + 1) * BUCKET_SECS - 1`; it is
    // forgettable once that plus the leeway is before `now`. Where the sum
    // overflows it is later than any `now`: never expired (saturating here
    // once let `prune(u64::MAX)` forget deadlines near the end of time).
    bucket
        .checked_add(1)
        .and_then(|b| b.checked_mul(BUCKET_SECS))
        .and_then(|end| end.checked_add(MAX_LEEWAY.as_secs()))
        .is_some_and(|limit| limit <= now)
}

impl RevocationFilter {
    /// A filter sized for `capacity` revocations alive at once, at false-positive
    /// rate `fp_rate` per lookup.
    ///
    /// Nothing is allocated yet: memory follows the revocations held, whatever
    /// `capacity` says. Past `capacity` the filter keeps growing and keeps its
    /// rate, at some cost in memory. `fp_rate` is clamped to `[1e-9, 0.5]`
    /// (NaN counts as 0.5) and a zero capacity counts as one.
    pub fn new(capacity: usize, fp_rate: f64) -> RevocationFilter {
        let fp_rate = if fp_rate.is_nan() {
            MAX_FP_RATE
        } else {
            fp_rate.clamp(MIN_FP_RATE, MAX_FP_RATE)
        };
        RevocationFilter {
            capacity: u64::try_from(capacity).unwrap_or(u64::MAX).max(1),
            fp_rate,
            generations: ArcSwap::from_pointee(Vec::new()),
            structure: Mutex::new(()),
        }
    }

    /// Revokes session `id` until `deadline` (unix seconds), and through the
    /// leeway after it.
    pub fn revoke(&self, id: SessionId, deadline: u64) {
        let bucket = bucket_of(deadline);
        let generation = match self.generation(bucket) {
            Some(generation) => generation,
            None => self.add_generation(bucket),
        };
        // Already reported revoked (a duplicate, or a false positive that will
        // stay one): nothing to add, and no capacity spent on it.
        if generation.contains(&id) {
            return;
        }
        let mut sub = &generation.first;
        loop {
            if let Some(next) = sub.next.get() {
                sub = next;
            } else if sub.try_reserve() {
                sub.insert(&id);
                return;
            } else {
                // `try_reserve` refuses only a full sub-filter, and a full
                // one stays full: growth never skips free slots (and a broken
                // reservation fails here instead of chaining forever).
                debug_assert_eq!(sub.count.load(Ordering::Relaxed), sub.capacity);
                // Full. Whoever initialises `next` first sizes it; an insert
                // racing with this one lands in `sub` or in `next`, both of
                // which stay in the chain that lookups walk.
                let (held, live) = self.usage();
                sub = sub
                    .next
                    .get_or_init(|| Box::new(self.plan_growth(&generation, held, live)));
            }
        }
    }

    /// Whether session `id`, whose deadline is `deadline`, was revoked (or is a
    /// false positive). Probes only the generation `deadline` falls in.
    pub fn is_revoked(&self, id: SessionId, deadline: u64) -> bool {
        let bucket = bucket_of(deadline);
        let table = self.read();
        match table.binary_search_by_key(&bucket, |g| g.bucket) {
            Ok(i) => table.get(i).is_some_and(|g| g.contains(&id)),
            Err(_) => false,
        }
    }

    /// Forgets every generation whose deadlines are all more than
    /// [`MAX_LEEWAY`](crate::MAX_LEEWAY) before `now` (unix seconds): until
    /// then a verifier with the largest leeway could still accept the session.
    /// A revocation is forgotten between one and two hours after that (the
    /// bucket width), never sooner.
    ///
    /// A `revoke` racing with the `prune` that drops its generation is lost,
    /// exactly as if it had run just before; such a session is past its
    /// deadline and leeway by `now`.
    pub fn prune(&self, now: u64) {
        if self
            .read()
            .first()
            .is_none_or(|g| !is_expired(g.bucket, now))
        {
            return;
        }
        let removed: Vec<Arc<Generation>> = self.update(|table| {
            // Sorted by bucket, so the expired generations are a prefix.
            let keep_from = table.partition_point(|g| is_expired(g.bucket, now));
            table.drain(..keep_from).collect()
        });
        // Freed here, after the lock is released (or later, by the last
        // lookup still holding the old table).
        drop(removed);
    }

    /// Heap bytes held: this struct (it lives behind an `Arc` in a
    /// [`Verifier`](crate::Verifier)), the generation table, every generation
    /// and sub-filter header and every block. Allocator overhead is not
    /// counted.
    pub fn memory_bytes(&self) -> usize {
        let table = self.read();
        // The table's Arc (two reference counts and the Vec), then its pointers.
        let mut bytes = size_of::<Self>()
            + 2 * size_of::<usize>()
            + size_of::<Vec<Arc<Generation>>>()
            + table.capacity() * size_of::<Arc<Generation>>();
        for generation in table.iter() {
            // The Arc's two reference counts, then the generation.
            bytes += 2 * size_of::<usize>() + size_of::<Generation>();
            for (i, sub) in generation.chain().enumerate() {
                if i > 0 {
                    bytes += size_of::<SubFilter>();
                }
                bytes += sub.blocks.len() * BLOCK_BYTES;
            }
        }
        bytes
    }

    /// Revocations held: every id inserted into a live generation (duplicates
    /// and ids already reported revoked are not inserted).
    fn held(table: &[Arc<Generation>]) -> u64 {
        table.iter().map(|g| g.held()).fold(0, u64::saturating_add)
    }

    /// Revocations held and live generations.
    fn usage(&self) -> (u64, u64) {
        let table = self.read();
        let live = u64::try_from(table.len()).unwrap_or(u64::MAX);
        (Self::held(&table), live)
    }

    /// The current table, without taking a lock.
    fn read(&self) -> Guard<Arc<Vec<Arc<Generation>>>> {
        self.generations.load()
    }

    /// Replaces the table with `change` applied to a copy of it. Writers are
    /// serialized; lookups keep reading the old table until the new one is
    /// published.
    fn update<R>(&self, change: impl FnOnce(&mut Vec<Arc<Generation>>) -> R) -> R {
        // Nothing panics while the mutex is held, so a poisoned one is still good.
        let _writer = self.structure.lock().unwrap_or_else(|e| e.into_inner());
        let mut table = Vec::clone(&self.generations.load());
        let result = change(&mut table);
        self.generations.store(Arc::new(table));
        result
    }

    /// The live generation for `bucket`, if any.
    fn generation(&self, bucket: u64) -> Option<Arc<Generation>> {
        let table = self.read();
        let i = table.binary_search_by_key(&bucket, |g| g.bucket).ok()?;
        table.get(i).cloned()
    }

    /// Creates the generation for `bucket`, or returns the one another thread
    /// created meanwhile. The first sub-filter is built before the write lock
    /// is taken.
    fn add_generation(&self, bucket: u64) -> Arc<Generation> {
        let (held, live) = self.usage();
        let expected = self.share(held, live.saturating_add(1));
        let fresh = Arc::new(Generation {
            bucket,
            first: SubFilter::new(
                MIN_SUB_CAPACITY,
                self.budget_part(self.fp_rate, MIN_SUB_CAPACITY, expected),
            ),
        });
        self.update(
            |table| match table.binary_search_by_key(&bucket, |g| g.bucket) {
                Ok(i) => table.get(i).cloned().unwrap_or(fresh),
                Err(i) => {
                    table.insert(i, Arc::clone(&fresh));
                    fresh
                }
            },
        )
    }

    /// A generation's share of the capacity not yet used by the `held`
    /// revocations, split evenly over `live` generations.
    fn share(&self, held: u64, live: u64) -> u64 {
        self.capacity.saturating_sub(held) / live.max(1)
    }

    /// The part of `unspent` false-positive budget a sub-filter for `size` ids
    /// takes when `expected` more ids are expected in its generation: in
    /// proportion, never more than half (so the parts add up to less than the
    /// whole) and never less than [`MIN_BUDGET_SHARE`] (so a huge capacity
    /// does not make the first sub-filters huge).
    fn budget_part(&self, unspent: f64, size: u64, expected: u64) -> f64 {
        let part = (size as f64 / expected.max(1) as f64).clamp(MIN_BUDGET_SHARE, MAX_BUDGET_SHARE);
        // A zero target would ask for an unbounded filter. The unspent budget
        // at most halves per sub-filter, so at 1% the floor is over forty
        // sub-filters deep in one generation (2^40 times its capacity), where
        // it overspends by 1e-18 each.
        (unspent * part).max(MIN_FP_TARGET)
    }

    /// The next sub-filter for `generation`, now full: sized for the
    /// generation's share of the unused capacity, between a quarter and all of
    /// what it holds (doubling past capacity), with its part of the unspent
    /// budget.
    fn plan_growth(&self, generation: &Generation, held: u64, live: u64) -> SubFilter {
        let holds = generation.held();
        let expected = if held < self.capacity {
            self.share(held, live)
        } else {
            holds
        };
        let size = expected.clamp(holds / 4, holds).max(MIN_SUB_CAPACITY);
        let spent: f64 = generation.chain().map(|s| s.fp_target).sum();
        let unspent = (self.fp_rate - spent).max(0.0);
        SubFilter::new(size, self.budget_part(unspent, size, expected))
    }
}

impl Generation {
    fn chain(&self) -> impl Iterator<Item = &SubFilter> {
        std::iter::successors(Some(&self.first), |s| s.next.get().map(|b| &**b))
    }

    fn contains(&self, id: &SessionId) -> bool {
        self.chain().any(|s| s.contains(id))
    }

    fn held(&self) -> u64 {
        self.chain()
            .map(|s| s.count.load(Ordering::Relaxed))
            .fold(0, u64::saturating_add)
    }
}

impl SubFilter {
    /// An empty sub-filter for at least `capacity` ids at false-positive rate
    /// `fp_target`: as many as its whole blocks hold at that rate.
    fn new(capacity: u64, fp_target: f64) -> SubFilter {
        let (k, per_block) = design(fp_target);
        // Float to integer casts saturate; at least one block.
        let blocks = ((capacity as f64 / per_block).ceil() as usize).max(1);
        let capacity = capacity.max((blocks as f64 * per_block) as u64);
        SubFilter::with_blocks(
            (0..blocks).map(|_| Block::default()).collect(),
            k,
            capacity,
            fp_target,
            0,
        )
    }

    fn with_blocks(
        blocks: Box<[Block]>,
        k: u32,
        capacity: u64,
        fp_target: f64,
        count: u64,
    ) -> SubFilter {
        SubFilter {
            blocks,
            k,
            capacity,
            fp_target,
            count: AtomicU64::new(count),
            next: OnceLock::new(),
        }
    }

    /// Takes one of the free slots, if any. `Relaxed`: the count publishes no
    /// data; it only decides when to grow.
    fn try_reserve(&self) -> bool {
        self.count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok()
    }

    /// The block for `id` and its bit positions (the low bits of the id).
    fn locate(&self, id: &SessionId) -> Option<(&Block, u128)> {
        let bits = u128::from_le_bytes(id.0);
        let high = (bits >> 64) as u64;
        let blocks = self.blocks.len() as u64;
        // Multiply-shift: uniform over `0..blocks`, always in range.
        let index = ((u128::from(high) * u128::from(blocks)) >> 64) as usize;
        Some((self.blocks.get(index)?, bits))
    }

    fn contains(&self, id: &SessionId) -> bool {
        let Some((block, mut positions)) = self.locate(id) else {
            return false;
        };
        for _ in 0..self.k {
            let bit = (positions % u128::from(BLOCK_BITS)) as usize;
            positions >>= 9;
            // `bit / 64` is at most 7: the index cannot fail.
            if block.0[bit / 64].load(Ordering::Relaxed) & (1 << (bit % 64)) == 0 {
                return false;
            }
        }
        true
    }

    fn insert(&self, id: &SessionId) {
        let Some((block, mut positions)) = self.locate(id) else {
            return;
        };
        let mut masks = [0u64; BLOCK_WORDS];
        for _ in 0..self.k {
            let bit = (positions % u128::from(BLOCK_BITS)) as usize;
            positions >>= 9;
            // As in `contains`, `bit / 64` is at most 7.
            masks[bit / 64] |= 1 << (bit % 64);
        }
        for (word, mask) in block.0.iter().zip(masks) {
            if mask != 0 {
                word.fetch_or(mask, Ordering::Relaxed);
            }
        }
    }
}

/// Bit positions per id and ids per block for a blocked filter whose rate,
/// when full, is at most `fp_target`: the `k` that packs the most ids.
fn design(fp_target: f64) -> (u32, f64) {
    // The best `k` for a blocked filter lies a little below the classic
    // `log2(1 / fp_target)`: try the few just under it (or the largest).
    let classic = (-fp_target.log2()).ceil().clamp(1.0, f64::from(MAX_K)) as u32;
    let mut best = (MAX_K, 0.0);
    for k in classic.saturating_sub(4).max(1)..=classic {
        // The rate grows with the load: bisect for the largest load that meets
        // the target, below the load an unblocked filter would reach (blocks
        // only do worse), to a relative precision of 2^-18.
        let set_fraction = fp_target.powf(1.0 / f64::from(k));
        let unblocked = -f64::from(BLOCK_BITS) / f64::from(k) * (-set_fraction).ln_1p();
        let (mut low, mut high) = (0.0f64, unblocked.min(f64::from(BLOCK_BITS)));
        for _ in 0..18 {
            let mid = (low + high) / 2.0;
            if blocked_fp_rate(mid, k) <= fp_target {
                low = mid;
            } else {
                high = mid;
            }
        }
        if low > best.1 {
            best = (k, low);
        }
    }
    // Below the budget floor (`MIN_FP_TARGET`) so little fits a block that the
    // bisection cannot see it; never reached, but no division by zero.
    if best.1 < 1e-3 {
        (MAX_K, 1e-3)
    } else {
        best
    }
}

/// False-positive rate of a blocked Bloom filter holding `load` ids per
/// 512-bit block on average, `k` positions per id (independent, so possibly
/// repeated, as the id bits give them): the Poisson-weighted rate over the
/// number of ids in the probed block.
fn blocked_fp_rate(load: f64, k: u32) -> f64 {
    let k_int = i32::try_from(k).unwrap_or(i32::MAX);
    // Probability that one given bit stays clear after one id is added.
    let clear_per_id = (1.0 - 1.0 / f64::from(BLOCK_BITS)).powi(k_int);
    let mut poisson = (-load).exp();
    let mut clear = 1.0f64;
    let mut rate = 0.0;
    let last = (load + 10.0 * load.sqrt() + 20.0) as u32;
    for ids in 0..=last {
        rate += poisson * (1.0 - clear).powi(k_int);
        clear *= clear_per_id;
        poisson *= load / f64::from(ids + 1);
    }
    rate
}

impl RevocationFilter {
    /// A versioned binary snapshot with a CRC-32 integrity check; the format is
    /// in docs/FORMAT.md. Revocations made while it is taken may or may not be
    /// in it.
    pub fn to_snapshot(&self) -> Vec<u8> {
        let table = self.read();
        let mut out = Vec::new();
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.push(SNAPSHOT_VERSION);
        out.extend_from_slice(&self.capacity.to_le_bytes());
        out.extend_from_slice(&self.fp_rate.to_bits().to_le_bytes());
        out.extend_from_slice(&(table.len() as u64).to_le_bytes());
        for generation in table.iter() {
            out.extend_from_slice(&generation.bucket.to_le_bytes());
            out.extend_from_slice(&(generation.chain().count() as u64).to_le_bytes());
            for sub in generation.chain() {
                out.extend_from_slice(&sub.capacity.to_le_bytes());
                let count = sub.count.load(Ordering::Relaxed);
                out.extend_from_slice(&count.to_le_bytes());
                out.extend_from_slice(&sub.fp_target.to_bits().to_le_bytes());
                out.extend_from_slice(&sub.k.to_le_bytes());
                out.extend_from_slice(&(sub.blocks.len() as u64).to_le_bytes());
                for word in sub.blocks.iter().flat_map(|b| &b.0) {
                    out.extend_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
                }
            }
        }
        let check = crc32(&out);
        out.extend_from_slice(&check.to_le_bytes());
        out
    }

    /// Loads a snapshot made by [`to_snapshot`](Self::to_snapshot), with the
    /// capacity, rate and revocations it was taken with.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptSnapshot`] for anything that is not an intact snapshot
    /// of this version: wrong magic or version, failed check, truncated, extra
    /// bytes, or values out of range. Never a partial or empty filter.
    /// Allocation is bounded by the length of `bytes`.
    pub fn from_snapshot(bytes: &[u8]) -> Result<RevocationFilter, Error> {
        let (content, check) = bytes
            .split_last_chunk::<CHECK_LEN>()
            .ok_or(Error::CorruptSnapshot)?;
        if crc32(content) != u32::from_le_bytes(*check) {
            return Err(Error::CorruptSnapshot);
        }
        let mut input = Reader(content);
        if input.take(SNAPSHOT_MAGIC.len())? != SNAPSHOT_MAGIC
            || input.take(1)? != [SNAPSHOT_VERSION]
        {
            return Err(Error::CorruptSnapshot);
        }
        let capacity = input.u64()?;
        let fp_rate = input.f64()?;
        let capacity = usize::try_from(capacity).map_err(|_| Error::CorruptSnapshot)?;
        let filter = RevocationFilter::new(capacity, fp_rate);
        if filter.capacity != capacity as u64 || filter.fp_rate.to_bits() != fp_rate.to_bits() {
            return Err(Error::CorruptSnapshot);
        }
        let generations = input.count(GENERATION_MIN_BYTES)?;
        let mut table = Vec::with_capacity(generations);
        for _ in 0..generations {
            let generation = input.generation()?;
            if table
                .last()
                .is_some_and(|g: &Arc<Generation>| g.bucket >= generation.bucket)
            {
                return Err(Error::CorruptSnapshot);
            }
            table.push(Arc::new(generation));
        }
        if !input.0.is_empty() {
            return Err(Error::CorruptSnapshot);
        }
        filter.generations.store(Arc::new(table));
        Ok(filter)
    }
}

/// Bytes of the smallest generation and sub-filter records, to bound counts by
/// the input before allocating for them.
const SUB_FILTER_MIN_BYTES: usize = 8 + 8 + 8 + 4 + 8 + BLOCK_BYTES;
const GENERATION_MIN_BYTES: usize = 8 + 8 + SUB_FILTER_MIN_BYTES;

/// Reads a snapshot front to back; every read fails on missing bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.0.len() {
            return Err(Error::CorruptSnapshot);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(Error::CorruptSnapshot)?;
        self.0 = rest;
        Ok(*head)
    }

    fn u64(&mut self) -> Result<u64, Error> {
        self.array().map(u64::from_le_bytes)
    }

    fn f64(&mut self) -> Result<f64, Error> {
        self.u64().map(f64::from_bits)
    }

    /// A count of records of at least `min_bytes` each, refused if the rest of
    /// the input could not hold them.
    fn count(&mut self, min_bytes: usize) -> Result<usize, Error> {
        let count = usize::try_from(self.u64()?).map_err(|_| Error::CorruptSnapshot)?;
        match count.checked_mul(min_bytes) {
            Some(needed) if needed <= self.0.len() => Ok(count),
            _ => Err(Error::CorruptSnapshot),
        }
    }

    fn generation(&mut self) -> Result<Generation, Error> {
        let bucket = self.u64()?;
        let subs = self.count(SUB_FILTER_MIN_BYTES)?;
        let mut chain = Vec::with_capacity(subs);
        for _ in 0..subs {
            chain.push(self.sub_filter()?);
        }
        // Link newest to oldest; the oldest is the generation's `first`.
        let mut first: Option<SubFilter> = None;
        for sub in chain.into_iter().rev() {
            if let Some(newer) = first.take() {
                sub.next
                    .set(Box::new(newer))
                    .map_err(|_| Error::CorruptSnapshot)?;
            }
            first = Some(sub);
        }
        let first = first.ok_or(Error::CorruptSnapshot)?;
        Ok(Generation { bucket, first })
    }

    fn sub_filter(&mut self) -> Result<SubFilter, Error> {
        let capacity = self.u64()?;
        let count = self.u64()?;
        let fp_target = self.f64()?;
        let k = u32::from_le_bytes(self.array()?);
        let blocks = self.count(BLOCK_BYTES)?;
        let valid = capacity >= 1
            && count <= capacity
            && fp_target > 0.0
            && fp_target <= MAX_FP_RATE
            && (1..=MAX_K).contains(&k)
            && blocks >= 1;
        if !valid {
            return Err(Error::CorruptSnapshot);
        }
        // `count` checked that the blocks are all there.
        let blocks = (0..blocks)
            .map(|_| {
                let mut block = Block::default();
                for word in &mut block.0 {
                    *word.get_mut() = self.u64()?;
                }
                Ok(block)
            })
            .collect::<Result<_, Error>>()?;
        Ok(SubFilter::with_blocks(
            blocks, k, capacity, fp_target, count,
        ))
    }
}

impl RevocationFilter {
    /// Writes a snapshot to `path` atomically (temporary file, fsync, rename;
    /// mode 0600): a reader never sees a half-written snapshot.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be written; the previous file is then intact.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        Ok(crate::files::write_atomic(
            path.as_ref(),
            &self.to_snapshot(),
        )?)
    }

    /// Reads a snapshot from `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read, [`Error::CorruptSnapshot`] if
    /// it is not an intact snapshot or is longer than [`MAX_SNAPSHOT_LEN`]
    /// (checked while reading, so a huge file is never read whole).
    pub fn load(path: impl AsRef<Path>) -> Result<RevocationFilter, Error> {
        let file = std::fs::File::open(path)?;
        let mut bytes = Vec::new();
        file.take(MAX_SNAPSHOT_LEN as u64 + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() > MAX_SNAPSHOT_LEN {
            return Err(Error::CorruptSnapshot);
        }
        RevocationFilter::from_snapshot(&bytes)
    }
}

impl fmt::Debug for RevocationFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = self.read();
        f.debug_struct("RevocationFilter")
            .field("capacity", &self.capacity)
            .field("fp_rate", &self.fp_rate)
            .field("generations", &table.len())
            .field("held", &Self::held(&table))
            .finish()
    }
}

/// CRC-32 (IEEE 802.3, reflected), a byte at a time from a table built at
/// compile time.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &byte in bytes {
        crc = (crc >> 8) ^ TABLE[usize::from((crc as u8) ^ byte)];
    }
    !crc
}

/// The deterministic ids the integration tests and the bench use.
#[cfg(test)]
#[allow(dead_code)] // `T0` and `revocations` serve the integration tests.
#[path = "../tests/support/ids.rs"]
mod test_ids;

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_ids::Rng as Ids;

    /// The generation for `bucket`.
    fn generation_of(f: &RevocationFilter, bucket: u64) -> Arc<Generation> {
        f.generation(bucket).expect("a live generation")
    }

    #[test]
    fn a_new_generation_starts_with_one_small_sub_filter_at_half_the_rate() {
        // Capacity 10 is below the first sub-filter's 64 ids, so that
        // sub-filter takes the largest part of the budget: half of 1%.
        let f = RevocationFilter::new(10, 0.01);
        f.revoke(SessionId([1; 16]), 5);
        f.revoke(SessionId([2; 16]), 6);
        f.revoke(SessionId([9; 16]), 7200);
        assert_eq!(
            format!("{f:?}"),
            "RevocationFilter { capacity: 10, fp_rate: 0.01, generations: 2, held: 3 }"
        );
        let (k, per_block) = design(0.005);
        // 64 ids at 0.5% need two blocks (about 44.5 ids each); the
        // sub-filter then holds what two whole blocks hold.
        assert_eq!(k, 7);
        assert_eq!((64.0 / per_block).ceil(), 2.0);
        for (bucket, count) in [(0, 2), (2, 1)] {
            let g = generation_of(&f, bucket);
            assert_eq!(g.chain().count(), 1);
            let s = &g.first;
            assert_eq!((s.k, s.blocks.len(), s.fp_target), (7, 2, 0.005));
            assert_eq!(s.capacity, (2.0 * per_block) as u64);
            assert_eq!(s.capacity, 89);
            assert_eq!(s.count.load(Ordering::Relaxed), count);
        }
        assert!(f.generation(1).is_none());
        // Header 29 bytes, then per generation 16 and per sub-filter 36 bytes
        // plus its blocks, then the 4-byte check.
        assert_eq!(f.to_snapshot().len(), 29 + 2 * (16 + 36 + 2 * 64) + 4);
    }

    #[test]
    fn a_sub_filter_takes_exactly_its_capacity_in_slots() {
        let s = SubFilter::with_blocks(vec![Block::default()].into(), 3, 3, 0.01, 0);
        assert!(s.try_reserve() && s.try_reserve() && s.try_reserve());
        assert!(!s.try_reserve());
        assert!(!s.try_reserve());
        assert_eq!(s.count.load(Ordering::Relaxed), 3);
        let full = SubFilter::with_blocks(vec![Block::default()].into(), 3, 5, 0.01, 5);
        assert!(!full.try_reserve());
    }

    /// An id whose block index bits are `high` and whose low bits give the
    /// nine-bit positions `positions`, first position lowest.
    fn id_at(high: u64, positions: &[u32]) -> SessionId {
        let mut bits = u128::from(high) << 64;
        for (i, &p) in positions.iter().enumerate() {
            bits |= u128::from(p) << (9 * i);
        }
        SessionId(bits.to_le_bytes())
    }

    fn words(block: &Block) -> [u64; BLOCK_WORDS] {
        std::array::from_fn(|i| block.0[i].load(Ordering::Relaxed))
    }

    #[test]
    fn an_id_sets_exactly_its_k_bits_in_the_block_its_high_bits_pick() {
        let blocks = || (0..4).map(|_| Block::default()).collect();
        let s = SubFilter::with_blocks(blocks(), 3, 100, 0.01, 0);
        // The top quarter of the high bits picks the last of four blocks.
        let id = id_at(u64::MAX, &[5, 64 + 7, 511]);
        s.insert(&id);
        for (i, block) in s.blocks.iter().enumerate() {
            let expected = if i == 3 {
                [1 << 5, 1 << 7, 0, 0, 0, 0, 0, 1 << 63]
            } else {
                [0; BLOCK_WORDS]
            };
            assert_eq!(words(block), expected, "block {i}");
        }
        assert!(s.contains(&id));
        // Bits past the first k positions are not positions.
        assert!(s.contains(&SessionId(
            (u128::from_le_bytes(id.0) | (0x7ff << 27)).to_le_bytes()
        )));
        // One position off, or another block: not there.
        assert!(!s.contains(&id_at(u64::MAX, &[5, 64 + 7, 510])));
        assert!(!s.contains(&id_at(u64::MAX, &[4, 64 + 7, 511])));
        assert!(!s.contains(&id_at(u64::MAX, &[5, 64 + 6, 511])));
        assert!(!s.contains(&id_at(0, &[5, 64 + 7, 511])));

        // Multiply-shift: each quarter of the high bits picks its own block.
        for (high, index) in [
            (0, 0),
            ((1 << 62) - 1, 0),
            (1 << 62, 1),
            (u64::MAX / 2, 1),
            (1 << 63, 2),
            (3 << 62, 3),
        ] {
            let s = SubFilter::with_blocks(blocks(), 2, 100, 0.01, 0);
            let id = id_at(high, &[100, 200]);
            s.insert(&id);
            let set: Vec<usize> = (0..4).filter(|&i| words(&s.blocks[i]) != [0; 8]).collect();
            assert_eq!(set, [index], "high bits {high:#x}");
            assert_eq!(words(&s.blocks[index])[1..4], [1 << 36, 0, 1 << 8]);
            assert!(s.contains(&id));
        }
    }

    #[test]
    fn the_design_is_the_densest_over_every_k() {
        // The largest load each `k` can take at `target`, found by a finer
        // bisection than `design`'s, over the whole block.
        fn densest(target: f64, k: u32) -> f64 {
            let (mut low, mut high) = (0.0f64, f64::from(BLOCK_BITS));
            for _ in 0..60 {
                let mid = (low + high) / 2.0;
                if blocked_fp_rate(mid, k) <= target {
                    low = mid;
                } else {
                    high = mid;
                }
            }
            low
        }
        let targets = [
            0.5, 0.3, 0.25, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 1e-4, 1e-5, 1e-6, 1e-7,
            1e-9,
        ];
        for target in targets {
            let (k, per_block) = design(target);
            assert!(blocked_fp_rate(per_block, k) <= target, "{target}");
            // Within `design`'s precision of the densest load for its `k`:
            // 2^-18 of its bisection's interval, whose upper end (the
            // unblocked filter's load) is less than twice the answer.
            let error = 1.0 - per_block / densest(target, k);
            assert!((0.0..0.5f64.powi(17)).contains(&error), "{target}: {error}");
            // ...and no other `k` packs more ids.
            for other in 1..=MAX_K {
                assert!(
                    densest(target, other) <= per_block * (1.0 + 1e-4),
                    "{target}: k = {other} beats k = {k}"
                );
            }
        }
        assert_eq!(design(0.5).0, 1);
        assert_eq!(design(0.01).0, 6);
        assert_eq!(design(1e-5).0, MAX_K);
    }

    #[test]
    fn blocked_rate_matches_its_closed_form() {
        // With `n` ids in the probed block (Poisson with mean `load`), a given
        // bit stays clear with probability `c^n`, `c = (1 - 1/512)^k`, so the
        // rate is `E[(1 - c^n)^k]` = `sum_j C(k, j) (-1)^j exp(-load (1 - c^j))`.
        for k in 1..=MAX_K {
            let c = (1.0 - 1.0 / f64::from(BLOCK_BITS)).powi(k as i32);
            for load in [0.001, 0.5, 1.0, 10.0, 44.5, 100.0, 354.9, 512.0] {
                let mut binomial = 1.0;
                let mut exact = 0.0;
                for j in 0..=k {
                    let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
                    exact += sign * binomial * (-load * (1.0 - c.powi(j as i32))).exp();
                    binomial = binomial * f64::from(k - j) / f64::from(j + 1);
                }
                let rate = blocked_fp_rate(load, k);
                assert!(
                    (rate - exact).abs() <= 1e-12 + exact.abs() * 1e-7,
                    "k {k}, load {load}: {rate} against {exact}"
                );
            }
        }
    }

    /// Checks every sub-filter of `generation` against the growth rules in
    /// the module docs, given the revocations held in other generations
    /// (`elsewhere`) and the live generations (`live`, this one included)
    /// while it grew. Returns how often each sizing bound decided a size:
    /// (the lower bound, the upper bound, past capacity).
    fn check_growth(
        f: &RevocationFilter,
        generation: &Generation,
        elsewhere: u64,
        live: u64,
    ) -> (usize, usize, usize) {
        let mut bounds = (0, 0, 0);
        let mut holds = 0u64;
        let mut spent = 0.0;
        let subs: Vec<&SubFilter> = generation.chain().collect();
        for (i, s) in subs.iter().enumerate() {
            let held = elsewhere + holds;
            let share = f.capacity.saturating_sub(held) / live;
            let (size, expected) = if i == 0 {
                (MIN_SUB_CAPACITY, share)
            } else if held < f.capacity {
                if share < holds / 4 {
                    bounds.0 += 1;
                } else if share > holds {
                    bounds.1 += 1;
                }
                (share.clamp(holds / 4, holds).max(MIN_SUB_CAPACITY), share)
            } else {
                bounds.2 += 1;
                (holds, holds)
            };
            let part = (size as f64 / expected.max(1) as f64).clamp(1.0 / 1024.0, 0.5);
            let target = ((f.fp_rate - spent) * part).max(MIN_FP_TARGET);
            assert_eq!(s.fp_target, target, "sub-filter {i}");
            let (k, per_block) = design(target);
            let blocks = (size as f64 / per_block).ceil() as usize;
            assert_eq!((s.k, s.blocks.len()), (k, blocks), "sub-filter {i}");
            assert_eq!(s.capacity, size.max((blocks as f64 * per_block) as u64));
            let count = s.count.load(Ordering::Relaxed);
            if i + 1 < subs.len() {
                assert_eq!(count, s.capacity, "sub-filter {i} grew before it was full");
            } else {
                assert!(count >= 1 && count <= s.capacity);
            }
            holds += count;
            spent += s.fp_target;
        }
        assert!(spent < f.fp_rate, "{spent}");
        assert_eq!(generation.held(), holds);
        bounds
    }

    #[test]
    fn one_generation_grows_by_its_share_then_doubles_past_capacity() {
        // Capacity 89 is what the first sub-filter holds: at the first growth
        // exactly the capacity is held, and the generation doubles.
        for (capacity, ids) in [(1000, 3000), (89, 400), (100_000, 2000)] {
            let f = RevocationFilter::new(capacity, 0.01);
            let mut rng = Ids(u64::try_from(capacity).unwrap());
            let revoked: Vec<SessionId> = (0..ids).map(|_| rng.id()).collect();
            for id in &revoked {
                f.revoke(*id, 7);
            }
            assert!(revoked.iter().all(|id| f.is_revoked(*id, 7)));
            let g = generation_of(&f, 0);
            let bounds = check_growth(&f, &g, 0, 1);
            // What each case is there for.
            match capacity {
                1000 => assert!(bounds.0 > 0 && bounds.1 > 0 && bounds.2 > 0, "{bounds:?}"),
                89 => assert_eq!(g.first.capacity, 89),
                _ => assert!(bounds.1 > 0, "{bounds:?}"),
            }
        }
    }

    #[test]
    fn a_generation_shares_the_unused_capacity_with_the_live_ones() {
        let f = RevocationFilter::new(2000, 0.01);
        let mut rng = Ids(11);
        for _ in 0..700 {
            f.revoke(rng.id(), 10);
        }
        let first = generation_of(&f, 0);
        let before = first.held();
        check_growth(&f, &first, 0, 1);
        // The second generation grows while the first holds `before` and
        // both are live.
        for _ in 0..3000 {
            f.revoke(rng.id(), 3 * BUCKET_SECS);
        }
        let second = generation_of(&f, 3);
        let bounds = check_growth(&f, &second, before, 2);
        assert!(bounds.0 > 0 && bounds.1 > 0 && bounds.2 > 0, "{bounds:?}");
        assert_eq!(
            format!("{f:?}"),
            format!(
                "RevocationFilter {{ capacity: 2000, fp_rate: 0.01, generations: 2, held: {} }}",
                before + second.held()
            )
        );
    }

    #[test]
    fn a_truncated_header_is_corrupt() {
        let f = RevocationFilter::new(1, 0.5);
        f.revoke(SessionId([1; 16]), 5);
        let snap = f.to_snapshot();
        let body = &snap[..snap.len() - CHECK_LEN];
        // A minimal filter: one generation, one sub-filter of one block.
        assert_eq!(body.len(), 29 + GENERATION_MIN_BYTES);
        let back = RevocationFilter::from_snapshot(&snap).unwrap();
        assert!(back.is_revoked(SessionId([1; 16]), 5));
        // Every prefix, re-sealed so that only the parser can refuse it.
        for len in 0..body.len() {
            assert_eq!(
                RevocationFilter::from_snapshot(&sealed(body[..len].to_vec())).err(),
                Some(Error::CorruptSnapshot),
                "len {len}"
            );
        }
        // A sub-filter without blocks.
        let mut empty = body[..body.len() - 8 - BLOCK_BYTES].to_vec();
        empty.extend_from_slice(&0u64.to_le_bytes());
        assert_eq!(
            RevocationFilter::from_snapshot(&sealed(empty)).err(),
            Some(Error::CorruptSnapshot)
        );
    }

    #[test]
    fn every_snapshot_is_one_more_than_a_multiple_of_four_bytes_long() {
        // 33 bytes of header and check, then records of 16, 36 and 64 bytes:
        // no snapshot is `MAX_SNAPSHOT_LEN` (a multiple of four) or one byte
        // shorter, so `load` reading one byte past the limit and refusing
        // what is longer never turns away a snapshot it could have read.
        assert_eq!(MAX_SNAPSHOT_LEN % 4, 0);
        let f = RevocationFilter::new(50, 0.01);
        let mut rng = Ids(5);
        for n in 0..300u64 {
            if n % 10 == 0 {
                // Kilobytes (checked first: a mis-sized filter would make
                // the snapshots below slow rather than wrong).
                assert!(f.memory_bytes() < 16 * 1024, "{}", f.memory_bytes());
                assert_eq!(f.to_snapshot().len() % 4, 1, "after {n} revocations");
            }
            f.revoke(rng.id(), n * 100);
        }
        assert_eq!(f.to_snapshot().len() % 4, 1);
    }

    #[test]
    fn record_sizes_are_the_format_s() {
        // docs/FORMAT.md: a sub-filter record is capacity, count, fp target
        // (8 bytes each), k (4), the block count (8) and at least one block;
        // a generation adds its bucket and sub-filter count (8 each).
        assert_eq!(SUB_FILTER_MIN_BYTES, 100);
        assert_eq!(GENERATION_MIN_BYTES, 116);
    }

    #[test]
    fn crc32_known_answer() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn prune_keeps_revocations_through_the_leeway() {
        let f = RevocationFilter::new(10, 0.01);
        let id = SessionId([3; 16]);
        // Bucket 0 holds deadlines 0..=3599.
        f.revoke(id, 1000);
        f.prune(3599 + 3600);
        assert!(f.is_revoked(id, 1000));
        f.prune(3599 + 3601);
        assert!(!f.is_revoked(id, 1000));
    }

    #[test]
    fn is_expired_never_overflows_at_the_end_of_time() {
        assert!(!is_expired(bucket_of(u64::MAX), u64::MAX - 1));
        assert!(!is_expired(bucket_of(u64::MAX), u64::MAX));
        assert!(!is_expired(bucket_of(u64::MAX - 3600), u64::MAX));
        assert!(is_expired(bucket_of(u64::MAX - 3 * 3600), u64::MAX));
        assert!(is_expired(0, 7200));
        assert!(!is_expired(0, 7199));
    }

    #[test]
    fn design_meets_its_target_with_few_bits() {
        // Blocks cost a little over the classic optimum, more at low rates.
        for (target, overhead) in [(0.01, 1.05), (0.001, 1.1), (1e-5, 1.35)] {
            let (k, per_block) = design(target);
            assert!(blocked_fp_rate(per_block, k) <= target);
            let bits_per_id = f64::from(BLOCK_BITS) / per_block;
            let optimum = -target.log2() / std::f64::consts::LN_2;
            assert!(bits_per_id < optimum * overhead, "{target}: {bits_per_id}");
        }
        // The tightest target the budget allows is met; unreachable ones get
        // the sparsest design.
        let (k, per_block) = design(MIN_FP_TARGET);
        assert!(blocked_fp_rate(per_block, k) <= MIN_FP_TARGET);
        assert!(per_block > 1e-3, "{per_block}");
        assert_eq!(design(1e-300), (MAX_K, 1e-3));
    }

    #[test]
    fn blocked_rate_matches_the_textbook_limits() {
        assert_eq!(blocked_fp_rate(0.0, 3), 0.0);
        // One id per block with one bit: a random probe hits it 1/512 of the time.
        let one = blocked_fp_rate(1e-9, 1) / 1e-9;
        assert!((one - 1.0 / 512.0).abs() < 1e-6, "{one}");
    }

    #[test]
    fn an_empty_filter_allocates_nothing_and_a_huge_one_starts_small() {
        let f = RevocationFilter::new(usize::MAX, f64::NAN);
        // The struct and the empty table's Arc: reference counts and the Vec.
        let empty_table = 2 * size_of::<usize>() + size_of::<Vec<Arc<Generation>>>();
        assert_eq!(
            f.memory_bytes(),
            size_of::<RevocationFilter>() + empty_table
        );
        assert!(!f.is_revoked(SessionId([0; 16]), 0));
        f.revoke(SessionId([1; 16]), 0);
        assert!(f.is_revoked(SessionId([1; 16]), 0));
        assert!(f.memory_bytes() < 1024, "{}", f.memory_bytes());
    }

    #[test]
    fn every_single_byte_corruption_and_truncation_is_rejected() {
        let f = RevocationFilter::new(10, 0.01);
        f.revoke(SessionId([1; 16]), 5);
        f.revoke(SessionId([2; 16]), 6);
        f.revoke(SessionId([9; 16]), 7200);
        let snap = f.to_snapshot();
        // Two generations of one two-block sub-filter each (see
        // `a_new_generation_starts_with_one_small_sub_filter_at_half_the_rate`).
        // Checked first: the loop below parses the snapshot about 4 times
        // per byte, so a mis-sized filter would make it run for hours.
        assert_eq!(snap.len(), 393);
        for i in 0..snap.len() {
            for delta in [1u8, 0x80, 0xff] {
                let mut bad = snap.clone();
                bad[i] ^= delta;
                assert!(RevocationFilter::from_snapshot(&bad).is_err(), "byte {i}");
            }
            assert!(
                RevocationFilter::from_snapshot(&snap[..i]).is_err(),
                "len {i}"
            );
        }
        let mut longer = snap.clone();
        longer.push(0);
        assert!(RevocationFilter::from_snapshot(&longer).is_err());
        let back = RevocationFilter::from_snapshot(&snap).unwrap();
        assert!(back.is_revoked(SessionId([1; 16]), 5));
        assert!(back.is_revoked(SessionId([2; 16]), 6));
        assert!(back.is_revoked(SessionId([9; 16]), 7200));
        assert!(!back.is_revoked(SessionId([3; 16]), 6));
        assert_eq!(back.to_snapshot(), snap);
    }

    /// Re-signs a snapshot body so that only the parser's own checks can
    /// reject it.
    fn sealed(mut body: Vec<u8>) -> Vec<u8> {
        let check = crc32(&body);
        body.extend_from_slice(&check.to_le_bytes());
        body
    }

    #[test]
    fn hostile_counts_are_refused_before_allocating() {
        let mut body = Vec::new();
        body.extend_from_slice(SNAPSHOT_MAGIC);
        body.push(SNAPSHOT_VERSION);
        body.extend_from_slice(&100u64.to_le_bytes());
        body.extend_from_slice(&0.01f64.to_bits().to_le_bytes());
        // Claims 2^60 generations in a few bytes.
        let mut huge = body.clone();
        huge.extend_from_slice(&(1u64 << 60).to_le_bytes());
        assert_eq!(
            RevocationFilter::from_snapshot(&sealed(huge)).err(),
            Some(Error::CorruptSnapshot)
        );
        // One generation claiming u64::MAX sub-filters, then one sub-filter
        // claiming a huge block count.
        let mut many = body.clone();
        many.extend_from_slice(&1u64.to_le_bytes());
        many.extend_from_slice(&0u64.to_le_bytes());
        let mut subs = many.clone();
        subs.extend_from_slice(&u64::MAX.to_le_bytes());
        subs.extend_from_slice(&[0; GENERATION_MIN_BYTES]);
        assert!(RevocationFilter::from_snapshot(&sealed(subs)).is_err());
        many.extend_from_slice(&1u64.to_le_bytes());
        many.extend_from_slice(&64u64.to_le_bytes()); // capacity
        many.extend_from_slice(&0u64.to_le_bytes()); // count
        many.extend_from_slice(&0.01f64.to_bits().to_le_bytes());
        many.extend_from_slice(&4u32.to_le_bytes());
        let mut blocks = many.clone();
        blocks.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
        blocks.extend_from_slice(&[0; BLOCK_BYTES]);
        assert!(RevocationFilter::from_snapshot(&sealed(blocks)).is_err());
        // The same with one honest block parses.
        many.extend_from_slice(&1u64.to_le_bytes());
        many.extend_from_slice(&[0; BLOCK_BYTES]);
        let f = RevocationFilter::from_snapshot(&sealed(many)).unwrap();
        assert!(!f.is_revoked(SessionId([5; 16]), 10));
    }

    #[test]
    fn out_of_range_fields_are_refused_even_when_the_check_passes() {
        let f = RevocationFilter::new(100, 0.01);
        f.revoke(SessionId([4; 16]), 10);
        f.revoke(SessionId([4; 16]), 5000);
        let snap = f.to_snapshot();
        let body = &snap[..snap.len() - CHECK_LEN];
        let header = 4 + 1 + 8 + 8 + 8;
        let sub = header + 8 + 8;
        let mut cases: Vec<(usize, Vec<u8>)> = vec![
            (4, vec![0]),                                    // version 0
            (4, vec![2]),                                    // a future version
            (5, 0u64.to_le_bytes().to_vec()),                // capacity 0
            (13, f64::NAN.to_bits().to_le_bytes().to_vec()), // fp rate
            (13, 0.9f64.to_bits().to_le_bytes().to_vec()),
            (sub, 0u64.to_le_bytes().to_vec()), // sub-filter capacity 0
            (sub + 8, u64::MAX.to_le_bytes().to_vec()), // count > capacity
            (sub + 16, 0f64.to_bits().to_le_bytes().to_vec()), // fp target 0
            (sub + 24, 0u32.to_le_bytes().to_vec()), // k = 0
            (sub + 24, 11u32.to_le_bytes().to_vec()), // k > MAX_K
        ];
        // Generations out of order: give the second the first's bucket.
        let second = body.len()
            - (8 + 8 + SUB_FILTER_MIN_BYTES - BLOCK_BYTES)
            - f.read()[1].first.blocks.len() * BLOCK_BYTES;
        cases.push((second, 0u64.to_le_bytes().to_vec()));
        for (at, bytes) in cases {
            let mut bad = body.to_vec();
            bad[at..at + bytes.len()].copy_from_slice(&bytes);
            assert_eq!(
                RevocationFilter::from_snapshot(&sealed(bad)).err(),
                Some(Error::CorruptSnapshot),
                "at {at}"
            );
        }
        assert!(RevocationFilter::from_snapshot(&sealed(body.to_vec())).is_ok());
    }
}
