//! What the paired benches (`tokens`, `guard`) share: run every operation
//! under criterion, then, on a full run, measure ratios in alternating short
//! batches (A B B A ...) so that load from elsewhere on a shared machine slows
//! both sides of a ratio alike.

use std::time::{Duration, Instant};

use criterion::Criterion;

/// One measured operation; it black-boxes its own result.
pub type Op<'a> = Box<dyn FnMut() + 'a>;

/// A named operation.
pub type NamedOp<'a> = (&'static str, Op<'a>);

/// Runs every operation as one criterion group named `group`, then prints
/// criterion's summary.
pub fn bench_all(group: &str, ops: &mut [NamedOp<'_>]) {
    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group(group);
        for (name, op) in ops.iter_mut() {
            group.bench_function(*name, |b| b.iter(&mut *op));
        }
        group.finish();
    }
    criterion.final_summary();
}

/// Whether this is a full run: criterion's filter, if any, is a bare argument
/// that is not an option's number. Paired ratios are measured only then.
pub fn full_run() -> bool {
    !std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && a.parse::<f64>().is_err())
}

/// Time for `iters` runs of each of `names`.
///
/// # Panics
///
/// If a name is not one of `ops` (a typo in the bench itself).
pub fn batch(ops: &mut [NamedOp<'_>], names: &[&str], iters: u32) -> Duration {
    let mut total = Duration::ZERO;
    for name in names {
        let op = &mut ops.iter_mut().find(|(n, _)| n == name).expect("known op").1;
        let start = Instant::now();
        for _ in 0..iters {
            op();
        }
        total += start.elapsed();
    }
    total
}

/// How a paired measurement sizes its batches.
#[derive(Clone, Copy, Debug)]
pub struct Pairing {
    /// Runs of each side timed once to size the batches.
    pub probe: u32,
    /// The most runs in one batch.
    pub max_iters: u32,
    /// Keep measuring rounds this long (and at least 20 rounds).
    pub budget: Duration,
}

/// The median over rounds of A B B A batches (the slower side about a
/// millisecond per batch) of time(`top`) / time(`bottom`), and the number of
/// rounds.
pub fn median_ratio(
    ops: &mut [NamedOp<'_>],
    top: &[&str],
    bottom: &[&str],
    pairing: Pairing,
) -> (f64, usize) {
    let probe = batch(ops, top, pairing.probe).max(batch(ops, bottom, pairing.probe));
    let iters = ((Duration::from_millis(1).as_nanos() * u128::from(pairing.probe))
        / probe.as_nanos().max(1))
    .clamp(1, u128::from(pairing.max_iters)) as u32;
    let mut ratios = Vec::new();
    let start = Instant::now();
    while start.elapsed() < pairing.budget || ratios.len() < 20 {
        let a1 = batch(ops, top, iters);
        let b1 = batch(ops, bottom, iters);
        let b2 = batch(ops, bottom, iters);
        let a2 = batch(ops, top, iters);
        ratios.push((a1 + a2).as_secs_f64() / (b1 + b2).as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    (ratios[ratios.len() / 2], ratios.len())
}
