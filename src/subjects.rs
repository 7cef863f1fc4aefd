//! Subject revocations ("log out everywhere"): every session of a subject
//! issued before a cutoff time is rejected.
//!
//! # Design
//!
//! * **A small map, subject -> cutoff.** A password change or an account
//!   takeover names one subject; the map holds one entry per subject revoked
//!   within the maximum lifetime. An entry `(cutoff, forget_after)` rejects
//!   sessions that began strictly before `cutoff` (the verifier passes the
//!   session's start, which renewals do not move); it is forgotten
//!   once every session it could reject has passed its deadline and the
//!   largest leeway (`forget_after`, which the [`Verifier`](crate::Verifier)
//!   computes from its policy's maximum lifetime).
//! * **Lock-free reads.** The map is immutable behind an [`ArcSwap`]: a
//!   verification loads it without a lock, and skips even the hash when it is
//!   empty (the usual case). Writers (rare: one per "log out everywhere")
//!   take a mutex, copy the map, change the copy and publish it.
//! * **Bounded.** At most `capacity` subjects, each at most
//!   [`MAX_SUBJECT_LEN`] bytes; a revocation that does not fit is refused with
//!   an error, never silently dropped (a dropped revocation would be a
//!   session that stays valid). A fleet follower that meets a full table
//!   prunes it, and if it is still full holds the feed at that entry and
//!   retries it (docs/fleet.md, "Memory bounds").
//! * **Snapshots** are versioned, CRC-32-checked and parsed with every length
//!   bounded by the input (docs/FORMAT.md).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::claims::MAX_LEEWAY;
use crate::revocation::{open_sealed, seal};
use crate::Error;

/// The longest subject, in bytes, that can be revoked by name.
pub const MAX_SUBJECT_LEN: usize = 1024;
/// Subjects a verifier's own table holds unless told otherwise.
pub const DEFAULT_SUBJECT_CAPACITY: usize = 100_000;

const SNAPSHOT_MAGIC: &[u8; 4] = b"TSSR";
const SNAPSHOT_VERSION: u8 = 1;
/// Fixed bytes of one snapshot entry: cutoff, forget-after, subject length.
const ENTRY_MIN_BYTES: usize = 8 + 8 + 2;

/// One subject's revocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cutoff {
    /// Sessions issued strictly before this time (unix seconds) are rejected.
    before: u64,
    /// After this time no session the entry rejects can still be accepted.
    forget_after: u64,
}

impl Cutoff {
    /// The union of two revocations of the same subject.
    fn merge(self, other: Cutoff) -> Cutoff {
        Cutoff {
            before: self.before.max(other.before),
            forget_after: self.forget_after.max(other.forget_after),
        }
    }
}

type Table = HashMap<Box<str>, Cutoff>;

/// Subjects whose sessions issued before a cutoff are revoked ("log out
/// everywhere"). `Send + Sync`; shared by a [`Verifier`](crate::Verifier) and
/// its clones, and across [`LiveVerifier::set_keys`](crate::LiveVerifier::set_keys),
/// like the [`RevocationFilter`](crate::RevocationFilter).
///
/// Lookups are lock-free and cost nothing beyond one atomic load while the
/// table is empty. Never reads the clock: [`prune`](Self::prune) is told the
/// time.
///
/// ```
/// use tessera::SubjectRevocations;
///
/// let subjects = SubjectRevocations::new(1_000);
/// subjects.revoke("alice", 1_700_000_000, 1_700_050_000)?;
/// assert!(subjects.is_revoked("alice", 1_699_999_999));
/// assert!(!subjects.is_revoked("alice", 1_700_000_000)); // issued at the cutoff
/// assert!(!subjects.is_revoked("bob", 1_600_000_000));
/// let copy = SubjectRevocations::from_snapshot(&subjects.to_snapshot(), 1_000)?;
/// assert!(copy.is_revoked("alice", 1_699_999_999));
/// # Ok::<(), tessera::Error>(())
/// ```
pub struct SubjectRevocations {
    capacity: usize,
    table: ArcSwap<Table>,
    /// Serializes the writers that replace `table`.
    writer: Mutex<()>,
}

impl fmt::Debug for SubjectRevocations {
    /// Counts only: subjects are user identifiers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectRevocations")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl SubjectRevocations {
    /// An empty table that holds at most `capacity` subjects at once.
    pub fn new(capacity: usize) -> SubjectRevocations {
        SubjectRevocations {
            capacity,
            table: ArcSwap::from_pointee(Table::new()),
            writer: Mutex::new(()),
        }
    }

    /// When a revocation with cutoff `before` may be forgotten, for sessions
    /// of at most `max_lifetime`: every session it rejects was issued before
    /// `before`, so its deadline is before `before + max_lifetime`, and no
    /// verifier accepts it once the largest leeway has passed too.
    pub fn forget_after(before: u64, max_lifetime: Duration) -> u64 {
        before
            .saturating_add(max_lifetime.as_secs())
            .saturating_add(MAX_LEEWAY.as_secs())
    }

    /// The most subjects held at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Subjects currently held.
    pub fn len(&self) -> usize {
        self.table.load().len()
    }

    /// Whether no subject is revoked.
    pub fn is_empty(&self) -> bool {
        self.table.load().is_empty()
    }

    /// Whether a session of `subject` that began at `issued_at` is revoked:
    /// its subject was revoked with a cutoff after `issued_at`. Pass the
    /// session's first issue time, not a renewal's (the
    /// [`Verifier`](crate::Verifier) does).
    pub fn is_revoked(&self, subject: &str, issued_at: u64) -> bool {
        let table = self.table.load();
        if table.is_empty() {
            return false;
        }
        table.get(subject).is_some_and(|c| issued_at < c.before)
    }

    /// The cutoff in force for `subject`, if it is revoked.
    pub fn cutoff(&self, subject: &str) -> Option<u64> {
        self.table.load().get(subject).map(|c| c.before)
    }

    /// Revokes every session of `subject` issued strictly before `before`
    /// (unix seconds), until `forget_after`: the time after which no such
    /// session can still be accepted (the latest deadline plus the largest
    /// leeway; [`Verifier::revoke_subject`](crate::Verifier::revoke_subject)
    /// computes it). A later revocation of the same subject keeps the later
    /// cutoff.
    ///
    /// # Errors
    ///
    /// [`Error::SubjectTooLong`] if `subject` is longer than
    /// [`MAX_SUBJECT_LEN`] bytes; [`Error::SubjectTableFull`] if the table
    /// already holds `capacity` other subjects. Nothing is changed then.
    pub fn revoke(&self, subject: &str, before: u64, forget_after: u64) -> Result<(), Error> {
        if subject.len() > MAX_SUBJECT_LEN {
            return Err(Error::SubjectTooLong);
        }
        let cutoff = Cutoff {
            before,
            forget_after,
        };
        self.update(|table| insert(table, self.capacity, subject, cutoff))
    }

    /// Forgets revocations whose `forget_after` is before `now`.
    pub fn prune(&self, now: u64) {
        let table = self.table.load();
        if !table.values().any(|c| c.forget_after < now) {
            return;
        }
        drop(table);
        // Infallible: nothing is added.
        let _ = self.update(|table| {
            table.retain(|_, c| c.forget_after >= now);
            Ok(())
        });
    }

    /// Heap bytes held, counted from the subjects and the map's slots.
    pub fn memory_bytes(&self) -> usize {
        let table = self.table.load();
        let slot = std::mem::size_of::<(Box<str>, Cutoff)>() + 1;
        table.capacity() * slot + table.keys().map(|k| k.len()).sum::<usize>()
    }

    /// Copies the map, applies `change` to the copy and publishes it, unless
    /// `change` fails.
    fn update(&self, change: impl FnOnce(&mut Table) -> Result<(), Error>) -> Result<(), Error> {
        // A poisoned lock only means another writer panicked between copy and
        // publish; the published table is intact.
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut table = Table::clone(&self.table.load());
        change(&mut table)?;
        self.table.store(Arc::new(table));
        Ok(())
    }

    /// A versioned binary snapshot with a CRC-32 integrity check
    /// (docs/FORMAT.md), entries sorted by subject so that equal tables give
    /// equal bytes.
    pub fn to_snapshot(&self) -> Vec<u8> {
        let table = self.table.load();
        let mut entries: Vec<_> = table.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut out = Vec::with_capacity(4 + 1 + 8 + entries.len() * (ENTRY_MIN_BYTES + 16) + 4);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.push(SNAPSHOT_VERSION);
        out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        for (subject, cutoff) in entries {
            out.extend_from_slice(&cutoff.before.to_le_bytes());
            out.extend_from_slice(&cutoff.forget_after.to_le_bytes());
            // `revoke` and the parser bound subjects to MAX_SUBJECT_LEN (< 2^16).
            let len = u16::try_from(subject.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(subject.as_bytes());
        }
        seal(&mut out);
        out
    }

    /// Loads a snapshot made by [`to_snapshot`](Self::to_snapshot) into a
    /// table of `capacity` subjects.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptSnapshot`] for anything that is not an intact snapshot
    /// of this version (wrong magic or version, failed check, truncated, extra
    /// bytes, a subject too long or not UTF-8, a subject twice) or one with
    /// more than `capacity` subjects. Allocation is bounded by the length of
    /// `bytes`.
    pub fn from_snapshot(bytes: &[u8], capacity: usize) -> Result<SubjectRevocations, Error> {
        let table = parse(bytes)?;
        if table.len() > capacity {
            return Err(Error::CorruptSnapshot);
        }
        Ok(SubjectRevocations {
            capacity,
            table: ArcSwap::from_pointee(table),
            writer: Mutex::new(()),
        })
    }

    /// Adds every revocation in `bytes` (a snapshot) to this table, keeping
    /// the later cutoff where both name a subject.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptSnapshot`] as in [`from_snapshot`](Self::from_snapshot),
    /// or [`Error::SubjectTableFull`] if the union would hold more than
    /// `capacity` subjects. Either way nothing is changed.
    pub fn merge_snapshot(&self, bytes: &[u8]) -> Result<(), Error> {
        let other = parse(bytes)?;
        self.update(|table| {
            for (subject, cutoff) in other {
                insert(table, self.capacity, &subject, cutoff)?;
            }
            Ok(())
        })
    }
}

impl SubjectRevocations {
    /// The longest snapshot of a table of `capacity` subjects.
    fn max_snapshot_len(capacity: usize) -> usize {
        capacity
            .saturating_mul(ENTRY_MIN_BYTES + MAX_SUBJECT_LEN)
            .saturating_add(4 + 1 + 8 + 4)
    }

    /// Writes a snapshot to `path` atomically (temporary file, fsync,
    /// rename; mode 0600).
    ///
    /// # Errors
    ///
    /// [`Error::File`] (naming the file, with the system's message) if the
    /// file cannot be written; the previous file is then intact.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        crate::files::save(path.as_ref(), &self.to_snapshot())
    }

    /// Reads a snapshot from `path` into a table of `capacity` subjects.
    ///
    /// # Errors
    ///
    /// [`Error::File`] if the file cannot be read; [`Error::CorruptSnapshot`] as
    /// [`from_snapshot`](Self::from_snapshot), or for a file longer than a
    /// table of `capacity` subjects can be (checked while reading).
    pub fn load(path: impl AsRef<Path>, capacity: usize) -> Result<SubjectRevocations, Error> {
        let max = Self::max_snapshot_len(capacity);
        let bytes = crate::files::read_at_most(path.as_ref(), max)?;
        if bytes.len() > max {
            return Err(Error::CorruptSnapshot);
        }
        SubjectRevocations::from_snapshot(&bytes, capacity)
    }
}

/// Adds or merges one revocation into `table`, refusing a new subject past
/// `capacity`.
fn insert(table: &mut Table, capacity: usize, subject: &str, cutoff: Cutoff) -> Result<(), Error> {
    if let Some(held) = table.get_mut(subject) {
        *held = held.merge(cutoff);
        return Ok(());
    }
    if table.len() >= capacity {
        return Err(Error::SubjectTableFull);
    }
    table.insert(subject.into(), cutoff);
    Ok(())
}

/// Parses a snapshot into a table (no capacity check).
fn parse(bytes: &[u8]) -> Result<Table, Error> {
    let rest = open_sealed(bytes, SNAPSHOT_MAGIC.as_slice(), SNAPSHOT_VERSION)?;
    let (count, mut rest) = take_u64(rest)?;
    let count = usize::try_from(count).map_err(|_| Error::CorruptSnapshot)?;
    // Every entry takes at least ENTRY_MIN_BYTES: bound the count by the input.
    if count
        .checked_mul(ENTRY_MIN_BYTES)
        .is_none_or(|n| n > rest.len())
    {
        return Err(Error::CorruptSnapshot);
    }
    let mut table = Table::with_capacity(count);
    for _ in 0..count {
        let (before, r) = take_u64(rest)?;
        let (forget_after, r) = take_u64(r)?;
        let (len, r) = r.split_first_chunk::<2>().ok_or(Error::CorruptSnapshot)?;
        let len = usize::from(u16::from_le_bytes(*len));
        if len > MAX_SUBJECT_LEN || len > r.len() {
            return Err(Error::CorruptSnapshot);
        }
        let (subject, r) = r.split_at(len);
        let subject = std::str::from_utf8(subject).map_err(|_| Error::CorruptSnapshot)?;
        let cutoff = Cutoff {
            before,
            forget_after,
        };
        if table.insert(subject.into(), cutoff).is_some() {
            return Err(Error::CorruptSnapshot);
        }
        rest = r;
    }
    if !rest.is_empty() {
        return Err(Error::CorruptSnapshot);
    }
    Ok(table)
}

fn take_u64(bytes: &[u8]) -> Result<(u64, &[u8]), Error> {
    let (head, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or(Error::CorruptSnapshot)?;
    Ok((u64::from_le_bytes(*head), rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revocation::crc32;

    const T0: u64 = 1_750_000_000;

    #[test]
    fn cutoff_is_exclusive_and_later_cutoffs_win() {
        let s = SubjectRevocations::new(10);
        s.revoke("alice", T0, T0 + 100).unwrap();
        assert!(s.is_revoked("alice", T0 - 1));
        assert!(!s.is_revoked("alice", T0));
        s.revoke("alice", T0 - 50, T0 + 10).unwrap();
        assert_eq!(s.cutoff("alice"), Some(T0));
        s.revoke("alice", T0 + 5, T0 + 10).unwrap();
        assert!(s.is_revoked("alice", T0 + 4));
        assert!(!s.is_revoked("bob", 0));
    }

    #[test]
    fn prune_forgets_only_what_has_passed() {
        let s = SubjectRevocations::new(10);
        s.revoke("a", T0, T0 + 100).unwrap();
        s.revoke("b", T0, T0 + 200).unwrap();
        s.prune(T0 + 100);
        assert_eq!(s.len(), 2);
        s.prune(T0 + 101);
        assert_eq!(s.cutoff("a"), None);
        assert_eq!(s.cutoff("b"), Some(T0));
    }

    #[test]
    fn bounds_are_enforced_without_changes() {
        let s = SubjectRevocations::new(2);
        s.revoke("a", T0, T0).unwrap();
        s.revoke("b", T0, T0).unwrap();
        assert_eq!(s.revoke("c", T0, T0), Err(Error::SubjectTableFull));
        // An existing subject still updates.
        s.revoke("a", T0 + 1, T0).unwrap();
        assert_eq!(s.cutoff("a"), Some(T0 + 1));
        let long = "x".repeat(MAX_SUBJECT_LEN + 1);
        assert_eq!(s.revoke(&long, T0, T0), Err(Error::SubjectTooLong));
        assert_eq!(s.len(), 2);
        s.prune(T0 + 1);
        s.revoke(&"x".repeat(MAX_SUBJECT_LEN), T0, T0).unwrap();
    }

    #[test]
    fn snapshots_round_trip_and_merge() {
        let s = SubjectRevocations::new(10);
        s.revoke("alice", T0, T0 + 100).unwrap();
        s.revoke("bob", T0 + 1, T0 + 200).unwrap();
        let snap = s.to_snapshot();
        let copy = SubjectRevocations::from_snapshot(&snap, 10).unwrap();
        assert_eq!(copy.to_snapshot(), snap);
        assert_eq!(
            SubjectRevocations::from_snapshot(&snap, 1).err(),
            Some(Error::CorruptSnapshot)
        );
        let other = SubjectRevocations::new(10);
        other.revoke("alice", T0 + 7, T0 + 50).unwrap();
        other.revoke("carol", T0, T0).unwrap();
        other.merge_snapshot(&snap).unwrap();
        assert_eq!(other.cutoff("alice"), Some(T0 + 7));
        assert_eq!(other.cutoff("bob"), Some(T0 + 1));
        assert_eq!(other.len(), 3);
        let small = SubjectRevocations::new(2);
        small.revoke("dave", T0, T0).unwrap();
        assert_eq!(small.merge_snapshot(&snap), Err(Error::SubjectTableFull));
        assert_eq!(small.len(), 1);
    }

    #[test]
    fn files_round_trip_and_oversized_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("tessera-subjects-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("revoked.subjects");
        let s = SubjectRevocations::new(2);
        s.revoke("alice", T0, T0 + 100).unwrap();
        s.save(&path).unwrap();
        let back = SubjectRevocations::load(&path, 2).unwrap();
        assert_eq!(back.cutoff("alice"), Some(T0));
        std::fs::write(
            &path,
            vec![0u8; SubjectRevocations::max_snapshot_len(1) + 1],
        )
        .unwrap();
        assert_eq!(
            SubjectRevocations::load(&path, 1).err(),
            Some(Error::CorruptSnapshot)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_corruption_is_an_error_and_changes_nothing() {
        let s = SubjectRevocations::new(10);
        s.revoke("alice", T0, T0 + 100).unwrap();
        let snap = s.to_snapshot();
        let target = SubjectRevocations::new(10);
        for cut in 0..snap.len() {
            assert!(SubjectRevocations::from_snapshot(&snap[..cut], 10).is_err());
        }
        for i in 0..snap.len() {
            for bit in 0..8 {
                let mut bad = snap.clone();
                bad[i] ^= 1 << bit;
                assert_eq!(target.merge_snapshot(&bad), Err(Error::CorruptSnapshot));
            }
        }
        assert!(target.is_empty());
    }

    /// Structurally bad content under a valid check: hostile snapshots.
    #[test]
    fn hostile_content_with_a_valid_check_is_refused() {
        let seal = |mut body: Vec<u8>| {
            let c = crc32(&body);
            body.extend_from_slice(&c.to_le_bytes());
            body
        };
        let head = |count: u64| {
            let mut b = SNAPSHOT_MAGIC.to_vec();
            b.push(SNAPSHOT_VERSION);
            b.extend_from_slice(&count.to_le_bytes());
            b
        };
        let entry = |subject: &[u8], len: u16| {
            let mut b = T0.to_le_bytes().to_vec();
            b.extend_from_slice(&T0.to_le_bytes());
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(subject);
            b
        };
        // A huge count with no entries: refused before allocating.
        assert!(parse(&seal(head(u64::MAX))).is_err());
        // Length past the end, over the bound, invalid UTF-8, a duplicate.
        let mut b = head(1);
        b.extend(entry(b"ab", 3));
        assert!(parse(&seal(b)).is_err());
        let mut b = head(1);
        let long = vec![b'x'; MAX_SUBJECT_LEN + 1];
        b.extend(entry(&long, (MAX_SUBJECT_LEN + 1) as u16));
        assert!(parse(&seal(b)).is_err());
        let mut b = head(1);
        b.extend(entry(&[0xff, 0xfe], 2));
        assert!(parse(&seal(b)).is_err());
        let mut b = head(2);
        b.extend(entry(b"a", 1));
        b.extend(entry(b"a", 1));
        assert!(parse(&seal(b)).is_err());
        // Trailing bytes.
        let mut b = head(1);
        b.extend(entry(b"a", 1));
        b.push(0);
        assert!(parse(&seal(b)).is_err());
        // And the well-formed one is accepted.
        let mut b = head(1);
        b.extend(entry(b"a", 1));
        assert_eq!(parse(&seal(b)).unwrap().len(), 1);
    }
}
