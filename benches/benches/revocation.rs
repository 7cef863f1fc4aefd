//! Revocation filter cost: lookups that hit and miss, and inserts, with 10k
//! and 1M revocations held (capacity = held, 1%, deadlines over a day).
//!
//! `cd benches && cargo bench --bench revocation -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tessera::RevocationFilter;

#[path = "../../tests/support/ids.rs"]
mod ids;
use ids::Rng;

const DAY: u64 = 86_400;

fn revocation(c: &mut Criterion) {
    let mut group = c.benchmark_group("revocation");
    for held in [10_000usize, 1_000_000] {
        let filter = RevocationFilter::new(held, 0.01);
        let revoked = Rng(1).revocations(held, DAY);
        for &(id, deadline) in &revoked {
            filter.revoke(id, deadline);
        }
        let others = Rng(2).revocations(1 << 16, DAY);

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
                    let new = fresh.revocations(n as usize, DAY);
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
