//! The revocation filter: the only per-session state a verifier keeps.
//!
//! This first version is exact (a map from session id to deadline behind a
//! read-write lock): correct, with no false positives, but neither compact nor
//! lock-free. Its replacement, a generational blocked Bloom filter, keeps the
//! same API and snapshot guarantees.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::RwLock;

use crate::claims::{SessionId, MAX_LEEWAY};
use crate::Error;

const SNAPSHOT_MAGIC: &[u8; 4] = b"TSRV";
const SNAPSHOT_VERSION: u8 = 0;
const ENTRY_LEN: usize = 16 + 8;
const HEADER_LEN: usize = 4 + 1 + 8;
const CHECK_LEN: usize = 4;

/// Remembers revoked sessions until their deadline (plus the maximum leeway).
/// `Send + Sync`. Never reads the clock: it is told the time.
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
    capacity: usize,
    fp_rate: f64,
    revoked: RwLock<HashMap<SessionId, u64>>,
}

impl RevocationFilter {
    /// A filter sized for `capacity` revocations alive at once at false-positive
    /// rate `fp_rate`.
    pub fn new(capacity: usize, fp_rate: f64) -> RevocationFilter {
        RevocationFilter {
            capacity,
            fp_rate,
            revoked: RwLock::new(HashMap::new()),
        }
    }

    /// Revokes session `id` until `deadline` (unix seconds).
    pub fn revoke(&self, id: SessionId, deadline: u64) {
        let mut map = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(id).or_insert(deadline);
        *entry = (*entry).max(deadline);
    }

    /// Whether session `id` with this `deadline` was revoked.
    pub fn is_revoked(&self, id: SessionId, deadline: u64) -> bool {
        let _ = deadline;
        let map = self.revoked.read().unwrap_or_else(|e| e.into_inner());
        map.contains_key(&id)
    }

    /// Forgets revocations whose deadline is more than the maximum leeway before `now`.
    pub fn prune(&self, now: u64) {
        let horizon = now.saturating_sub(MAX_LEEWAY.as_secs());
        let mut map = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, deadline| *deadline >= horizon);
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        let map = self.revoked.read().unwrap_or_else(|e| e.into_inner());
        map.capacity() * (ENTRY_LEN + 1)
    }

    /// A versioned binary snapshot with a CRC-32 integrity check (docs/FORMAT.md).
    pub fn to_snapshot(&self) -> Vec<u8> {
        let map = self.revoked.read().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(HEADER_LEN + map.len() * ENTRY_LEN + CHECK_LEN);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.push(SNAPSHOT_VERSION);
        out.extend_from_slice(&(map.len() as u64).to_le_bytes());
        let mut entries: Vec<_> = map.iter().collect();
        entries.sort();
        for (id, deadline) in entries {
            out.extend_from_slice(&id.0);
            out.extend_from_slice(&deadline.to_le_bytes());
        }
        let check = crc32(&out);
        out.extend_from_slice(&check.to_le_bytes());
        out
    }

    /// Loads a snapshot made by [`to_snapshot`](Self::to_snapshot).
    ///
    /// # Errors
    ///
    /// [`Error::CorruptSnapshot`] for anything that is not an intact snapshot.
    pub fn from_snapshot(bytes: &[u8]) -> Result<RevocationFilter, Error> {
        let (content, check) = bytes
            .split_last_chunk::<CHECK_LEN>()
            .ok_or(Error::CorruptSnapshot)?;
        if crc32(content) != u32::from_le_bytes(*check) {
            return Err(Error::CorruptSnapshot);
        }
        let (header, entries) = content
            .split_first_chunk::<HEADER_LEN>()
            .ok_or(Error::CorruptSnapshot)?;
        if &header[..4] != SNAPSHOT_MAGIC || header[4] != SNAPSHOT_VERSION {
            return Err(Error::CorruptSnapshot);
        }
        let count = u64::from_le_bytes(header[5..].try_into().map_err(|_| Error::CorruptSnapshot)?);
        if entries.len() % ENTRY_LEN != 0 || (entries.len() / ENTRY_LEN) as u64 != count {
            return Err(Error::CorruptSnapshot);
        }
        let filter = RevocationFilter::new(entries.len() / ENTRY_LEN, 0.0);
        for entry in entries.chunks_exact(ENTRY_LEN) {
            let (id, deadline) = entry.split_at(16);
            let id = SessionId(id.try_into().map_err(|_| Error::CorruptSnapshot)?);
            let deadline =
                u64::from_le_bytes(deadline.try_into().map_err(|_| Error::CorruptSnapshot)?);
            filter.revoke(id, deadline);
        }
        Ok(filter)
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
    /// it is not an intact snapshot.
    pub fn load(path: impl AsRef<Path>) -> Result<RevocationFilter, Error> {
        RevocationFilter::from_snapshot(&std::fs::read(path)?)
    }
}

impl fmt::Debug for RevocationFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.revoked.read().map_or(0, |m| m.len());
        f.debug_struct("RevocationFilter")
            .field("capacity", &self.capacity)
            .field("fp_rate", &self.fp_rate)
            .field("held", &held)
            .finish()
    }
}

/// CRC-32 (IEEE 802.3, reflected), bit by bit: snapshots are small and rare.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_answer() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn prune_keeps_revocations_through_the_leeway() {
        let f = RevocationFilter::new(10, 0.01);
        let id = SessionId([3; 16]);
        f.revoke(id, 1000);
        f.prune(1000 + 3600);
        assert!(f.is_revoked(id, 1000));
        f.prune(1000 + 3601);
        assert!(!f.is_revoked(id, 1000));
    }

    #[test]
    fn every_single_byte_corruption_and_truncation_is_rejected() {
        let f = RevocationFilter::new(10, 0.01);
        f.revoke(SessionId([1; 16]), 5);
        f.revoke(SessionId([2; 16]), 6);
        let snap = f.to_snapshot();
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
        let back = RevocationFilter::from_snapshot(&snap).unwrap();
        assert!(back.is_revoked(SessionId([1; 16]), 5));
        assert!(back.is_revoked(SessionId([2; 16]), 6));
        assert!(!back.is_revoked(SessionId([3; 16]), 6));
    }
}
