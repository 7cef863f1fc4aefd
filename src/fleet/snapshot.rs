//! The fleet snapshot stored in Redis: the revocation filter and the subject
//! revocations as of one stream position, in one checked container.

use super::event::EntryId;
use crate::revocation::{open_sealed, seal};
use crate::{Error, RevocationFilter, SubjectRevocations, MAX_SNAPSHOT_LEN};

const MAGIC: &[u8; 4] = b"TSFL";
const VERSION: u8 = 1;

/// The largest container a follower reads: a filter snapshot, a subject
/// snapshot (at most 1 KiB per subject) and the header.
pub(crate) const MAX_FLEET_SNAPSHOT_LEN: usize = MAX_SNAPSHOT_LEN + (64 << 20);

/// A decoded container: the two inner snapshots are still bytes, each with
/// its own check, merged by their own parsers.
pub(crate) struct FleetSnapshot<'a> {
    /// Every entry up to and including this one is in it.
    pub position: EntryId,
    /// When it was written (unix seconds).
    pub written_at: u64,
    pub filter: &'a [u8],
    pub subjects: &'a [u8],
}

/// Encodes the container (docs/FORMAT.md, "Fleet snapshot").
pub(crate) fn encode(
    position: EntryId,
    written_at: u64,
    filter: &RevocationFilter,
    subjects: &SubjectRevocations,
) -> Vec<u8> {
    let filter = filter.to_snapshot();
    let subjects = subjects.to_snapshot();
    let mut out = Vec::with_capacity(5 + 8 * 5 + filter.len() + subjects.len() + 4);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&position.ms.to_le_bytes());
    out.extend_from_slice(&position.seq.to_le_bytes());
    out.extend_from_slice(&written_at.to_le_bytes());
    out.extend_from_slice(&(filter.len() as u64).to_le_bytes());
    out.extend_from_slice(&filter);
    out.extend_from_slice(&(subjects.len() as u64).to_le_bytes());
    out.extend_from_slice(&subjects);
    seal(&mut out);
    out
}

/// Decodes the container's frame; the inner snapshots are checked when they
/// are merged.
///
/// # Errors
///
/// [`Error::CorruptSnapshot`] for a bad magic, version, check or length.
pub(crate) fn decode(bytes: &[u8]) -> Result<FleetSnapshot<'_>, Error> {
    if bytes.len() > MAX_FLEET_SNAPSHOT_LEN {
        return Err(Error::CorruptSnapshot);
    }
    let rest = open_sealed(bytes, MAGIC.as_slice(), VERSION)?;
    let (ms, rest) = take_u64(rest)?;
    let (seq, rest) = take_u64(rest)?;
    let (written_at, rest) = take_u64(rest)?;
    let (filter, rest) = take_bytes(rest)?;
    let (subjects, rest) = take_bytes(rest)?;
    if !rest.is_empty() {
        return Err(Error::CorruptSnapshot);
    }
    Ok(FleetSnapshot {
        position: EntryId { ms, seq },
        written_at,
        filter,
        subjects,
    })
}

fn take_u64(bytes: &[u8]) -> Result<(u64, &[u8]), Error> {
    let (head, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or(Error::CorruptSnapshot)?;
    Ok((u64::from_le_bytes(*head), rest))
}

fn take_bytes(bytes: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    let (len, rest) = take_u64(bytes)?;
    let len = usize::try_from(len).map_err(|_| Error::CorruptSnapshot)?;
    if len > rest.len() {
        return Err(Error::CorruptSnapshot);
    }
    Ok(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revocation::crc32;
    use crate::SessionId;

    #[test]
    fn round_trip_and_every_corruption_refused() {
        let filter = RevocationFilter::new(100, 0.01);
        filter.revoke(SessionId([3; 16]), 1_750_000_000);
        let subjects = SubjectRevocations::new(10);
        subjects.revoke("alice", 5, 6).unwrap();
        let at = EntryId { ms: 42, seq: 7 };
        let bytes = encode(at, 99, &filter, &subjects);
        let snap = decode(&bytes).unwrap();
        assert_eq!(snap.position, at);
        assert_eq!(snap.written_at, 99);
        assert_eq!(snap.filter, filter.to_snapshot());
        assert_eq!(snap.subjects, subjects.to_snapshot());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err());
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad).is_err(), "byte {i}");
        }
        // A length past the end under a valid check.
        let mut forged = bytes[..bytes.len() - 4].to_vec();
        let at_len = 4 + 1 + 24;
        forged[at_len..at_len + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        let c = crc32(&forged);
        forged.extend_from_slice(&c.to_le_bytes());
        assert_eq!(decode(&forged).err(), Some(Error::CorruptSnapshot));
    }
}
