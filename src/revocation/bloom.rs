//! One blocked Bloom filter: a sub-filter of a generation's chain, its
//! 512-bit blocks, and the sizing that meets a false-positive target.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::claims::SessionId;

/// Bits in a block: one 64-byte cache line.
pub(super) const BLOCK_BITS: u32 = 512;
/// `u64` words in a block.
pub(super) const BLOCK_WORDS: usize = 8;
/// Bytes in a block.
pub(super) const BLOCK_BYTES: usize = 64;
/// Most bit positions per id: 10 nine-bit positions use the low 90 bits of the
/// id; the block index comes from the high 64 (mostly their top bits).
pub(super) const MAX_K: u32 = 10;

/// One blocked Bloom filter in a generation's chain.
pub(super) struct SubFilter {
    pub(super) blocks: Box<[Block]>,
    /// Bit positions set per id.
    pub(super) k: u32,
    /// Ids its blocks hold at `fp_target`.
    pub(super) capacity: u64,
    /// Its false-positive rate when full.
    pub(super) fp_target: f64,
    /// Ids inserted, never more than `capacity` (slots are reserved first).
    pub(super) count: AtomicU64,
    /// The next, newer sub-filter, once this one is full.
    pub(super) next: OnceLock<Box<SubFilter>>,
    /// Taken from a snapshot by a merge in this process: not part of this
    /// filter's own growth, so not counted when its generation grows. (Not
    /// in snapshots: once reloaded it counts as the filter's own.)
    pub(super) merged: bool,
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
pub(super) struct Block(pub(super) [AtomicU64; BLOCK_WORDS]);

impl SubFilter {
    /// An empty sub-filter for at least `capacity` ids at false-positive rate
    /// `fp_target`: as many as its whole blocks hold at that rate.
    pub(super) fn new(capacity: u64, fp_target: f64) -> SubFilter {
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

    pub(super) fn with_blocks(
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
            merged: false,
        }
    }

    /// Its bits, word by word.
    pub(super) fn words(&self) -> impl Iterator<Item = u64> + '_ {
        self.blocks
            .iter()
            .flat_map(|b| &b.0)
            .map(|w| w.load(Ordering::Relaxed))
    }

    /// Takes one of the free slots, if any. `Relaxed`: the count publishes no
    /// data; it only decides when to grow.
    pub(super) fn try_reserve(&self) -> bool {
        self.count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok()
    }

    /// The block for `id` and its bit positions (the low bits of the id).
    pub(super) fn locate(&self, id: &SessionId) -> Option<(&Block, u128)> {
        let bits = u128::from_le_bytes(id.0);
        let high = (bits >> 64) as u64;
        let blocks = self.blocks.len() as u64;
        // Multiply-shift: uniform over `0..blocks`, always in range.
        let index = ((u128::from(high) * u128::from(blocks)) >> 64) as usize;
        Some((self.blocks.get(index)?, bits))
    }

    pub(super) fn contains(&self, id: &SessionId) -> bool {
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

    pub(super) fn insert(&self, id: &SessionId) {
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

impl Drop for SubFilter {
    /// Unlinks the newer sub-filters one at a time: the default drop would
    /// recurse once per link of the chain.
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(mut sub) = next {
            next = sub.next.take();
        }
    }
}

/// Bit positions per id and ids per block for a blocked filter whose rate,
/// when full, is at most `fp_target`: the `k` that packs the most ids.
pub(super) fn design(fp_target: f64) -> (u32, f64) {
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
pub(super) fn blocked_fp_rate(load: f64, k: u32) -> f64 {
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
