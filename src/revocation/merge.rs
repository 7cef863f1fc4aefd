//! Merging a snapshot into a live filter: a union of revocations.
//!
//! A Bloom filter keeps bits, not ids, so nothing can be re-inserted: the
//! snapshot's sub-filters are combined with the live ones as they are. For
//! each generation of the snapshot:
//!
//! * a deadline hour the live filter has no generation for takes the
//!   snapshot's whole chain;
//! * otherwise each of the snapshot's sub-filters is compared with the live
//!   sub-filters of the same geometry (block count, `k` and capacity, so an
//!   id has the same bits in both): if one already holds all its bits, there
//!   is nothing to do; if one holds a subset of its bits (an older copy of
//!   the same sub-filter, say), its bits are ORed into that one, which then
//!   has exactly the snapshot's bits plus any inserted since; otherwise it
//!   is chained, as it is, after the live sub-filters.
//!
//! Every id of the snapshot then has all its bits in one sub-filter of its
//! generation, so no revocation can be missed. Sub-filters taken from a
//! snapshot are closed to the filter's own revocations (their count is set to
//! their capacity), which go to sub-filters of the filter's own: merging a
//! newer snapshot of the same source then finds the older copies by the
//! subset test and ORs into them instead of chaining more, so a follower that
//! merges the same source again and again keeps one copy of it. A chained
//! sub-filter keeps its own false-positive target, so an hour that holds two
//! independently grown chains can reach the sum of both filters' rates.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::bloom::SubFilter;
use super::snapshot::parse;
use super::{Generation, RevocationFilter, MAX_CHAIN};
use crate::Error;

/// What merging one sub-filter of a snapshot into a live generation takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// It has no bits set, or a live sub-filter already holds all of them.
    Held,
    /// The live sub-filter at this position holds a subset of its bits: OR
    /// them in.
    Extend(usize),
    /// No live sub-filter of its geometry holds a subset or superset of its
    /// bits: chain it.
    Chain,
}

impl RevocationFilter {
    /// Takes every revocation of a snapshot (made by
    /// [`to_snapshot`](Self::to_snapshot), here or in another process) into
    /// this filter: afterwards every session revoked in either is revoked in
    /// this one. Nothing this filter holds is lost, and lookups and inserts
    /// keep running, lock-free, while it merges.
    ///
    /// The snapshot's capacity and rate are not adopted; its revocations are
    /// (a Bloom filter keeps bits, not ids, so they are combined sub-filter by
    /// sub-filter, see docs/revocation.md): an hour that both held before
    /// the merge may answer at up to the sum of both filters' false-positive
    /// rates. Merging the same snapshot again, or a newer snapshot of the
    /// same filter, adds no memory beyond what that filter added.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptSnapshot`] if `bytes` is not an intact snapshot (as
    /// [`from_snapshot`](Self::from_snapshot)): the whole snapshot is checked
    /// before anything changes, so this filter is then unchanged.
    /// [`Error::MergeLimit`] if a deadline hour would chain more sub-filters
    /// than a generation may hold (178, far more than growth alone builds):
    /// checked before anything changes, except that `revoke`s racing with
    /// the merge may grow a chain to the limit meanwhile, and then the hours
    /// merged before it stay merged.
    ///
    /// ```
    /// use tessera::{RevocationFilter, SessionId};
    ///
    /// let publisher = RevocationFilter::new(10_000, 0.01);
    /// publisher.revoke(SessionId([1; 16]), 1_750_000_000);
    /// let follower = RevocationFilter::new(10_000, 0.01);
    /// follower.revoke(SessionId([2; 16]), 1_750_000_000);
    /// follower.merge_snapshot(&publisher.to_snapshot())?;
    /// assert!(follower.is_revoked(SessionId([1; 16]), 1_750_000_000));
    /// assert!(follower.is_revoked(SessionId([2; 16]), 1_750_000_000));
    /// # Ok::<(), tessera::Error>(())
    /// ```
    pub fn merge_snapshot(&self, bytes: &[u8]) -> Result<(), Error> {
        let (_, generations) = parse(bytes)?;
        // Plan every generation first: only the limit can fail.
        let mut plans = Vec::with_capacity(generations.len());
        for generation in generations {
            let bucket = generation.bucket;
            let incoming = generation.into_chain();
            if let Some(live) = self.generation(bucket) {
                let steps = plan(&live, &incoming)?;
                plans.push((bucket, incoming, Some((live, steps))));
            } else {
                plans.push((bucket, incoming, None));
            }
        }
        for (bucket, incoming, live) in plans {
            let (live, steps) = match live {
                Some(planned) => planned,
                None => match self.adopt(bucket, incoming) {
                    Ok(()) => continue,
                    // Created meanwhile by a `revoke`: merge into it.
                    Err((live, incoming)) => {
                        let steps = plan(&live, &incoming)?;
                        apply(&live, incoming, &steps)?;
                        continue;
                    }
                },
            };
            apply(&live, incoming, &steps)?;
        }
        Ok(())
    }

    /// Installs `chain`, closed, as the generation for `bucket`; if one
    /// exists by now, gives `chain` back with it.
    fn adopt(
        &self,
        bucket: u64,
        mut chain: Vec<SubFilter>,
    ) -> Result<(), (Arc<Generation>, Vec<SubFilter>)> {
        for sub in &mut chain {
            close(sub);
        }
        let Some(fresh) = Generation::from_chain(bucket, chain) else {
            return Ok(()); // An empty chain: nothing to merge.
        };
        let fresh = Arc::new(fresh);
        let existing =
            self.update(
                |table| match table.binary_search_by_key(&bucket, |g| g.bucket) {
                    Ok(i) => table.get(i).cloned(),
                    Err(i) => {
                        table.insert(i, Arc::clone(&fresh));
                        None
                    }
                },
            );
        match existing {
            None => Ok(()),
            Some(live) => {
                // Not installed, so this is the only reference.
                let chain = Arc::try_unwrap(fresh)
                    .map(Generation::into_chain)
                    .unwrap_or_default();
                Err((live, chain))
            }
        }
    }
}

/// Sets a sub-filter's count to its capacity, so revocations made here go to
/// a sub-filter of the filter's own, never into one taken from a snapshot,
/// and marks it merged, so its generation grows as if it were not there.
fn close(sub: &mut SubFilter) {
    sub.count.store(sub.capacity, Ordering::Relaxed);
    sub.merged = true;
}

/// Whether an id has the same bits in both.
fn same_geometry(a: &SubFilter, b: &SubFilter) -> bool {
    a.k == b.k && a.blocks.len() == b.blocks.len() && a.capacity == b.capacity
}

/// Whether every bit set in `small` is set in `large` (same geometry).
fn is_subset(small: &SubFilter, large: &SubFilter) -> bool {
    small.words().zip(large.words()).all(|(s, l)| s & l == s)
}

/// The steps that merge `incoming` into `live`.
///
/// # Errors
///
/// [`Error::MergeLimit`] if the chain would grow past [`MAX_CHAIN`].
pub(super) fn plan(live: &Generation, incoming: &[SubFilter]) -> Result<Vec<Step>, Error> {
    let steps: Vec<Step> = incoming
        .iter()
        .map(|sub| {
            let same: Vec<(usize, &SubFilter)> = live
                .chain()
                .enumerate()
                .filter(|(_, l)| same_geometry(l, sub))
                .collect();
            if sub.words().all(|w| w == 0) || same.iter().any(|(_, l)| is_subset(sub, l)) {
                Step::Held
            } else if let Some((i, _)) = same.iter().find(|(_, l)| is_subset(l, sub)) {
                Step::Extend(*i)
            } else {
                Step::Chain
            }
        })
        .collect();
    let chained = steps.iter().filter(|s| **s == Step::Chain).count();
    if live.chain().count().saturating_add(chained) > MAX_CHAIN {
        return Err(Error::MergeLimit);
    }
    Ok(steps)
}

/// Carries out `steps` (from [`plan`]) for `incoming` into `live`.
///
/// # Errors
///
/// [`Error::MergeLimit`] if `revoke`s grew the chain to [`MAX_CHAIN`] since
/// the plan.
pub(super) fn apply(
    live: &Generation,
    incoming: Vec<SubFilter>,
    steps: &[Step],
) -> Result<(), Error> {
    for (sub, step) in incoming.into_iter().zip(steps) {
        match *step {
            Step::Held => {}
            Step::Extend(i) => {
                // The chain only grows at its end, so position `i` is still
                // the sub-filter the plan compared.
                if let Some(target) = live.chain().nth(i) {
                    for (word, bits) in target.blocks.iter().flat_map(|b| &b.0).zip(sub.words()) {
                        if bits != 0 {
                            word.fetch_or(bits, Ordering::Relaxed);
                        }
                    }
                    target
                        .count
                        .fetch_max(sub.count.load(Ordering::Relaxed), Ordering::Relaxed);
                }
            }
            Step::Chain => chain(live, sub)?,
        }
    }
    Ok(())
}

/// Appends `sub`, closed, at the end of `live`'s chain.
pub(super) fn chain(live: &Generation, mut sub: SubFilter) -> Result<(), Error> {
    close(&mut sub);
    let mut sub = Box::new(sub);
    loop {
        let (links, last) = live
            .chain()
            .enumerate()
            .last()
            .map_or((0, &live.first), |(i, s)| (i + 1, s));
        if links >= MAX_CHAIN {
            return Err(Error::MergeLimit);
        }
        // A `revoke` may grow the chain first; then try again at its end.
        match last.next.set(sub) {
            Ok(()) => return Ok(()),
            Err(back) => sub = back,
        }
    }
}
