//! Revocation filter cost: lookups that hit and miss, and inserts, with 10k
//! and 1M revocations held (capacity = held, 1%, deadlines over a day).
//!
//! `cargo bench --bench revocation -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tessera::{RevocationFilter, SessionId};

const T0: u64 = 1_750_000_123;
const DAY: u64 = 86_400;

/// SplitMix64, so every run sees the same ids.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn revocations(&mut self, n: usize) -> Vec<(SessionId, u64)> {
        (0..n)
            .map(|_| {
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&self.next().to_le_bytes());
                id[8..].copy_from_slice(&self.next().to_le_bytes());
                (SessionId(id), T0 + self.next() % DAY)
            })
            .collect()
    }
}

fn revocation(c: &mut Criterion) {
    let mut group = c.benchmark_group("revocation");
    for held in [10_000usize, 1_000_000] {
        let filter = RevocationFilter::new(held, 0.01);
        let revoked = Rng(1).revocations(held);
        for &(id, deadline) in &revoked {
            filter.revoke(id, deadline);
        }
        let others = Rng(2).revocations(1 << 16);

        group.bench_function(BenchmarkId::new("lookup_hit", held), |b| {
            let mut i = 0;
            b.iter(|| {
                let (id, deadline) = revoked[i % revoked.len()];
                i += 1;
                black_box(filter.is_revoked(black_box(id), deadline))
            })
        });
        group.bench_function(BenchmarkId::new("lookup_miss", held), |b| {
            let mut i = 0;
            b.iter(|| {
                let (id, deadline) = others[i % others.len()];
                i += 1;
                black_box(filter.is_revoked(black_box(id), deadline))
            })
        });
        // Inserts change the filter, so each batch of 1% more revocations
        // starts again from a copy holding `held` (copying is not timed).
        let snapshot = filter.to_snapshot();
        let batch = held / 100;
        group.bench_function(BenchmarkId::new("insert", held), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                let mut fresh = Rng(3);
                let mut left = iters;
                while left > 0 {
                    let n = left.min(batch as u64);
                    let copy = RevocationFilter::from_snapshot(&snapshot).expect("snapshot");
                    let new = fresh.revocations(n as usize);
                    let start = Instant::now();
                    for &(id, deadline) in &new {
                        copy.revoke(black_box(id), deadline);
                    }
                    spent += start.elapsed();
                    left -= n;
                }
                spent
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = revocation
}
criterion_main!(benches);
