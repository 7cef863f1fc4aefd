//! Unit tests of the filter's internals: sizes, bit layout, growth rules,
//! snapshot parsing. Compiled only under `#[cfg(test)]` (see mod.rs).

use super::bloom::*;
use super::snapshot::*;
use super::*;
use crate::Error;

use super::test_ids::Rng as Ids;

/// The generation for `bucket`.
fn generation_of(f: &RevocationFilter, bucket: u64) -> Arc<Generation> {
    f.generation(bucket).expect("a live generation")
}

#[test]
fn a_new_generation_starts_with_one_small_sub_filter_at_half_the_rate() {
    // Capacity 10 is below the first sub-filter's 64 ids, so that
    // sub-filter takes the largest part of the budget: half of 1%.
    let f = RevocationFilter::new(10, 0.01);
    f.revoke(SessionId([1; 16]), 5);
    f.revoke(SessionId([2; 16]), 6);
    f.revoke(SessionId([9; 16]), 7200);
    assert_eq!(
        format!("{f:?}"),
        "RevocationFilter { capacity: 10, fp_rate: 0.01, generations: 2, held: 3 }"
    );
    let (k, per_block) = design(0.005);
    // 64 ids at 0.5% need two blocks (about 44.5 ids each); the
    // sub-filter then holds what two whole blocks hold.
    assert_eq!(k, 7);
    assert_eq!((64.0 / per_block).ceil(), 2.0);
    for (bucket, count) in [(0, 2), (2, 1)] {
        let g = generation_of(&f, bucket);
        assert_eq!(g.chain().count(), 1);
        let s = &g.first;
        assert_eq!((s.k, s.blocks.len(), s.fp_target), (7, 2, 0.005));
        assert_eq!(s.capacity, (2.0 * per_block) as u64);
        assert_eq!(s.capacity, 89);
        assert_eq!(s.count.load(Ordering::Relaxed), count);
    }
    assert!(f.generation(1).is_none());
    // Header 29 bytes, then per generation 16 and per sub-filter 36 bytes
    // plus its blocks, then the 4-byte check.
    assert_eq!(f.to_snapshot().len(), 29 + 2 * (16 + 36 + 2 * 64) + 4);
}

#[test]
fn a_sub_filter_takes_exactly_its_capacity_in_slots() {
    let s = SubFilter::with_blocks(vec![Block::default()].into(), 3, 3, 0.01, 0);
    assert!(s.try_reserve() && s.try_reserve() && s.try_reserve());
    assert!(!s.try_reserve());
    assert!(!s.try_reserve());
    assert_eq!(s.count.load(Ordering::Relaxed), 3);
    let full = SubFilter::with_blocks(vec![Block::default()].into(), 3, 5, 0.01, 5);
    assert!(!full.try_reserve());
}

/// An id whose block index bits are `high` and whose low bits give the
/// nine-bit positions `positions`, first position lowest.
fn id_at(high: u64, positions: &[u32]) -> SessionId {
    let mut bits = u128::from(high) << 64;
    for (i, &p) in positions.iter().enumerate() {
        bits |= u128::from(p) << (9 * i);
    }
    SessionId(bits.to_le_bytes())
}

fn words(block: &Block) -> [u64; BLOCK_WORDS] {
    std::array::from_fn(|i| block.0[i].load(Ordering::Relaxed))
}

#[test]
fn an_id_sets_exactly_its_k_bits_in_the_block_its_high_bits_pick() {
    let blocks = || (0..4).map(|_| Block::default()).collect();
    let s = SubFilter::with_blocks(blocks(), 3, 100, 0.01, 0);
    // The top quarter of the high bits picks the last of four blocks.
    let id = id_at(u64::MAX, &[5, 64 + 7, 511]);
    s.insert(&id);
    for (i, block) in s.blocks.iter().enumerate() {
        let expected = if i == 3 {
            [1 << 5, 1 << 7, 0, 0, 0, 0, 0, 1 << 63]
        } else {
            [0; BLOCK_WORDS]
        };
        assert_eq!(words(block), expected, "block {i}");
    }
    assert!(s.contains(&id));
    // Bits past the first k positions are not positions.
    assert!(s.contains(&SessionId(
        (u128::from_le_bytes(id.0) | (0x7ff << 27)).to_le_bytes()
    )));
    // One position off, or another block: not there.
    assert!(!s.contains(&id_at(u64::MAX, &[5, 64 + 7, 510])));
    assert!(!s.contains(&id_at(u64::MAX, &[4, 64 + 7, 511])));
    assert!(!s.contains(&id_at(u64::MAX, &[5, 64 + 6, 511])));
    assert!(!s.contains(&id_at(0, &[5, 64 + 7, 511])));

    // Multiply-shift: each quarter of the high bits picks its own block.
    for (high, index) in [
        (0, 0),
        ((1 << 62) - 1, 0),
        (1 << 62, 1),
        (u64::MAX / 2, 1),
        (1 << 63, 2),
        (3 << 62, 3),
    ] {
        let s = SubFilter::with_blocks(blocks(), 2, 100, 0.01, 0);
        let id = id_at(high, &[100, 200]);
        s.insert(&id);
        let set: Vec<usize> = (0..4).filter(|&i| words(&s.blocks[i]) != [0; 8]).collect();
        assert_eq!(set, [index], "high bits {high:#x}");
        assert_eq!(words(&s.blocks[index])[1..4], [1 << 36, 0, 1 << 8]);
        assert!(s.contains(&id));
    }
}

#[test]
fn the_design_is_the_densest_over_every_k() {
    // The largest load each `k` can take at `target`, found by a finer
    // bisection than `design`'s, over the whole block.
    fn densest(target: f64, k: u32) -> f64 {
        let (mut low, mut high) = (0.0f64, f64::from(BLOCK_BITS));
        for _ in 0..60 {
            let mid = (low + high) / 2.0;
            if blocked_fp_rate(mid, k) <= target {
                low = mid;
            } else {
                high = mid;
            }
        }
        low
    }
    let targets = [
        0.5, 0.3, 0.25, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 1e-4, 1e-5, 1e-6, 1e-7, 1e-9,
    ];
    for target in targets {
        let (k, per_block) = design(target);
        assert!(blocked_fp_rate(per_block, k) <= target, "{target}");
        // Within `design`'s precision of the densest load for its `k`:
        // 2^-18 of its bisection's interval, whose upper end (the
        // unblocked filter's load) is less than twice the answer.
        let error = 1.0 - per_block / densest(target, k);
        assert!((0.0..0.5f64.powi(17)).contains(&error), "{target}: {error}");
        // ...and no other `k` packs more ids.
        for other in 1..=MAX_K {
            assert!(
                densest(target, other) <= per_block * (1.0 + 1e-4),
                "{target}: k = {other} beats k = {k}"
            );
        }
    }
    assert_eq!(design(0.5).0, 1);
    assert_eq!(design(0.01).0, 6);
    assert_eq!(design(1e-5).0, MAX_K);
}

#[test]
fn blocked_rate_matches_its_closed_form() {
    // With `n` ids in the probed block (Poisson with mean `load`), a given
    // bit stays clear with probability `c^n`, `c = (1 - 1/512)^k`, so the
    // rate is `E[(1 - c^n)^k]` = `sum_j C(k, j) (-1)^j exp(-load (1 - c^j))`.
    for k in 1..=MAX_K {
        let c = (1.0 - 1.0 / f64::from(BLOCK_BITS)).powi(k as i32);
        for load in [0.001, 0.5, 1.0, 10.0, 44.5, 100.0, 354.9, 512.0] {
            let mut binomial = 1.0;
            let mut exact = 0.0;
            for j in 0..=k {
                let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
                exact += sign * binomial * (-load * (1.0 - c.powi(j as i32))).exp();
                binomial = binomial * f64::from(k - j) / f64::from(j + 1);
            }
            let rate = blocked_fp_rate(load, k);
            assert!(
                (rate - exact).abs() <= 1e-12 + exact.abs() * 1e-7,
                "k {k}, load {load}: {rate} against {exact}"
            );
        }
    }
}

/// Checks every sub-filter of `generation` against the growth rules in
/// the module docs, given the revocations held in other generations
/// (`elsewhere`) and the live generations (`live`, this one included)
/// while it grew. Returns how often each sizing bound decided a size:
/// (the lower bound, the upper bound, past capacity).
fn check_growth(
    f: &RevocationFilter,
    generation: &Generation,
    elsewhere: u64,
    live: u64,
) -> (usize, usize, usize) {
    let mut bounds = (0, 0, 0);
    let mut holds = 0u64;
    let mut spent = 0.0;
    let subs: Vec<&SubFilter> = generation.chain().collect();
    for (i, s) in subs.iter().enumerate() {
        let held = elsewhere + holds;
        let share = f.capacity.saturating_sub(held) / live;
        let (size, expected) = if i == 0 {
            (MIN_SUB_CAPACITY, share)
        } else if held < f.capacity {
            if share < holds / 4 {
                bounds.0 += 1;
            } else if share > holds {
                bounds.1 += 1;
            }
            (share.clamp(holds / 4, holds).max(MIN_SUB_CAPACITY), share)
        } else {
            bounds.2 += 1;
            (holds, holds)
        };
        let part = (size as f64 / expected.max(1) as f64).clamp(1.0 / 1024.0, 0.5);
        let target = ((f.fp_rate - spent) * part).max(MIN_FP_TARGET);
        assert_eq!(s.fp_target, target, "sub-filter {i}");
        let (k, per_block) = design(target);
        let blocks = (size as f64 / per_block).ceil() as usize;
        assert_eq!((s.k, s.blocks.len()), (k, blocks), "sub-filter {i}");
        assert_eq!(s.capacity, size.max((blocks as f64 * per_block) as u64));
        let count = s.count.load(Ordering::Relaxed);
        if i + 1 < subs.len() {
            assert_eq!(count, s.capacity, "sub-filter {i} grew before it was full");
        } else {
            assert!(count >= 1 && count <= s.capacity);
        }
        holds += count;
        spent += s.fp_target;
    }
    assert!(spent < f.fp_rate, "{spent}");
    assert_eq!(generation.held(), holds);
    bounds
}

#[test]
fn one_generation_grows_by_its_share_then_doubles_past_capacity() {
    // Capacity 89 is what the first sub-filter holds: at the first growth
    // exactly the capacity is held, and the generation doubles.
    for (capacity, ids) in [(1000, 3000), (89, 400), (100_000, 2000)] {
        let f = RevocationFilter::new(capacity, 0.01);
        let mut rng = Ids(u64::try_from(capacity).unwrap());
        let revoked: Vec<SessionId> = (0..ids).map(|_| rng.id()).collect();
        for id in &revoked {
            f.revoke(*id, 7);
        }
        assert!(revoked.iter().all(|id| f.is_revoked(*id, 7)));
        let g = generation_of(&f, 0);
        let bounds = check_growth(&f, &g, 0, 1);
        // What each case is there for.
        match capacity {
            1000 => assert!(bounds.0 > 0 && bounds.1 > 0 && bounds.2 > 0, "{bounds:?}"),
            89 => assert_eq!(g.first.capacity, 89),
            _ => assert!(bounds.1 > 0, "{bounds:?}"),
        }
    }
}

#[test]
fn a_generation_shares_the_unused_capacity_with_the_live_ones() {
    let f = RevocationFilter::new(2000, 0.01);
    let mut rng = Ids(11);
    for _ in 0..700 {
        f.revoke(rng.id(), 10);
    }
    let first = generation_of(&f, 0);
    let before = first.held();
    check_growth(&f, &first, 0, 1);
    // The second generation grows while the first holds `before` and
    // both are live.
    for _ in 0..3000 {
        f.revoke(rng.id(), 3 * BUCKET_SECS);
    }
    let second = generation_of(&f, 3);
    let bounds = check_growth(&f, &second, before, 2);
    assert!(bounds.0 > 0 && bounds.1 > 0 && bounds.2 > 0, "{bounds:?}");
    assert_eq!(
        format!("{f:?}"),
        format!(
            "RevocationFilter {{ capacity: 2000, fp_rate: 0.01, generations: 2, held: {} }}",
            before + second.held()
        )
    );
}

#[test]
fn a_truncated_header_is_corrupt() {
    let f = RevocationFilter::new(1, 0.5);
    f.revoke(SessionId([1; 16]), 5);
    let snap = f.to_snapshot();
    let body = &snap[..snap.len() - CHECK_LEN];
    // A minimal filter: one generation, one sub-filter of one block.
    assert_eq!(body.len(), 29 + GENERATION_MIN_BYTES);
    let back = RevocationFilter::from_snapshot(&snap).unwrap();
    assert!(back.is_revoked(SessionId([1; 16]), 5));
    // Every prefix, re-sealed so that only the parser can refuse it.
    for len in 0..body.len() {
        assert_eq!(
            RevocationFilter::from_snapshot(&sealed(body[..len].to_vec())).err(),
            Some(Error::CorruptSnapshot),
            "len {len}"
        );
    }
    // A sub-filter without blocks.
    let mut empty = body[..body.len() - 8 - BLOCK_BYTES].to_vec();
    empty.extend_from_slice(&0u64.to_le_bytes());
    assert_eq!(
        RevocationFilter::from_snapshot(&sealed(empty)).err(),
        Some(Error::CorruptSnapshot)
    );
}

#[test]
fn every_snapshot_is_one_more_than_a_multiple_of_four_bytes_long() {
    // 33 bytes of header and check, then records of 16, 36 and 64 bytes:
    // no snapshot is `MAX_SNAPSHOT_LEN` (a multiple of four) or one byte
    // shorter, so `load` reading one byte past the limit and refusing
    // what is longer never turns away a snapshot it could have read.
    assert_eq!(MAX_SNAPSHOT_LEN % 4, 0);
    let f = RevocationFilter::new(50, 0.01);
    let mut rng = Ids(5);
    for n in 0..300u64 {
        if n % 10 == 0 {
            // Kilobytes (checked first: a mis-sized filter would make
            // the snapshots below slow rather than wrong).
            assert!(f.memory_bytes() < 16 * 1024, "{}", f.memory_bytes());
            assert_eq!(f.to_snapshot().len() % 4, 1, "after {n} revocations");
        }
        f.revoke(rng.id(), n * 100);
    }
    assert_eq!(f.to_snapshot().len() % 4, 1);
}

#[test]
fn record_sizes_are_the_format_s() {
    // docs/FORMAT.md: a sub-filter record is capacity, count, fp target
    // (8 bytes each), k (4), the block count (8) and at least one block;
    // a generation adds its bucket and sub-filter count (8 each).
    assert_eq!(SUB_FILTER_MIN_BYTES, 100);
    assert_eq!(GENERATION_MIN_BYTES, 116);
}

#[test]
fn crc32_known_answer() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}

#[test]
fn prune_keeps_revocations_through_the_leeway() {
    let f = RevocationFilter::new(10, 0.01);
    let id = SessionId([3; 16]);
    // Bucket 0 holds deadlines 0..=3599.
    f.revoke(id, 1000);
    f.prune(3599 + 3600);
    assert!(f.is_revoked(id, 1000));
    f.prune(3599 + 3601);
    assert!(!f.is_revoked(id, 1000));
}

#[test]
fn is_expired_never_overflows_at_the_end_of_time() {
    assert!(!is_expired(bucket_of(u64::MAX), u64::MAX - 1));
    assert!(!is_expired(bucket_of(u64::MAX), u64::MAX));
    assert!(!is_expired(bucket_of(u64::MAX - 3600), u64::MAX));
    assert!(is_expired(bucket_of(u64::MAX - 3 * 3600), u64::MAX));
    assert!(is_expired(0, 7200));
    assert!(!is_expired(0, 7199));
}

#[test]
fn design_meets_its_target_with_few_bits() {
    // Blocks cost a little over the classic optimum, more at low rates.
    for (target, overhead) in [(0.01, 1.05), (0.001, 1.1), (1e-5, 1.35)] {
        let (k, per_block) = design(target);
        assert!(blocked_fp_rate(per_block, k) <= target);
        let bits_per_id = f64::from(BLOCK_BITS) / per_block;
        let optimum = -target.log2() / std::f64::consts::LN_2;
        assert!(bits_per_id < optimum * overhead, "{target}: {bits_per_id}");
    }
    // The tightest target the budget allows is met; unreachable ones get
    // the sparsest design.
    let (k, per_block) = design(MIN_FP_TARGET);
    assert!(blocked_fp_rate(per_block, k) <= MIN_FP_TARGET);
    assert!(per_block > 1e-3, "{per_block}");
    assert_eq!(design(1e-300), (MAX_K, 1e-3));
}

#[test]
fn blocked_rate_matches_the_textbook_limits() {
    assert_eq!(blocked_fp_rate(0.0, 3), 0.0);
    // One id per block with one bit: a random probe hits it 1/512 of the time.
    let one = blocked_fp_rate(1e-9, 1) / 1e-9;
    assert!((one - 1.0 / 512.0).abs() < 1e-6, "{one}");
}

#[test]
fn an_empty_filter_allocates_nothing_and_a_huge_one_starts_small() {
    let f = RevocationFilter::new(usize::MAX, f64::NAN);
    // The struct and the empty table's Arc: reference counts and the Vec.
    let empty_table = 2 * size_of::<usize>() + size_of::<Vec<Arc<Generation>>>();
    assert_eq!(
        f.memory_bytes(),
        size_of::<RevocationFilter>() + empty_table
    );
    assert!(!f.is_revoked(SessionId([0; 16]), 0));
    f.revoke(SessionId([1; 16]), 0);
    assert!(f.is_revoked(SessionId([1; 16]), 0));
    assert!(f.memory_bytes() < 1024, "{}", f.memory_bytes());
}

#[test]
fn every_single_byte_corruption_and_truncation_is_rejected() {
    let f = RevocationFilter::new(10, 0.01);
    f.revoke(SessionId([1; 16]), 5);
    f.revoke(SessionId([2; 16]), 6);
    f.revoke(SessionId([9; 16]), 7200);
    let snap = f.to_snapshot();
    // Two generations of one two-block sub-filter each (see
    // `a_new_generation_starts_with_one_small_sub_filter_at_half_the_rate`).
    // Checked first: the loop below parses the snapshot about 4 times
    // per byte, so a mis-sized filter would make it run for hours.
    assert_eq!(snap.len(), 393);
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
    let mut longer = snap.clone();
    longer.push(0);
    assert!(RevocationFilter::from_snapshot(&longer).is_err());
    let back = RevocationFilter::from_snapshot(&snap).unwrap();
    assert!(back.is_revoked(SessionId([1; 16]), 5));
    assert!(back.is_revoked(SessionId([2; 16]), 6));
    assert!(back.is_revoked(SessionId([9; 16]), 7200));
    assert!(!back.is_revoked(SessionId([3; 16]), 6));
    assert_eq!(back.to_snapshot(), snap);
}

/// Re-signs a snapshot body so that only the parser's own checks can
/// reject it.
fn sealed(mut body: Vec<u8>) -> Vec<u8> {
    let check = crc32(&body);
    body.extend_from_slice(&check.to_le_bytes());
    body
}

#[test]
fn hostile_counts_are_refused_before_allocating() {
    let mut body = Vec::new();
    body.extend_from_slice(SNAPSHOT_MAGIC);
    body.push(SNAPSHOT_VERSION);
    body.extend_from_slice(&100u64.to_le_bytes());
    body.extend_from_slice(&0.01f64.to_bits().to_le_bytes());
    // Claims 2^60 generations in a few bytes.
    let mut huge = body.clone();
    huge.extend_from_slice(&(1u64 << 60).to_le_bytes());
    assert_eq!(
        RevocationFilter::from_snapshot(&sealed(huge)).err(),
        Some(Error::CorruptSnapshot)
    );
    // One generation claiming u64::MAX sub-filters, then one sub-filter
    // claiming a huge block count.
    let mut many = body.clone();
    many.extend_from_slice(&1u64.to_le_bytes());
    many.extend_from_slice(&0u64.to_le_bytes());
    let mut subs = many.clone();
    subs.extend_from_slice(&u64::MAX.to_le_bytes());
    subs.extend_from_slice(&[0; GENERATION_MIN_BYTES]);
    assert!(RevocationFilter::from_snapshot(&sealed(subs)).is_err());
    many.extend_from_slice(&1u64.to_le_bytes());
    many.extend_from_slice(&64u64.to_le_bytes()); // capacity
    many.extend_from_slice(&0u64.to_le_bytes()); // count
    many.extend_from_slice(&0.01f64.to_bits().to_le_bytes());
    many.extend_from_slice(&4u32.to_le_bytes());
    let mut blocks = many.clone();
    blocks.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
    blocks.extend_from_slice(&[0; BLOCK_BYTES]);
    assert!(RevocationFilter::from_snapshot(&sealed(blocks)).is_err());
    // The same with one honest block parses.
    many.extend_from_slice(&1u64.to_le_bytes());
    many.extend_from_slice(&[0; BLOCK_BYTES]);
    let f = RevocationFilter::from_snapshot(&sealed(many)).unwrap();
    assert!(!f.is_revoked(SessionId([5; 16]), 10));
}

#[test]
fn out_of_range_fields_are_refused_even_when_the_check_passes() {
    let f = RevocationFilter::new(100, 0.01);
    f.revoke(SessionId([4; 16]), 10);
    f.revoke(SessionId([4; 16]), 5000);
    let snap = f.to_snapshot();
    let body = &snap[..snap.len() - CHECK_LEN];
    let header = 4 + 1 + 8 + 8 + 8;
    let sub = header + 8 + 8;
    let mut cases: Vec<(usize, Vec<u8>)> = vec![
        (4, vec![0]),                                    // version 0
        (4, vec![2]),                                    // a future version
        (5, 0u64.to_le_bytes().to_vec()),                // capacity 0
        (13, f64::NAN.to_bits().to_le_bytes().to_vec()), // fp rate
        (13, 0.9f64.to_bits().to_le_bytes().to_vec()),
        (sub, 0u64.to_le_bytes().to_vec()), // sub-filter capacity 0
        (sub + 8, u64::MAX.to_le_bytes().to_vec()), // count > capacity
        (sub + 16, 0f64.to_bits().to_le_bytes().to_vec()), // fp target 0
        (sub + 24, 0u32.to_le_bytes().to_vec()), // k = 0
        (sub + 24, 11u32.to_le_bytes().to_vec()), // k > MAX_K
    ];
    // Generations out of order: give the second the first's bucket.
    let second = body.len()
        - (8 + 8 + SUB_FILTER_MIN_BYTES - BLOCK_BYTES)
        - f.read()[1].first.blocks.len() * BLOCK_BYTES;
    cases.push((second, 0u64.to_le_bytes().to_vec()));
    for (at, bytes) in cases {
        let mut bad = body.to_vec();
        bad[at..at + bytes.len()].copy_from_slice(&bytes);
        assert_eq!(
            RevocationFilter::from_snapshot(&sealed(bad)).err(),
            Some(Error::CorruptSnapshot),
            "at {at}"
        );
    }
    assert!(RevocationFilter::from_snapshot(&sealed(body.to_vec())).is_ok());
}

#[test]
fn the_longest_chain_is_what_growth_can_build() {
    // Recomputed without overflow: the smallest sub-filters growth may
    // chain (a quarter of what the full ones hold, at least 64 ids) and what
    // the full ones hold, until that passes what a u64 count can say.
    let mut full = u128::from(MIN_SUB_CAPACITY);
    let mut links = 1;
    while full <= u128::from(u64::MAX) {
        full += (full / 4).max(u128::from(MIN_SUB_CAPACITY));
        links += 1;
    }
    assert_eq!(MAX_CHAIN, links);
    assert_eq!(MAX_CHAIN, 178);
}

/// A snapshot body (unsealed) of one generation (bucket 0) whose chain has
/// `links` sub-filters of one empty block each, every one full at
/// `capacity` ids.
fn chain_body(links: usize, capacity: u64) -> Vec<u8> {
    chain_body_at(links, capacity, 1e-4)
}

/// [`chain_body`] with every sub-filter's false-positive target `target`.
fn chain_body_at(links: usize, capacity: u64, target: f64) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(SNAPSHOT_MAGIC);
    body.push(SNAPSHOT_VERSION);
    body.extend_from_slice(&1000u64.to_le_bytes());
    body.extend_from_slice(&0.01f64.to_bits().to_le_bytes());
    body.extend_from_slice(&1u64.to_le_bytes());
    body.extend_from_slice(&0u64.to_le_bytes());
    body.extend_from_slice(&(links as u64).to_le_bytes());
    let mut sub = Vec::new();
    sub.extend_from_slice(&capacity.to_le_bytes());
    sub.extend_from_slice(&capacity.to_le_bytes());
    sub.extend_from_slice(&target.to_bits().to_le_bytes());
    sub.extend_from_slice(&4u32.to_le_bytes());
    sub.extend_from_slice(&1u64.to_le_bytes());
    sub.extend_from_slice(&[0; BLOCK_BYTES]);
    assert_eq!(sub.len(), SUB_FILTER_MIN_BYTES);
    for _ in 0..links {
        body.extend_from_slice(&sub);
    }
    body
}

#[test]
fn the_longest_legal_chain_loads_and_one_more_link_is_refused() {
    let longest = RevocationFilter::from_snapshot(&sealed(chain_body(MAX_CHAIN, 64))).unwrap();
    assert_eq!(generation_of(&longest, 0).chain().count(), MAX_CHAIN);
    assert_eq!(
        RevocationFilter::from_snapshot(&sealed(chain_body(MAX_CHAIN + 1, 64))).err(),
        Some(Error::CorruptSnapshot)
    );
    // Every link is full, so a revocation would grow the chain: it goes into
    // the newest sub-filter instead, the chain stays as long, and the
    // filter's snapshot still loads.
    let mut rng = Ids(3);
    let ids: Vec<SessionId> = (0..50).map(|_| rng.id()).collect();
    for id in &ids {
        longest.revoke(*id, 10);
    }
    let g = generation_of(&longest, 0);
    assert_eq!(g.chain().count(), MAX_CHAIN);
    let newest = g.chain().last().unwrap();
    assert_eq!(newest.count.load(Ordering::Relaxed), 64);
    assert!(ids.iter().all(|id| newest.contains(id)));
    let back = RevocationFilter::from_snapshot(&longest.to_snapshot()).unwrap();
    assert!(ids.iter().all(|id| back.is_revoked(*id, 10)));
    // One link short of the limit, the chain grows by one sub-filter.
    let shorter = RevocationFilter::from_snapshot(&sealed(chain_body(MAX_CHAIN - 1, 64))).unwrap();
    shorter.revoke(ids[0], 10);
    let g = generation_of(&shorter, 0);
    assert_eq!(g.chain().count(), MAX_CHAIN);
    assert_eq!(g.chain().last().unwrap().count.load(Ordering::Relaxed), 1);
}

#[test]
fn hostile_chains_of_hundreds_of_thousands_of_links_are_refused() {
    // 10 MB with 100,000 sub-filters, the same with one byte of trailing
    // junk, and 300,000 links: once these loaded (the last made each lookup
    // walk the whole chain) or overflowed the stack when the chain was
    // dropped, aborting the process. Now refused before any sub-filter is
    // built.
    let ten_mb = chain_body(100_000, 64);
    assert!(ten_mb.len() > 10_000_000);
    let mut junk = ten_mb.clone();
    junk.push(0);
    for body in [ten_mb, junk, chain_body(300_000, 64)] {
        assert_eq!(
            RevocationFilter::from_snapshot(&sealed(body)).err(),
            Some(Error::CorruptSnapshot)
        );
    }
}

#[test]
fn a_sub_filter_holds_at_most_as_many_ids_as_its_blocks_have_bits() {
    // One block, 512 bits: 512 ids load, 513 are refused (a filter grown
    // after a sub-filter claiming 2^63 ids in one block would be huge).
    assert!(RevocationFilter::from_snapshot(&sealed(chain_body(1, 512))).is_ok());
    for capacity in [513, u64::MAX] {
        assert_eq!(
            RevocationFilter::from_snapshot(&sealed(chain_body(1, capacity))).err(),
            Some(Error::CorruptSnapshot),
            "{capacity}"
        );
    }
}

#[test]
fn dropping_a_long_chain_does_not_recurse() {
    // 200,000 links of no blocks, dropped on a thread with a 256 KiB stack:
    // a drop that recursed once per link would need megabytes of it.
    let mut head = SubFilter::with_blocks(Box::new([]), 1, 1, 0.5, 1);
    for _ in 0..200_000 {
        let older = SubFilter::with_blocks(Box::new([]), 1, 1, 0.5, 1);
        assert!(older.next.set(Box::new(head)).is_ok());
        head = older;
    }
    let generation = Generation {
        bucket: 0,
        first: head,
    };
    assert_eq!(generation.chain().count(), 200_001);
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || drop(generation))
        .unwrap()
        .join()
        .unwrap();
}

/// The buckets of the live generations.
fn buckets(f: &RevocationFilter) -> Vec<u64> {
    f.read().iter().map(|g| g.bucket).collect()
}

#[test]
fn revoking_a_range_of_deadlines_writes_exactly_the_hours_it_touches() {
    let f = RevocationFilter::new(100, 0.01);
    let id = SessionId([6; 16]);
    // 35999 is the last second of hour 9, 43200 the first of hour 12.
    assert_eq!(f.revoke_deadlines(id, 35_999..=43_200), Ok(4));
    assert_eq!(buckets(&f), [9, 10, 11, 12]);
    for bucket in 9..=12 {
        let g = generation_of(&f, bucket);
        assert_eq!(g.held(), 1);
        assert!(g.contains(&id));
    }
    // One hour; the same hours again (nothing new); an empty range.
    assert_eq!(f.revoke_deadlines(id, 36_000..=39_599), Ok(1));
    assert_eq!(f.revoke_deadlines(id, 36_000..=36_000), Ok(1));
    let (start, end) = (40_000, 39_999);
    assert_eq!(f.revoke_deadlines(id, start..=end), Ok(0));
    assert_eq!(f.revoke_deadlines(id, start..=0), Ok(0));
    assert_eq!(buckets(&f), [9, 10, 11, 12]);
    assert_eq!(generation_of(&f, 10).held(), 1);
}

#[test]
fn a_range_of_deadlines_is_at_most_the_revoke_window() {
    let window = MAX_REVOKE_WINDOW.as_secs();
    assert_eq!(window, 366 * 86_400);
    let id = SessionId([8; 16]);
    let f = RevocationFilter::new(100, 0.01);
    assert_eq!(
        f.revoke_deadlines(id, 7200..=7200 + window + 1),
        Err(Error::RevocationWindow)
    );
    assert_eq!(
        f.revoke_deadlines(id, 0..=u64::MAX),
        Err(Error::RevocationWindow)
    );
    assert!(buckets(&f).is_empty(), "nothing revoked");
    // Exactly the window: from the start of hour 2, 8784 hours and one second.
    assert_eq!(f.revoke_deadlines(id, 7200..=7200 + window), Ok(8785));
    assert_eq!(buckets(&f), (2..=8786).collect::<Vec<u64>>());
    // At the end of time.
    let g = RevocationFilter::new(100, 0.01);
    assert_eq!(g.revoke_deadlines(id, u64::MAX - 1..=u64::MAX), Ok(1));
    assert!(g.is_revoked(id, u64::MAX));
}

#[test]
fn generations_made_for_a_range_are_sized_as_if_all_were_live() {
    let f = RevocationFilter::new(6400, 0.01);
    let mut rng = Ids(21);
    f.revoke(rng.id(), 0);
    let existing = generation_of(&f, 0);
    // Hours 0 to 4: four new generations next to the one live, holding 1.
    assert_eq!(f.revoke_deadlines(rng.id(), 0..=4 * 3600), Ok(5));
    assert!(Arc::ptr_eq(&existing, &generation_of(&f, 0)));
    assert_eq!(existing.held(), 2);
    let expected = (6400 - 1) / 5;
    for bucket in 1..=4 {
        let g = generation_of(&f, bucket);
        let target = 0.01 * (MIN_SUB_CAPACITY as f64 / expected as f64);
        assert_eq!(g.first.fp_target, target, "bucket {bucket}");
        assert_eq!(g.held(), 1);
    }
    assert_eq!(buckets(&f), [0, 1, 2, 3, 4]);
}

/// Every sub-filter of the generation for `bucket`: (k, blocks, capacity,
/// count, words).
#[allow(clippy::type_complexity)]
fn layout(f: &RevocationFilter, bucket: u64) -> Vec<(u32, usize, u64, u64, Vec<u64>)> {
    generation_of(f, bucket)
        .chain()
        .map(|s| {
            let count = s.count.load(Ordering::Relaxed);
            (s.k, s.blocks.len(), s.capacity, count, s.words().collect())
        })
        .collect()
}

/// The same layout with every count set to its capacity (closed).
#[allow(clippy::type_complexity)]
fn closed(
    mut layout: Vec<(u32, usize, u64, u64, Vec<u64>)>,
) -> Vec<(u32, usize, u64, u64, Vec<u64>)> {
    for sub in &mut layout {
        sub.3 = sub.2;
    }
    layout
}

#[test]
fn a_merged_hour_the_filter_lacked_is_the_snapshot_s_chain_closed() {
    let source = RevocationFilter::new(1000, 0.01);
    let mut rng = Ids(31);
    let ids: Vec<SessionId> = (0..300).map(|_| rng.id()).collect();
    for id in &ids {
        source.revoke(*id, 10);
    }
    let live = RevocationFilter::new(1000, 0.01);
    live.revoke(rng.id(), 3 * BUCKET_SECS);
    live.merge_snapshot(&source.to_snapshot()).unwrap();
    assert_eq!(buckets(&live), [0, 3]);
    assert!(layout(&source, 0).len() > 2);
    assert_eq!(layout(&live, 0), closed(layout(&source, 0)));
    assert!(ids.iter().all(|id| live.is_revoked(*id, 10)));
    // The filter's own revocations in that hour get a sub-filter of their
    // own, grown after the copies and sized as if they were not there: the
    // first growth of a generation that holds nothing of its own.
    let before = layout(&live, 0);
    let (held, generations) = live.usage();
    assert_eq!(generations, 2);
    let own = rng.id();
    live.revoke(own, 20);
    let after = layout(&live, 0);
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after[..before.len()], before[..]);
    let g = generation_of(&live, 0);
    let newest = g.chain().last().unwrap();
    assert!(newest.contains(&own) && !newest.merged);
    assert!(g.chain().take(before.len()).all(|s| s.merged));
    let expected = if held < 1000 { (1000 - held) / 2 } else { 0 };
    let target = live.budget_part(0.01, MIN_SUB_CAPACITY, expected);
    let fresh = SubFilter::new(MIN_SUB_CAPACITY, target);
    assert_eq!(
        (newest.capacity, newest.fp_target, newest.blocks.len()),
        (fresh.capacity, target, fresh.blocks.len())
    );
    assert_eq!(newest.count.load(Ordering::Relaxed), 1);
    // Reloaded, the copies count as the filter's own.
    let back = RevocationFilter::from_snapshot(&live.to_snapshot()).unwrap();
    assert!(generation_of(&back, 0).chain().all(|s| !s.merged));
}

#[test]
fn a_chain_that_spent_more_than_the_rate_still_grows_at_half_per_link() {
    // A reloaded chain holding another filter's sub-filters may have spent
    // more than the whole rate: five full links of 0.004 at 1%.
    let f = RevocationFilter::from_snapshot(&sealed(chain_body_at(5, 64, 0.004))).unwrap();
    f.revoke(SessionId([3; 16]), 10);
    let g = generation_of(&f, 0);
    let newest = g.chain().last().unwrap();
    // Holding 320 of a capacity of 1000 in one live generation: a share of
    // 680, clamped to what it holds; half the rate per link so far.
    let part = 320.0 / 680.0;
    assert_eq!(newest.fp_target, 0.01 * 0.5f64.powi(5) * part);
    assert_eq!(
        newest.capacity,
        SubFilter::new(320, newest.fp_target).capacity
    );
}

#[test]
fn merging_a_newer_snapshot_of_the_same_source_adds_only_what_it_grew() {
    let source = RevocationFilter::new(1000, 0.01);
    let live = RevocationFilter::new(1000, 0.01);
    let mut rng = Ids(32);
    let mut ids = Vec::new();
    for round in 0..6 {
        for _ in 0..150 {
            let id = rng.id();
            source.revoke(id, 100);
            ids.push(id);
        }
        let snapshot = source.to_snapshot();
        live.merge_snapshot(&snapshot).unwrap();
        // One copy of each of the source's sub-filters, with its bits.
        assert_eq!(
            layout(&live, 0),
            closed(layout(&source, 0)),
            "round {round}"
        );
        // Again: nothing changes.
        let merged = live.to_snapshot();
        live.merge_snapshot(&snapshot).unwrap();
        assert_eq!(live.to_snapshot(), merged, "round {round}");
    }
    assert!(layout(&source, 0).len() > 3);
    assert!(ids.iter().all(|id| live.is_revoked(*id, 100)));
}

#[test]
fn a_sub_filter_holding_a_subset_of_the_snapshot_s_bits_takes_them() {
    // The same sizing and the same first revocations: the live sub-filter
    // has the geometry of the source's and a subset of its bits.
    let source = RevocationFilter::new(1000, 0.01);
    let live = RevocationFilter::new(1000, 0.01);
    let mut rng = Ids(33);
    let first: Vec<SessionId> = (0..20).map(|_| rng.id()).collect();
    let more: Vec<SessionId> = (0..30).map(|_| rng.id()).collect();
    for id in first.iter().chain(&more) {
        source.revoke(*id, 100);
    }
    for id in &first {
        live.revoke(*id, 100);
    }
    let (_, mut incoming) = snapshot::parse(&source.to_snapshot()).unwrap();
    let incoming = incoming.remove(0).into_chain();
    let g = generation_of(&live, 0);
    assert_eq!(merge::plan(&g, &incoming), Ok(vec![merge::Step::Extend(0)]));
    live.merge_snapshot(&source.to_snapshot()).unwrap();
    // ORed in: the source's bits, the larger count, still open to inserts.
    assert_eq!(layout(&live, 0), layout(&source, 0));
    assert_eq!(layout(&live, 0)[0].3, 50);
    assert!(first
        .iter()
        .chain(&more)
        .all(|id| live.is_revoked(*id, 100)));
    // The other way round, the live one holds them all: nothing to do.
    let (_, mut back) = snapshot::parse(&sealed(chain_body(1, 64))).unwrap();
    let empty = back.remove(0).into_chain();
    assert_eq!(merge::plan(&g, &empty), Ok(vec![merge::Step::Held]));
    let (_, mut same) = snapshot::parse(&live.to_snapshot()).unwrap();
    let same = same.remove(0).into_chain();
    assert_eq!(merge::plan(&g, &same), Ok(vec![merge::Step::Held]));
}

#[test]
fn a_chain_of_another_geometry_is_chained_after_the_filter_s_own() {
    let mut rng = Ids(34);
    let live = RevocationFilter::new(100_000, 0.001);
    let own: Vec<SessionId> = (0..400).map(|_| rng.id()).collect();
    for id in &own {
        live.revoke(*id, 7);
    }
    let source = RevocationFilter::new(1000, 0.01);
    let theirs: Vec<SessionId> = (0..400).map(|_| rng.id()).collect();
    for id in &theirs {
        source.revoke(*id, 8);
    }
    let (mine, foreign) = (layout(&live, 0), layout(&source, 0));
    live.merge_snapshot(&source.to_snapshot()).unwrap();
    let merged = layout(&live, 0);
    assert_eq!(merged.len(), mine.len() + foreign.len());
    assert_eq!(merged[..mine.len()], mine[..]);
    assert_eq!(merged[mine.len()..], closed(foreign)[..]);
    // The filter's own newest sub-filter had room: the next own revocation
    // goes there, not into a new one after the copies.
    let last_own = mine.len() - 1;
    assert!(mine[last_own].3 < mine[last_own].2);
    let id = rng.id();
    live.revoke(id, 7);
    let after = layout(&live, 0);
    assert_eq!(after.len(), merged.len());
    assert_eq!(after[last_own].3, mine[last_own].3 + 1);
    assert!(generation_of(&live, 0)
        .chain()
        .nth(last_own)
        .unwrap()
        .contains(&id));
    assert!(own.iter().all(|id| live.is_revoked(*id, 7)));
    assert!(theirs.iter().all(|id| live.is_revoked(*id, 8)));
    let back = RevocationFilter::from_snapshot(&live.to_snapshot()).unwrap();
    assert!(own.iter().chain(&theirs).all(|id| back.is_revoked(*id, 9)));
}

#[test]
fn a_merge_that_would_pass_the_chain_limit_changes_nothing() {
    // A live chain one short of the limit, of empty one-block sub-filters.
    let live = RevocationFilter::from_snapshot(&sealed(chain_body(MAX_CHAIN - 1, 64))).unwrap();
    let source = RevocationFilter::new(1, 0.5);
    let mut rng = Ids(35);
    source.revoke(rng.id(), 5);
    // A second hour the live filter lacks, merged only if all fits.
    source.revoke(rng.id(), 2 * BUCKET_SECS);
    let one = source.to_snapshot();
    for _ in 0..300 {
        source.revoke(rng.id(), 5);
    }
    assert!(layout(&source, 0).len() >= 2);
    let before = live.to_snapshot();
    assert_eq!(
        live.merge_snapshot(&source.to_snapshot()),
        Err(Error::MergeLimit)
    );
    assert_eq!(live.to_snapshot(), before);
    // One sub-filter fits: the chain reaches the limit.
    live.merge_snapshot(&one).unwrap();
    assert_eq!(layout(&live, 0).len(), MAX_CHAIN);
    assert_eq!(buckets(&live), [0, 2]);
    // At the limit, chaining is refused (a race with growth gets here).
    let (_, mut extra) = snapshot::parse(&source.to_snapshot()).unwrap();
    let sub = extra.remove(0).into_chain().remove(0);
    let g = generation_of(&live, 0);
    assert_eq!(merge::chain(&g, sub), Err(Error::MergeLimit));
    assert_eq!(g.chain().count(), MAX_CHAIN);
}

#[test]
fn merging_a_corrupt_snapshot_changes_nothing() {
    let live = RevocationFilter::new(100, 0.01);
    live.revoke(SessionId([1; 16]), 5);
    let before = live.to_snapshot();
    // A good first generation, then a second out of order: only a parse
    // of the whole snapshot sees it.
    let source = RevocationFilter::new(100, 0.01);
    source.revoke(SessionId([2; 16]), 10);
    source.revoke(SessionId([3; 16]), 5 * BUCKET_SECS);
    let snap = source.to_snapshot();
    let mut body = snap[..snap.len() - CHECK_LEN].to_vec();
    let second = body.len() - (16 + 36 + 2 * BLOCK_BYTES);
    body[second..second + 8].copy_from_slice(&0u64.to_le_bytes());
    for bad in [sealed(body), snap[..snap.len() - 1].to_vec(), Vec::new()] {
        assert_eq!(live.merge_snapshot(&bad), Err(Error::CorruptSnapshot));
        assert_eq!(live.to_snapshot(), before);
    }
    assert!(!live.is_revoked(SessionId([2; 16]), 10));
}

#[test]
fn only_sub_filters_of_the_same_geometry_are_compared() {
    let blocks = |n: usize| (0..n).map(|_| Block::default()).collect();
    // The same k and capacity but two blocks: the id lies in the second
    // block, which an empty one-block sub-filter does not even have.
    let live = Generation {
        bucket: 0,
        first: SubFilter::with_blocks(blocks(1), 4, 64, 0.01, 0),
    };
    let wider = SubFilter::with_blocks(blocks(2), 4, 64, 0.01, 0);
    wider.insert(&id_at(u64::MAX, &[1, 2, 3, 4]));
    assert_eq!(merge::plan(&live, &[wider]), Ok(vec![merge::Step::Chain]));
    // The same blocks and capacity but k = 3 against 4: the live one holds
    // the id's three bits and more, but looks for a fourth.
    let id = id_at(0, &[1, 2, 3, 4]);
    let live = Generation {
        bucket: 0,
        first: SubFilter::with_blocks(blocks(1), 4, 64, 0.01, 0),
    };
    live.first.insert(&id_at(0, &[1, 2, 3, 5]));
    let fewer = SubFilter::with_blocks(blocks(1), 3, 64, 0.01, 0);
    fewer.insert(&id);
    assert!(!live.contains(&id) && fewer.contains(&id));
    assert_eq!(merge::plan(&live, &[fewer]), Ok(vec![merge::Step::Chain]));
    // Equal geometry and bits: held.
    let same = SubFilter::with_blocks(blocks(1), 4, 64, 0.01, 0);
    same.insert(&id_at(0, &[1, 2, 3, 5]));
    assert_eq!(merge::plan(&live, &[same]), Ok(vec![merge::Step::Held]));
}
