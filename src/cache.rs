//! The verified-token cache: lets a [`Verifier`](crate::Verifier) skip the
//! Ed25519 check for a token it fully verified a moment ago.
//!
//! # What is cached, and why it is safe
//!
//! An entry is a token's signature together with the SHA-512 digest (first 32
//! bytes) of everything the signature covers that travels in the token,
//! `header || nonce || ciphertext || tag`. So a hit binds the key id, the
//! nonce, the tag, the signature *and* the ciphertext. Binding the ciphertext
//! matters: anyone holding the decryption key can compute Poly1305's one-time
//! key for a nonce and so forge a *different* ciphertext with the same nonce
//! and tag that still decrypts; matching on `(key id, nonce, tag, signature)`
//! alone would let that holder mint tokens, which the signature exists to
//! prevent. With the digest, a hit means "exactly these bytes passed
//! `verify_strict` under this verifier's keys and audience", so skipping the
//! signature check for them changes no verdict.
//!
//! Everything in an entry is public (a signature and a hash of bytes that are
//! in the token); claims, session ids and keys stay out of the cache. A cache
//! belongs to one [`Verifier`](crate::Verifier) (and its clones, which share
//! its keys and policy), so the keys and audience behind a hit are those that
//! verified the entry. Only the signature check is skipped: the AEAD still
//! opens the token (its claims are needed anyway), and decoding, the time
//! checks and revocation run on every verification.
//!
//! # Shape
//!
//! `capacity` slots split over at most [`SHARDS`] shards, each behind its own
//! `Mutex`, held for a few compares and never across any crypto. Signature
//! bytes choose the shard and, inside it, a window of [`WAYS`] consecutive
//! slots where the entry may live; a full window evicts round-robin. Forged
//! signatures can pick which slots a lookup reads, never what is stored: only
//! fully verified tokens are inserted. The slots are allocated once, when the
//! verifier is built, so the cache never grows and verification never
//! allocates for it. A lookup hashes only when a slot holds the same
//! signature, so a miss costs a few compares.

use std::sync::{Mutex, MutexGuard};

use ed25519_dalek::{Digest, Sha512};

use crate::token::SIG_LEN;

/// Upper bound on the number of shards (independent locks).
pub(crate) const SHARDS: usize = 16;
/// How many slots an entry may occupy: the compares per lookup.
pub(crate) const WAYS: usize = 4;

/// One fully verified token: its signature, and the digest of the bytes
/// before it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    signature: [u8; SIG_LEN],
    digest: [u8; 32],
}

/// A bounded, sharded set of fully verified tokens.
pub(crate) struct VerifiedCache {
    shards: Box<[Mutex<Shard>]>,
    capacity: usize,
}

struct Shard {
    slots: Box<[Option<Entry>]>,
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

    /// Whether a token made of `content` (its body up to the signature) and
    /// `signature` was fully verified.
    pub(crate) fn contains(&self, content: &[u8], signature: &[u8; SIG_LEN]) -> bool {
        // Copy the candidate out and hash after unlocking: no hashing under a lock.
        let held = self
            .with_window(signature, |shard, window| {
                window.slots().find_map(|at| match shard.slots.get(at) {
                    Some(Some(entry)) if entry.signature == *signature => Some(entry.digest),
                    _ => None,
                })
            })
            .flatten();
        held.is_some_and(|digest| digest == content_digest(content))
    }

    /// Remembers that the token made of `content` and `signature` was fully
    /// verified.
    pub(crate) fn insert(&self, content: &[u8], signature: &[u8; SIG_LEN]) {
        let entry = Entry {
            signature: *signature,
            digest: content_digest(content),
        };
        self.with_window(signature, |shard, window| {
            let mut free = None;
            for at in window.slots() {
                match shard.slots.get(at) {
                    Some(Some(held)) if *held == entry => return,
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
                *slot = Some(entry);
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

    /// Runs `f` on the shard for `signature`, locked, and the window of slots
    /// an entry with that signature may occupy in it.
    fn with_window<R>(
        &self,
        signature: &[u8; SIG_LEN],
        f: impl FnOnce(&mut Shard, Window) -> R,
    ) -> Option<R> {
        let word = |from: usize| {
            let mut bytes = [0u8; 8];
            bytes
                .iter_mut()
                .zip(signature.iter().skip(from))
                .for_each(|(b, s)| *b = *s);
            u64::from_le_bytes(bytes)
        };
        // For every token that can be inserted, R (the first half of the
        // signature) is the encoding of a point derived from a hash: uniform.
        let shard = self.shards.get(index(word(0), self.shards.len()))?;
        let mut guard = lock(shard);
        let len = guard.slots.len();
        let home = index(word(8), len);
        Some(f(&mut guard, Window { home, len }))
    }
}

/// SHA-512, first 32 bytes: collision resistance is what the cache relies on.
fn content_digest(content: &[u8]) -> [u8; 32] {
    let full = Sha512::digest(content);
    let mut out = [0u8; 32];
    out.iter_mut().zip(full.iter()).for_each(|(o, d)| *o = *d);
    out
}

/// The slots one entry may occupy in a shard of `len` slots.
#[derive(Clone, Copy)]
struct Window {
    home: usize,
    len: usize,
}

impl Window {
    /// The `way`-th slot of the window (`way` taken modulo the window size).
    fn slot(self, way: usize) -> usize {
        let ways = WAYS.min(self.len).max(1);
        // `home < len` and `way % ways < len`: the sum neither overflows nor
        // wraps more than once.
        let at = self.home + way % ways;
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

    /// A distinct (content, signature) pair with a uniform signature, as a
    /// real one would be.
    fn token(i: u32) -> (Vec<u8>, [u8; SIG_LEN]) {
        let content = i.to_le_bytes().to_vec();
        let mut signature = [0u8; SIG_LEN];
        let digest = Sha512::digest(&content);
        signature.copy_from_slice(&digest);
        (content, signature)
    }

    fn insert(cache: &VerifiedCache, i: u32) {
        let (content, signature) = token(i);
        cache.insert(&content, &signature);
    }

    fn contains(cache: &VerifiedCache, i: u32) -> bool {
        let (content, signature) = token(i);
        cache.contains(&content, &signature)
    }

    #[test]
    fn zero_capacity_is_no_cache() {
        assert!(VerifiedCache::new(0).is_none());
    }

    #[test]
    fn a_slot_is_97_bytes_as_documented() {
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 97);
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
            for i in 0..3_000 {
                insert(&cache, i);
                assert!(contains(&cache, i), "just inserted");
                assert!(cache.len() <= capacity);
            }
            assert!(!contains(&cache, 3_000));
            // Inserting again what is held neither duplicates nor evicts.
            let before = cache.len();
            insert(&cache, 2_999);
            assert_eq!(cache.len(), before);
        }
    }

    #[test]
    fn a_roomy_cache_keeps_recent_entries() {
        let cache = VerifiedCache::new(10_000).unwrap();
        for i in 0..500 {
            insert(&cache, i);
        }
        // A twentieth full: with these signatures no window of four overflows.
        assert_eq!((0..500).filter(|&i| contains(&cache, i)).count(), 500);
    }

    #[test]
    fn a_hit_needs_the_same_signature_and_the_same_content() {
        let cache = VerifiedCache::new(100).unwrap();
        let (content, signature) = token(1);
        cache.insert(&content, &signature);
        assert!(cache.contains(&content, &signature));
        for at in 0..content.len() {
            let mut changed = content.clone();
            changed[at] ^= 1;
            assert!(!cache.contains(&changed, &signature), "content byte {at}");
        }
        assert!(!cache.contains(&content[..3], &signature));
        for at in 0..SIG_LEN {
            let mut changed = signature;
            changed[at] ^= 0x80;
            assert!(!cache.contains(&content, &changed), "signature byte {at}");
        }
    }
}
