//! Snapshots: the versioned, CRC-checked byte format of docs/FORMAT.md, and
//! the files that hold it.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::bloom::{Block, SubFilter, BLOCK_BITS, BLOCK_BYTES, MAX_K};
use super::{Generation, RevocationFilter, MAX_CHAIN, MAX_FP_RATE};
use crate::Error;

/// The longest snapshot [`RevocationFilter::load`] reads (256 MiB): far above
/// any real filter (a million revocations at 1% take about 2.2 MB), and a
/// bound on what a hostile file can make a verifier allocate.
pub const MAX_SNAPSHOT_LEN: usize = 256 << 20;

pub(super) const SNAPSHOT_MAGIC: &[u8; 4] = b"TSRV";
pub(super) const SNAPSHOT_VERSION: u8 = 1;
pub(super) const CHECK_LEN: usize = 4;

impl RevocationFilter {
    /// A versioned binary snapshot with a CRC-32 integrity check; the format is
    /// in docs/FORMAT.md. Revocations made while it is taken may or may not be
    /// in it; every revocation that returned before it began is in it, and it
    /// always loads.
    pub fn to_snapshot(&self) -> Vec<u8> {
        let table = self.read();
        let mut out = Vec::new();
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.push(SNAPSHOT_VERSION);
        out.extend_from_slice(&self.capacity.to_le_bytes());
        out.extend_from_slice(&self.fp_rate.to_bits().to_le_bytes());
        out.extend_from_slice(&(table.len() as u64).to_le_bytes());
        for generation in table.iter() {
            out.extend_from_slice(&generation.bucket.to_le_bytes());
            // One walk of the chain writes the sub-filters and counts them;
            // the count goes into the slot reserved before them. (Counting
            // in a walk of its own let a `revoke` that grew the chain in
            // between write one sub-filter more than the count said.)
            let count_at = out.len();
            out.extend_from_slice(&0u64.to_le_bytes());
            let mut subs = 0u64;
            for sub in generation.chain() {
                subs += 1;
                out.extend_from_slice(&sub.capacity.to_le_bytes());
                let count = sub.count.load(Ordering::Relaxed);
                out.extend_from_slice(&count.to_le_bytes());
                out.extend_from_slice(&sub.fp_target.to_bits().to_le_bytes());
                out.extend_from_slice(&sub.k.to_le_bytes());
                out.extend_from_slice(&(sub.blocks.len() as u64).to_le_bytes());
                for word in sub.blocks.iter().flat_map(|b| &b.0) {
                    out.extend_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
                }
            }
            if let Some(slot) = out.get_mut(count_at..count_at + 8) {
                slot.copy_from_slice(&subs.to_le_bytes());
            }
        }
        seal(&mut out);
        out
    }

    /// Loads a snapshot made by [`to_snapshot`](Self::to_snapshot), with the
    /// capacity, rate and revocations it was taken with.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptSnapshot`] for anything that is not an intact snapshot
    /// of this version: wrong magic or version, failed check, truncated, extra
    /// bytes, or values out of range. Never a partial or empty filter.
    /// Allocation is bounded by the length of `bytes`.
    pub fn from_snapshot(bytes: &[u8]) -> Result<RevocationFilter, Error> {
        let (filter, generations) = parse(bytes)?;
        // A fresh table of exactly that length (collecting in place would
        // keep the parsed generations' larger allocation).
        let mut table = Vec::with_capacity(generations.len());
        table.extend(generations.into_iter().map(Arc::new));
        filter.generations.store(Arc::new(table));
        Ok(filter)
    }
}

/// Checks and parses a whole snapshot: an empty filter with its capacity and
/// rate, and its generations, sorted by bucket.
pub(super) fn parse(bytes: &[u8]) -> Result<(RevocationFilter, Vec<Generation>), Error> {
    let mut input = Reader(open_sealed(bytes, SNAPSHOT_MAGIC, SNAPSHOT_VERSION)?);
    let capacity = input.u64()?;
    let fp_rate = input.f64()?;
    let capacity = usize::try_from(capacity).map_err(|_| Error::CorruptSnapshot)?;
    let filter = RevocationFilter::new(capacity, fp_rate);
    if filter.capacity != capacity as u64 || filter.fp_rate.to_bits() != fp_rate.to_bits() {
        return Err(Error::CorruptSnapshot);
    }
    let generations = input.count(GENERATION_MIN_BYTES)?;
    let mut table: Vec<Generation> = Vec::with_capacity(generations);
    for _ in 0..generations {
        let generation = input.generation()?;
        if table.last().is_some_and(|g| g.bucket >= generation.bucket) {
            return Err(Error::CorruptSnapshot);
        }
        table.push(generation);
    }
    if !input.0.is_empty() {
        return Err(Error::CorruptSnapshot);
    }
    Ok((filter, table))
}

/// Bytes of the smallest generation and sub-filter records, to bound counts by
/// the input before allocating for them.
pub(super) const SUB_FILTER_MIN_BYTES: usize = 8 + 8 + 8 + 4 + 8 + BLOCK_BYTES;
pub(super) const GENERATION_MIN_BYTES: usize = 8 + 8 + SUB_FILTER_MIN_BYTES;

/// Reads a snapshot front to back; every read fails on missing bytes.
pub(super) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(Error::CorruptSnapshot)?;
        self.0 = rest;
        Ok(*head)
    }

    fn u64(&mut self) -> Result<u64, Error> {
        self.array().map(u64::from_le_bytes)
    }

    fn f64(&mut self) -> Result<f64, Error> {
        self.u64().map(f64::from_bits)
    }

    /// A count of records of at least `min_bytes` each, refused if the rest of
    /// the input could not hold them.
    fn count(&mut self, min_bytes: usize) -> Result<usize, Error> {
        let count = usize::try_from(self.u64()?).map_err(|_| Error::CorruptSnapshot)?;
        match count.checked_mul(min_bytes) {
            Some(needed) if needed <= self.0.len() => Ok(count),
            _ => Err(Error::CorruptSnapshot),
        }
    }

    fn generation(&mut self) -> Result<Generation, Error> {
        let bucket = self.u64()?;
        let subs = self.count(SUB_FILTER_MIN_BYTES)?;
        // Longer chains are never built: refused before anything is
        // allocated for them.
        if subs > MAX_CHAIN {
            return Err(Error::CorruptSnapshot);
        }
        let mut chain = Vec::with_capacity(subs);
        for _ in 0..subs {
            chain.push(self.sub_filter()?);
        }
        Generation::from_chain(bucket, chain).ok_or(Error::CorruptSnapshot)
    }

    fn sub_filter(&mut self) -> Result<SubFilter, Error> {
        let capacity = self.u64()?;
        let count = self.u64()?;
        let fp_target = self.f64()?;
        let k = u32::from_le_bytes(self.array()?);
        let blocks = self.count(BLOCK_BYTES)?;
        let valid = capacity >= 1
            && count <= capacity
            && fp_target > 0.0
            && fp_target <= MAX_FP_RATE
            && (1..=MAX_K).contains(&k)
            && blocks >= 1
            // A block holds fewer ids than it has bits at any rate; a larger
            // capacity would make the sub-filter grown after it huge.
            && u64::try_from(blocks)
                .ok()
                .and_then(|b| b.checked_mul(u64::from(BLOCK_BITS)))
                .is_some_and(|bits| capacity <= bits);
        if !valid {
            return Err(Error::CorruptSnapshot);
        }
        // `count` checked that the blocks are all there.
        let blocks = (0..blocks)
            .map(|_| {
                let mut block = Block::default();
                for word in &mut block.0 {
                    *word.get_mut() = self.u64()?;
                }
                Ok(block)
            })
            .collect::<Result<_, Error>>()?;
        Ok(SubFilter::with_blocks(
            blocks, k, capacity, fp_target, count,
        ))
    }
}

impl RevocationFilter {
    /// Writes a snapshot to `path` atomically (temporary file, fsync, rename;
    /// mode 0600): a reader never sees a half-written snapshot.
    ///
    /// # Errors
    ///
    /// [`Error::File`] (naming the file, with the system's message) if the
    /// file cannot be written; the previous file is then intact.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        crate::files::save(path.as_ref(), &self.to_snapshot())
    }

    /// Reads a snapshot from `path`.
    ///
    /// # Errors
    ///
    /// [`Error::File`] if the file cannot be read, [`Error::CorruptSnapshot`] if
    /// it is not an intact snapshot or is longer than [`MAX_SNAPSHOT_LEN`]
    /// (checked while reading, so a huge file is never read whole).
    pub fn load(path: impl AsRef<Path>) -> Result<RevocationFilter, Error> {
        let bytes = crate::files::read_at_most(path.as_ref(), MAX_SNAPSHOT_LEN)?;
        if bytes.len() > MAX_SNAPSHOT_LEN {
            return Err(Error::CorruptSnapshot);
        }
        RevocationFilter::from_snapshot(&bytes)
    }
}

/// Appends the CRC-32 of everything in `out`: the last [`CHECK_LEN`] bytes
/// of every tessera snapshot (revocations, subject revocations, the fleet's
/// container).
pub(crate) fn seal(out: &mut Vec<u8>) {
    let check = crc32(out);
    out.extend_from_slice(&check.to_le_bytes());
}

/// Checks a snapshot made with [`seal`]: its CRC-32, then its `magic` and
/// `version`. Returns what lies between them and the check.
///
/// # Errors
///
/// [`Error::CorruptSnapshot`] if any of the three does not match.
pub(crate) fn open_sealed<'a>(
    bytes: &'a [u8],
    magic: &[u8],
    version: u8,
) -> Result<&'a [u8], Error> {
    let (content, check) = bytes
        .split_last_chunk::<CHECK_LEN>()
        .ok_or(Error::CorruptSnapshot)?;
    if crc32(content) != u32::from_le_bytes(*check) {
        return Err(Error::CorruptSnapshot);
    }
    content
        .strip_prefix(magic)
        .and_then(|rest| rest.strip_prefix(&[version]))
        .ok_or(Error::CorruptSnapshot)
}

/// CRC-32 (IEEE 802.3, reflected), a byte at a time from a table built at
/// compile time.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &byte in bytes {
        crc = (crc >> 8) ^ TABLE[usize::from((crc as u8) ^ byte)];
    }
    !crc
}
