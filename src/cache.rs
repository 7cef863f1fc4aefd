//! The verified-token cache: lets a [`Verifier`](crate::Verifier) skip the
//! Ed25519 check for a token it fully verified a moment ago.
//!
//! # What is cached, and why it is safe
//!
//! An entry is the SHA-512 digest (first 32 bytes) of a token's whole decoded
//! body, `header || nonce || ciphertext || tag || signature`: it binds the key
//! id, the nonce, the tag, the signature *and* the ciphertext. Binding the
//! ciphertext matters: anyone holding the decryption key can compute
//! Poly1305's one-time key for a nonce and so forge a *different* ciphertext
//! with the same nonce and tag that still decrypts; matching on
//! `(key id, nonce, tag, signature)` alone would let that holder mint tokens,
//! which the signature exists to prevent. With the digest, a hit means "these
//! exact bytes passed `verify_strict` under this verifier's keys and
//! audience", so skipping the signature check on them changes no verdict.
//!
//! Everything in an entry is public (it is a hash of the token's bytes); the
//! claims, the session id and every key stay out of the cache. A cache belongs
//! to one [`Verifier`](crate::Verifier) (and its clones, which share its keys
//! and policy), so the keys and audience behind a hit are the ones that
//! verified the entry. Only the signature is skipped on a hit: the AEAD still
//! opens the token (the claims are needed anyway), and decoding, time checks
//! and revocation run on every verification.
//!
//! # Shape
//!
//! `capacity` slots split over at most [`SHARDS`] shards, each behind its own
//! `Mutex` (held for a few compares, never across any crypto), chosen by digest
//! bits that no one can steer without a preimage. Inside a shard a digest may
//! live in one of [`WAYS`] consecutive slots from its home slot; a full window
//! evicts round-robin. The slots are allocated once, when the verifier is
//! built, so the cache never grows and verification never allocates for it.

use std::sync::{Mutex, MutexGuard};

use ed25519_dalek::{Digest, Sha512};

/// Upper bound on the number of shards (independent locks).
pub(crate) const SHARDS: usize = 16;
/// How many slots a digest may occupy: the lookup cost per verification.
pub(crate) const WAYS: usize = 4;

/// The cached fingerprint of one fully verified token body.
pub(crate) type Fingerprint = [u8; 32];

/// A bounded, sharded set of fingerprints of fully verified token bodies.
pub(crate) struct VerifiedCache {
    shards: Box<[Mutex<Shard>]>,
    capacity: usize,
}

struct Shard {
    slots: Box<[Option<Fingerprint>]>,
    /// The next way to evict when a window is full.
    victim: usize,
}

impl VerifiedCache {
    /// A cache of exactly `capacity` slots, or `None` for a capacity of 0.
    pub(crate) fn new(capacity: usize) -> Option<VerifiedCache> {
        if capacity == 0 {
            return None;
        }
        let count = capacity.min(SHARDS);
        let shards = (0..count)
            .map(|i| {
                // Spread the remainder over the first shards: the sizes add up
                // to `capacity` exactly.
                let len = capacity / count + usize::from(i < capacity % count);
                Mutex::new(Shard {
                    slots: vec![None; len].into_boxed_slice(),
                    victim: 0,
                })
            })
            .collect();
        Some(VerifiedCache { shards, capacity })
    }

    /// The number of slots: the most entries the cache ever holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The fingerprint of a decoded token body.
    pub(crate) fn fingerprint(body: &[u8]) -> Fingerprint {
        let digest = Sha512::digest(body);
        let mut out = [0u8; 32];
        out.iter_mut().zip(digest.iter()).for_each(|(o, d)| *o = *d);
        out
    }

    /// Whether `fp` belongs to a token that was fully verified.
    pub(crate) fn contains(&self, fp: &Fingerprint) -> bool {
        self.with_window(fp, |shard, window| {
            window
                .slots()
                .any(|at| shard.slots.get(at).is_some_and(|slot| slot.as_ref() == Some(fp)))
        })
        .unwrap_or(false)
    }

    /// Remembers that the token with fingerprint `fp` was fully verified.
    pub(crate) fn insert(&self, fp: Fingerprint) {
        self.with_window(&fp, |shard, window| {
            let mut free = None;
            for at in window.slots() {
                match shard.slots.get(at) {
                    Some(Some(held)) if *held == fp => return,
                    Some(None) if free.is_none() => free = Some(at),
                    _ => {}
                }
            }
            let at = free.unwrap_or_else(|| {
                let at = window.slot(shard.victim);
                shard.victim = shard.victim.wrapping_add(1);
                at
            });
            if let Some(slot) = shard.slots.get_mut(at) {
                *slot = Some(fp);
            }
        });
    }

    /// The number of occupied slots.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| lock(s).slots.iter().filter(|slot| slot.is_some()).count())
            .sum()
    }

    /// Runs `f` on `fp`'s shard, locked, and the slots `fp` may occupy in it:
    /// up to [`WAYS`] consecutive slots (wrapping) from its home slot. Both the
    /// shard and the home slot come from digest bits, which no one can steer.
    fn with_window<R>(
        &self,
        fp: &Fingerprint,
        f: impl FnOnce(&mut Shard, Window) -> R,
    ) -> Option<R> {
        let word = |from: usize| {
            let mut bytes = [0u8; 8];
            bytes
                .iter_mut()
                .zip(fp.iter().skip(from))
                .for_each(|(b, d)| *b = *d);
            u64::from_le_bytes(bytes)
        };
        let shard = self.shards.get(index(word(0), self.shards.len()))?;
        let mut guard = lock(shard);
        let len = guard.slots.len();
        let home = index(word(8), len);
        Some(f(&mut guard, Window { home, len }))
    }
}

/// The slots one fingerprint may occupy in a shard of `len` slots.
#[derive(Clone, Copy)]
struct Window {
    home: usize,
    len: usize,
}

impl Window {
    /// The `way`-th slot of the window (`way` taken modulo the window size).
    fn slot(self, way: usize) -> usize {
        let ways = WAYS.min(self.len).max(1);
        let offset = way % ways;
        // `home < len` and `offset < len`, so this neither overflows nor leaves the shard.
        let at = self.home + offset;
        if at >= self.len {
            at - self.len
        } else {
            at
        }
    }

    /// Every slot of the window, each once.
    fn slots(self) -> impl Iterator<Item = usize> {
        (0..WAYS.min(self.len)).map(move |way| self.slot(way))
    }
}

/// `n mod len` as an index (0 when `len` is 0).
fn index(n: u64, len: usize) -> usize {
    match u64::try_from(len) {
        Ok(len) if len > 0 => usize::try_from(n % len).unwrap_or(0),
        _ => 0,
    }
}

/// Locks a shard. A panic while holding the lock cannot leave a shard
/// inconsistent (every write is one slot store), so poisoning is ignored.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("capacity", &self.capacity)
            .field("shards", &self.shards.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(i: u32) -> Fingerprint {
        VerifiedCache::fingerprint(&i.to_le_bytes())
    }

    #[test]
    fn zero_capacity_is_no_cache() {
        assert!(VerifiedCache::new(0).is_none());
    }

    #[test]
    fn shard_sizes_add_up_to_the_capacity() {
        for capacity in [1, 3, 15, 16, 17, 100, 10_000, 10_007] {
            let cache = VerifiedCache::new(capacity).unwrap();
            let slots: usize = cache.shards.iter().map(|s| lock(s).slots.len()).sum();
            assert_eq!(slots, capacity);
            assert_eq!(cache.capacity(), capacity);
            assert!(cache.shards.len() <= SHARDS);
        }
    }

    #[test]
    fn remembers_what_it_holds_and_never_grows_past_its_capacity() {
        for capacity in [1, 2, 5, 64, 1000] {
            let cache = VerifiedCache::new(capacity).unwrap();
            for i in 0..5_000 {
                cache.insert(fp(i));
                assert!(cache.contains(&fp(i)), "just inserted");
                assert!(cache.len() <= capacity);
            }
            assert!(!cache.contains(&fp(5_000)));
            // Inserting again what is held neither duplicates nor evicts.
            let before = cache.len();
            cache.insert(fp(4_999));
            assert_eq!(cache.len(), before);
        }
    }

    #[test]
    fn a_roomy_cache_keeps_recent_entries() {
        let cache = VerifiedCache::new(10_000).unwrap();
        for i in 0..1_000 {
            cache.insert(fp(i));
        }
        // A tenth full: only a window of four slots filling up could evict, and
        // with these fingerprints none does.
        assert_eq!((0..1_000).filter(|&i| cache.contains(&fp(i))).count(), 1_000);
    }

    #[test]
    fn fingerprints_differ_for_any_changed_byte() {
        let body = [7u8; 100];
        let original = VerifiedCache::fingerprint(&body);
        for at in 0..body.len() {
            let mut changed = body;
            changed[at] ^= 1;
            assert_ne!(VerifiedCache::fingerprint(&changed), original);
        }
        assert_ne!(VerifiedCache::fingerprint(&body[..99]), original);
    }
}
