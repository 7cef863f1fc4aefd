//! The verified-token cache: lets a [`Verifier`](crate::Verifier) skip all the
//! cryptography (base64url decoding, the AEAD open and the Ed25519 check) for
//! a token it fully verified a moment ago.
//!
//! # What is cached, and why it is safe
//!
//! An entry is keyed by the token's exact text and holds what the cryptography
//! produced from it: the key id and the decrypted claims (the postcard
//! plaintext, not a decoded [`Session`](crate::Session)). Decoding, base64url,
//! the AEAD open and the Ed25519 check are deterministic functions of the token
//! text and of the verifier's keys and audience, and those never change after
//! the verifier is built. So for exactly the same text they would produce the
//! same plaintext and the same success again: re-running them is pure waste.
//! What is *not* a function of the text alone runs on every call, hit or miss:
//! the length bound and prefix (step 1, before the lookup), claims decoding
//! (step 6, from the cached plaintext), the time checks (step 7) and the
//! revocation filter (step 8). A verdict is never cached, only the crypto.
//!
//! A hit requires the SHA-512 digest (first 32 bytes) of the token text to
//! equal the digest stored for a token that passed every check: finding a
//! different text with the same digest is a 128-bit collision search. Keying
//! on anything less than every byte would be unsafe: in particular, matching
//! on `(key id, nonce, tag, signature)` would let anyone holding the
//! decryption key (every verifier in a fleet) compute Poly1305's one-time key
//! for that nonce and forge a *different* ciphertext with the same tag, and so
//! mint tokens, which the signature exists to prevent. A forged twin of a
//! cached token (same header, nonce and signature, altered body) has different
//! text, misses, and is rejected by the AEAD as it would be without a cache.
//!
//! A cache consulted *after* the AEAD opens, skipping only the signature,
//! was the first design. It moved before decoding: with base64url
//! and the AEAD on the hit path a hit cost about 1/17 of a cold verify, and
//! the target is 1/20 (BENCHMARKS.md). Keying on the exact text makes the
//! skipped steps unobservable, so nothing is weakened.
//!
//! A cache belongs to one [`Verifier`](crate::Verifier) (and its clones, which
//! share its keys and policy), so the keys and audience behind a hit are those
//! that verified the entry; a verifier with other keys or another audience has
//! a cache of its own.
//!
//! # The plaintext is secret
//!
//! Slots hold decrypted claims (session ids included). A slot's plaintext is
//! zeroized when it is overwritten and when the cache is dropped, is never
//! printed by `Debug`, and leaves the cache only by being copied into the
//! caller's zeroizing stack buffer (claims are decoded outside the lock).
//!
//! # Shape
//!
//! `capacity` entries of 240 bytes (a slot and its tag; a unit test checks
//! the figure), allocated once when the verifier is built and split over at
//! most [`SHARDS`] shards, each behind its own `Mutex`, held for a few
//! compares and one copy of at most [`SLOT_PLAINTEXT`] bytes, never across
//! any hashing or crypto. Claims larger than [`SLOT_PLAINTEXT`] bytes are not
//! cached (such tokens verify in full every time).
//!
//! A lookup first computes a 64-bit tag of the token text, a fast
//! multiply-fold hash keyed at random per cache: a small fraction of the cost
//! of SHA-512, so a forged or unknown token pays only that and one
//! uncontended lock before the AEAD rejects it. The tag picks the shard and,
//! inside it, a window of [`WAYS`] consecutive slots; a full window evicts round-robin. Tags are kept apart
//! from the slots, so a miss reads one cache line of tags and no slot. Only
//! when a slot in the window has the same tag is the SHA-512 digest computed
//! and compared. The key is secret, so nobody can aim tokens at chosen slots,
//! and only fully verified tokens are ever inserted.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard};

use ed25519_dalek::{Digest, Sha512};
use zeroize::Zeroize;

use crate::keys::KeyId;
use crate::token::PlaintextBuf;

/// Upper bound on the number of shards (independent locks).
pub(crate) const SHARDS: usize = 16;
/// How many slots an entry may occupy: the compares per lookup.
pub(crate) const WAYS: usize = 4;
/// The largest claims plaintext a slot holds. The postcard claims of a token
/// with a 40-character subject and 100 bytes of data fit (tokens of up to 407
/// characters); larger ones are not cached.
pub(crate) const SLOT_PLAINTEXT: usize = 192;

/// One fully verified token's digest, key id and claims. Whether a slot is
/// in use is told by its tag in [`Shard::tags`] (0: free).
struct Slot {
    /// SHA-512 of the token text, first 32 bytes: what a hit relies on.
    digest: [u8; 32],
    key_id: KeyId,
    /// Bytes of `plaintext` in use; the rest are always zero.
    len: u8,
    /// The decrypted claims. Secret: zeroized on overwrite and on drop.
    plaintext: [u8; SLOT_PLAINTEXT],
}

impl Slot {
    fn free() -> Slot {
        Slot {
            digest: [0; 32],
            key_id: KeyId(0),
            len: 0,
            plaintext: [0; SLOT_PLAINTEXT],
        }
    }

    fn plaintext(&self) -> &[u8] {
        self.plaintext
            .get(..usize::from(self.len))
            .unwrap_or_default()
    }

    /// Wipes the plaintext held and stores a new entry; false (and the slot
    /// left empty) if `plaintext` does not fit.
    fn store(&mut self, digest: [u8; 32], key_id: KeyId, plaintext: &[u8]) -> bool {
        self.wipe();
        let (Ok(len), Some(dest)) = (
            u8::try_from(plaintext.len()),
            self.plaintext.get_mut(..plaintext.len()),
        ) else {
            return false;
        };
        dest.copy_from_slice(plaintext);
        self.digest = digest;
        self.key_id = key_id;
        self.len = len;
        true
    }

    /// Zeroizes the plaintext (only the bytes in use: the rest are zero).
    fn wipe(&mut self) {
        let len = usize::from(self.len);
        self.plaintext.get_mut(..len).unwrap_or_default().zeroize();
        self.len = 0;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// A bounded, sharded map from token text to the claims its cryptography
/// produced.
pub(crate) struct VerifiedCache {
    shards: Box<[Mutex<Shard>]>,
    capacity: usize,
    /// The key for tags: secret, random per cache.
    key: [u64; 2],
}

struct Shard {
    /// Each slot's tag (0: free), apart from the slots so that a window's
    /// tags share a cache line and a miss reads no slot.
    tags: Box<[u64]>,
    slots: Box<[Slot]>,
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
                    tags: vec![0; len].into_boxed_slice(),
                    slots: (0..len).map(|_| Slot::free()).collect(),
                    victim: 0,
                })
            })
            .collect();
        // std's `RandomState` is seeded from the OS RNG: its hashes of two
        // constants are two random words, with no new dependency.
        let random = RandomState::new();
        Some(VerifiedCache {
            shards,
            capacity,
            key: [random.hash_one(0u8), random.hash_one(1u8)],
        })
    }

    /// The number of slots: the most entries the cache ever holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The lookup tag of `token` (never 0): pass it to [`get`](Self::get)
    /// and [`insert`](Self::insert).
    ///
    /// A multiply-fold over 16-byte blocks (foldhash's construction) under
    /// the cache's random 128-bit key. Not a MAC, and no hit relies on it
    /// (SHA-512 decides hits): it spreads tokens over slots, where nobody
    /// without the key can aim, and tells misses apart with one
    /// multiplication per 16 bytes (SipHash needs several rounds), a cost
    /// forged-token rejection pays on every call.
    pub(crate) fn tag(&self, token: &str) -> u64 {
        let [k0, k1] = self.key;
        let bytes = token.as_bytes();
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let mut blocks = bytes.chunks_exact(16);
        let mut h = k0 ^ len;
        for block in &mut blocks {
            h = fold(word(block, 0) ^ k0 ^ h, word(block, 8) ^ k1);
        }
        let last = blocks.remainder();
        h = fold(word(last, 0) ^ k0 ^ h, word(last, 8) ^ k1);
        fold(h ^ k1, len ^ k0).max(1)
    }

    /// If exactly `token` passed every cryptographic check here, copies its
    /// claims plaintext into `out` and returns its key id.
    pub(crate) fn get<const N: usize>(
        &self,
        token: &str,
        tag: u64,
        out: &mut PlaintextBuf<N>,
    ) -> Option<KeyId> {
        // Copy the candidate out under the lock; hash and compare after it.
        let (digest, key_id) = self
            .with_window(tag, |shard, window| {
                let at = window.slots().find(|&at| shard.holds(at, tag))?;
                let slot = shard.slots.get(at)?;
                out.fill(slot.plaintext()).ok()?;
                Some((slot.digest, slot.key_id))
            })
            .flatten()?;
        // On a tag collision `out` holds another token's claims: the caller's
        // buffer wipes them on drop, and they are never returned.
        (digest == token_digest(token)).then_some(key_id)
    }

    /// Remembers that `token` (with lookup tag `tag`) passed every check,
    /// under `key_id`, and decrypted to `plaintext`. Claims larger than
    /// [`SLOT_PLAINTEXT`] bytes are not cached.
    pub(crate) fn insert(&self, token: &str, tag: u64, key_id: KeyId, plaintext: &[u8]) {
        if plaintext.is_empty() || plaintext.len() > SLOT_PLAINTEXT {
            return;
        }
        let digest = token_digest(token);
        self.with_window(tag, |shard, window| {
            let mut free = None;
            for at in window.slots() {
                if shard.holds(at, tag) && shard.slots.get(at).is_some_and(|s| s.digest == digest) {
                    return;
                }
                if free.is_none() && shard.holds(at, 0) {
                    free = Some(at);
                }
            }
            let at = free.unwrap_or_else(|| {
                let at = window.slot(shard.victim);
                shard.victim = shard.victim.wrapping_add(1);
                at
            });
            if let (Some(slot_tag), Some(slot)) = (shard.tags.get_mut(at), shard.slots.get_mut(at))
            {
                *slot_tag = if slot.store(digest, key_id, plaintext) {
                    tag
                } else {
                    0
                };
            }
        });
    }

    /// The number of occupied slots.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| lock(s).tags.iter().filter(|&&tag| tag != 0).count())
            .sum()
    }

    /// Runs `f` on the shard for `tag`, locked, and the window of slots an
    /// entry with that tag may occupy in it.
    fn with_window<R>(&self, tag: u64, f: impl FnOnce(&mut Shard, Window) -> R) -> Option<R> {
        let shard = self.shards.get(index(tag, self.shards.len()))?;
        let mut guard = lock(shard);
        let len = guard.slots.len();
        // The low bits chose the shard; the high half picks the window.
        let home = index(tag >> 32, len);
        Some(f(&mut guard, Window { home, len }))
    }
}

impl Shard {
    /// Whether slot `at` has tag `tag` (0: is free).
    fn holds(&self, at: usize, tag: u64) -> bool {
        self.tags.get(at) == Some(&tag)
    }
}

/// The 64-bit product of `a` and `b` folded over itself (high half xor low).
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// The little-endian word at `bytes[from..from + 8]`, zero-padded past the end.
fn word(bytes: &[u8], from: usize) -> u64 {
    let mut out = [0u8; 8];
    out.iter_mut()
        .zip(bytes.iter().skip(from))
        .for_each(|(o, b)| *o = *b);
    u64::from_le_bytes(out)
}

/// SHA-512 of the token text, first 32 bytes: collision resistance is what a
/// hit relies on.
fn token_digest(token: &str) -> [u8; 32] {
    let full = Sha512::digest(token.as_bytes());
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
/// unsafe to read (a slot's tag is set only once its contents are written),
/// so poisoning is ignored.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(|e| e.into_inner())
}

/// Capacity and shard count only: never the slots' contents.
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

    fn token(i: u32) -> String {
        format!("tsr1.token-{i}")
    }

    fn claims(i: u32) -> Vec<u8> {
        let len = 1 + i as usize % SLOT_PLAINTEXT;
        (0..len).map(|b| (b as u32 ^ i) as u8).collect()
    }

    fn insert(cache: &VerifiedCache, i: u32) {
        let token = token(i);
        cache.insert(&token, cache.tag(&token), KeyId(i), &claims(i));
    }

    /// The key id and plaintext cached for token `i`, if any.
    fn get(cache: &VerifiedCache, token: &str) -> Option<(KeyId, Vec<u8>)> {
        let mut out = PlaintextBuf::<SLOT_PLAINTEXT>::new();
        let key_id = cache.get(token, cache.tag(token), &mut out)?;
        Some((key_id, out.as_slice().to_vec()))
    }

    fn contains(cache: &VerifiedCache, i: u32) -> bool {
        get(cache, &token(i)) == Some((KeyId(i), claims(i)))
    }

    #[test]
    fn zero_capacity_is_no_cache() {
        assert!(VerifiedCache::new(0).is_none());
    }

    #[test]
    fn an_entry_is_240_bytes_as_documented() {
        assert_eq!(
            std::mem::size_of::<Slot>() + std::mem::size_of::<u64>(),
            240
        );
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
        // A twentieth full, with random tags: a window of four rarely
        // overflows. Measured over 3,000 caches: no entry lost in 2,991, one
        // in 9 (a Poisson mean of 0.003, so losing 4 has odds of about
        // 1e-12). Windows of one slot would lose about a dozen.
        let lost = (0..500).filter(|&i| !contains(&cache, i)).count();
        assert!(lost <= 3, "{lost} of 500 recent entries evicted");
    }

    #[test]
    fn a_hit_needs_exactly_the_same_text() {
        let cache = VerifiedCache::new(100).unwrap();
        insert(&cache, 1);
        let text = token(1);
        assert!(contains(&cache, 1));
        for at in 0..text.len() {
            let mut changed = text.clone().into_bytes();
            changed[at] ^= 1;
            let changed = String::from_utf8(changed).unwrap();
            assert_eq!(get(&cache, &changed), None, "byte {at}");
        }
        assert_eq!(get(&cache, &text[..text.len() - 1]), None);
        assert_eq!(get(&cache, &format!("{text}A")), None);
    }

    #[test]
    fn tags_are_keyed_per_cache_and_never_zero() {
        let (a, b) = (
            VerifiedCache::new(1).unwrap(),
            VerifiedCache::new(1).unwrap(),
        );
        assert_ne!(a.tag("tsr1.same"), b.tag("tsr1.same"));
        for i in 0..1_000 {
            let text = "x".repeat(i % 40) + &token(i as u32);
            assert_ne!(a.tag(&text), 0);
            assert_ne!(a.tag(&text), a.tag(&format!("{text}y")));
        }
    }

    #[test]
    fn a_tag_collision_is_not_a_hit() {
        let cache = VerifiedCache::new(4).unwrap();
        let (genuine, other) = (token(1), token(2));
        let tag = cache.tag(&genuine);
        cache.insert(&genuine, tag, KeyId(1), &claims(1));
        // `other` presented with `genuine`'s tag: found by tag, refused by digest.
        let mut out = PlaintextBuf::<SLOT_PLAINTEXT>::new();
        assert_eq!(cache.get(&other, tag, &mut out), None);
        assert_eq!(
            cache.get(&genuine, tag, &mut out),
            Some(KeyId(1)),
            "the genuine text still hits"
        );
    }

    #[test]
    fn oversized_and_empty_claims_are_not_cached() {
        let cache = VerifiedCache::new(100).unwrap();
        let (big, empty) = (token(1), token(2));
        cache.insert(&big, cache.tag(&big), KeyId(1), &[7; SLOT_PLAINTEXT + 1]);
        cache.insert(&empty, cache.tag(&empty), KeyId(2), &[]);
        assert_eq!(cache.len(), 0);
        cache.insert(&big, cache.tag(&big), KeyId(1), &[7; SLOT_PLAINTEXT]);
        assert_eq!(get(&cache, &big), Some((KeyId(1), vec![7; SLOT_PLAINTEXT])));
    }

    #[test]
    fn overwriting_a_slot_wipes_the_old_plaintext() {
        let mut slot = Slot::free();
        assert!(slot.store([1; 32], KeyId(1), &[0xAA; 100]));
        assert!(slot.store([2; 32], KeyId(2), &[0xBB; 10]));
        assert_eq!(slot.plaintext(), &[0xBB; 10]);
        assert!(slot.plaintext[10..].iter().all(|&b| b == 0));
        assert!(!slot.store([3; 32], KeyId(3), &[0xCC; SLOT_PLAINTEXT + 1]));
        assert!(slot.plaintext.iter().all(|&b| b == 0));
        assert_eq!(slot.plaintext(), &[] as &[u8]);
    }
}
