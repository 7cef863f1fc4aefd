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
//! * **Bounded chains.** Growth makes each new sub-filter hold at least a
//!   quarter of what its generation holds, so past [`MAX_CHAIN`] (178) links
//!   a generation would hold more ids than a `u64` counts: longer chains are
//!   never built and are refused in snapshots, which bounds every lookup.
//!   Chains are dropped link by link, never recursively.
//! * **Snapshots** are versioned, CRC-32-checked (against accidents, not
//!   tampering) and parsed with every length bounded by the input
//!   (docs/FORMAT.md); a snapshot is written in one walk of each chain, so
//!   one taken while revocations arrive always loads. `merge_snapshot` ORs or
//!   chains a snapshot's sub-filters into a live filter (merge.rs).

mod bloom;
mod merge;
mod snapshot;

use std::fmt;
use std::mem::size_of;
use std::ops::RangeInclusive;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::{ArcSwap, Guard};

use crate::claims::{SessionId, MAX_LEEWAY};
use crate::Error;

use self::bloom::{SubFilter, BLOCK_BYTES};
/// The snapshots' CRC-32, shared with subject and fleet snapshots.
#[cfg(test)]
pub(crate) use self::snapshot::crc32;
pub use self::snapshot::MAX_SNAPSHOT_LEN;
pub(crate) use self::snapshot::{open_sealed, seal};

/// Width of a generation, in seconds of deadline.
const BUCKET_SECS: u64 = 3600;

/// The longest range of deadlines [`RevocationFilter::revoke_deadlines`]
/// covers in one call (366 days: at most 8,785 deadline hours, each a
/// revocation's worth of memory), so that an absurd range is an error rather
/// than hours of inserts.
pub const MAX_REVOKE_WINDOW: Duration = Duration::from_secs(366 * 86_400);

/// The most sub-filters growth can chain in one generation (178): more are
/// refused in snapshots and never built.
///
/// A generation's first sub-filter holds at least [`MIN_SUB_CAPACITY`] ids,
/// and it grows only once its newest sub-filter is full, by one that holds at
/// least a quarter of what the generation holds (and at least
/// `MIN_SUB_CAPACITY`): what a chain holds grows by a quarter or more per
/// link. Past this length the full sub-filters alone would hold more than
/// `u64::MAX` ids, which no count reaches. A lookup that misses probes each
/// sub-filter once, so this also bounds a lookup.
const MAX_CHAIN: usize = max_chain();

/// [`MAX_CHAIN`], from the growth rules: the longest chain whose full
/// sub-filters, each as small as growth allows, hold at most `u64::MAX` ids.
const fn max_chain() -> usize {
    // A chain of `links` sub-filters, all but the newest full, holds `full`.
    let mut links = 2;
    let mut full = MIN_SUB_CAPACITY;
    loop {
        let grown = if full / 4 > MIN_SUB_CAPACITY {
            full / 4
        } else {
            MIN_SUB_CAPACITY
        };
        match full.checked_add(grown) {
            Some(more) => {
                full = more;
                links += 1;
            }
            None => return links,
        }
    }
}

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
/// `Send + Sync`: share it behind an `Arc`. Lookups and inserts load the
/// generation table without a lock and set and test atomic words, so they
/// never wait for each other or for a writer; adding or pruning a generation
/// (and a merge that adds one) takes a mutex that only such writers contend
/// on, and publishes a new table. Never reads the clock: `prune` is told the
/// time.
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
        self.revoke_in(bucket_of(deadline), id);
    }

    /// Revokes session `id` for every deadline in `deadlines` (unix seconds,
    /// both ends included), for when its exact deadline is not known: a
    /// session id copied from a log, say. Returns how many deadline hours
    /// (generations) it was written to: one insert each.
    ///
    /// A lookup probes only the hour of the token's own deadline, so a
    /// revocation made with the wrong deadline does nothing; this one takes
    /// effect whatever the session's deadline is within the range. It costs
    /// one revocation's worth of the filter per hour of the range (a slot in
    /// each hour's sub-filters, and a new generation for an hour that had
    /// none), and each of those hours keeps it until that hour is pruned.
    /// [`Verifier::revoke_id_any`](crate::Verifier::revoke_id_any) picks the
    /// range from a policy.
    ///
    /// An empty range (`start > end`) revokes nothing and returns 0.
    ///
    /// # Errors
    ///
    /// [`Error::RevocationWindow`] if the range is longer than
    /// [`MAX_REVOKE_WINDOW`]; nothing is revoked then.
    ///
    /// ```
    /// use tessera::{RevocationFilter, SessionId};
    ///
    /// let filter = RevocationFilter::new(10_000, 0.001);
    /// let id = SessionId([7; 16]);
    /// // Deadline somewhere in the next 12 hours: 13 deadline hours.
    /// let now = 1_750_000_000;
    /// assert_eq!(filter.revoke_deadlines(id, now..=now + 12 * 3600)?, 13);
    /// assert!(filter.is_revoked(id, now + 5 * 3600 + 17));
    /// # Ok::<(), tessera::Error>(())
    /// ```
    pub fn revoke_deadlines(
        &self,
        id: SessionId,
        deadlines: RangeInclusive<u64>,
    ) -> Result<u64, Error> {
        let (earliest, latest) = deadlines.into_inner();
        if earliest > latest {
            return Ok(0);
        }
        if latest - earliest > MAX_REVOKE_WINDOW.as_secs() {
            return Err(Error::RevocationWindow);
        }
        let (first, last) = (bucket_of(earliest), bucket_of(latest));
        self.add_generations(first, last);
        for bucket in first..=last {
            self.revoke_in(bucket, id);
        }
        Ok(last - first + 1)
    }

    /// Revokes `id` in the generation for `bucket`.
    fn revoke_in(&self, bucket: u64, id: SessionId) {
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
        // The position of `sub` in the chain, from 1.
        let mut link = 1;
        loop {
            // The oldest sub-filter with a free slot takes the id. Growth
            // fills one sub-filter before chaining the next, but a merge may
            // chain another filter's (closed) sub-filters after one of ours
            // that still has room.
            if sub.try_reserve() {
                sub.insert(&id);
                return;
            } else if let Some(next) = sub.next.get() {
                sub = next;
                link += 1;
            } else if link >= MAX_CHAIN {
                // Growth alone never gets here (such a chain would hold more
                // ids than a count can say); a hostile snapshot or many
                // merges can. The id goes into the full sub-filter (raising
                // its rate, never losing the id), so the chain, and lookups,
                // stay bounded.
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
        let fresh = Arc::new(self.new_generation(bucket, self.share(held, live.saturating_add(1))));
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

    /// An empty generation for `bucket`, expected to get `expected` ids: its
    /// first, small sub-filter takes its part of the whole budget.
    fn new_generation(&self, bucket: u64, expected: u64) -> Generation {
        Generation {
            bucket,
            first: SubFilter::new(
                MIN_SUB_CAPACITY,
                self.budget_part(self.fp_rate, MIN_SUB_CAPACITY, expected),
            ),
        }
    }

    /// Creates the generations for the buckets of `first..=last` that have
    /// none, in one change of the table (one at a time would copy the table
    /// once per bucket). Each is sized as if created alone with all the new
    /// ones live.
    fn add_generations(&self, first: u64, last: u64) {
        let missing: Vec<u64> = {
            let table = self.read();
            (first..=last)
                .filter(|b| table.binary_search_by_key(b, |g| g.bucket).is_err())
                .collect()
        };
        if missing.is_empty() {
            return;
        }
        let (held, live) = self.usage();
        let new = u64::try_from(missing.len()).unwrap_or(u64::MAX);
        let expected = self.share(held, live.saturating_add(new));
        let fresh: Vec<Arc<Generation>> = missing
            .into_iter()
            .map(|bucket| Arc::new(self.new_generation(bucket, expected)))
            .collect();
        self.update(|table| {
            // Those another thread created meanwhile stay as they are.
            let fresh: Vec<Arc<Generation>> = fresh
                .into_iter()
                .filter(|g| table.binary_search_by_key(&g.bucket, |t| t.bucket).is_err())
                .collect();
            table.extend(fresh);
            table.sort_unstable_by_key(|g| g.bucket);
        });
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
    ///
    /// Sub-filters a merge took from a snapshot are not counted: they came
    /// with their own budget, and this filter's revocations keep growing its
    /// own chain as if they were not there. Nor can the unspent budget fall
    /// below half per link of the chain: growth alone never gets there (each
    /// sub-filter takes at most half of what is unspent), but a reloaded
    /// chain holding another filter's sub-filters may have spent more than
    /// the whole rate, and its next sub-filters would otherwise be sized for
    /// the tightest rate (tens of thousands of bits per id).
    fn plan_growth(&self, generation: &Generation, held: u64, live: u64) -> SubFilter {
        let own = || generation.chain().filter(|s| !s.merged);
        let holds = own()
            .map(|s| s.count.load(Ordering::Relaxed))
            .fold(0, u64::saturating_add);
        let expected = if held < self.capacity {
            self.share(held, live)
        } else {
            holds
        };
        let size = expected.clamp(holds / 4, holds).max(MIN_SUB_CAPACITY);
        let spent: f64 = own().map(|s| s.fp_target).sum();
        let links = i32::try_from(generation.chain().count()).unwrap_or(i32::MAX);
        let floor = self.fp_rate * 0.5f64.powi(links);
        let unspent = (self.fp_rate - spent).max(floor);
        SubFilter::new(size, self.budget_part(unspent, size, expected))
    }
}

impl Generation {
    /// The generation for `bucket` whose chain is `chain`, oldest first;
    /// `None` for an empty chain.
    fn from_chain(bucket: u64, chain: Vec<SubFilter>) -> Option<Generation> {
        // Link newest to oldest; the oldest is the generation's `first`.
        let mut first: Option<SubFilter> = None;
        for sub in chain.into_iter().rev() {
            if let Some(newer) = first.take() {
                sub.next.set(Box::new(newer)).ok()?;
            }
            first = Some(sub);
        }
        Some(Generation {
            bucket,
            first: first?,
        })
    }

    /// The sub-filters of the chain, oldest first, unlinked.
    fn into_chain(self) -> Vec<SubFilter> {
        let mut chain = Vec::new();
        let mut sub = self.first;
        loop {
            let next = sub.next.take();
            chain.push(sub);
            match next {
                Some(next) => sub = *next,
                None => return chain,
            }
        }
    }

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

/// The deterministic ids the integration tests and the bench use.
#[cfg(test)]
#[allow(dead_code)] // `T0` and `revocations` serve the integration tests.
#[path = "../../tests/support/ids.rs"]
mod test_ids;

#[cfg(test)]
mod tests;
