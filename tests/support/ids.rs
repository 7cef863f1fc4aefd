//! Deterministic session ids and deadlines, shared by the revocation tests
//! and the revocation bench so both measure the same kind of input.

use tessera::SessionId;

/// Not aligned to an hour, so a day of deadlines spans 25 generations.
pub const T0: u64 = 1_750_000_123;

/// SplitMix64: a tiny deterministic generator, so every run sees the same ids.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A random session id.
    pub fn id(&mut self) -> SessionId {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.next().to_le_bytes());
        id[8..].copy_from_slice(&self.next().to_le_bytes());
        SessionId(id)
    }

    /// `n` ids with deadlines spread uniformly over `spread` seconds from `T0`.
    pub fn revocations(&mut self, n: usize, spread: u64) -> Vec<(SessionId, u64)> {
        (0..n)
            .map(|_| (self.id(), T0 + self.next() % spread))
            .collect()
    }
}
