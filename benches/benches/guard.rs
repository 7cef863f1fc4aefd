//! The abuse guard's cost per request, next to the cheapest rejection it
//! stands in front of: a forged token (one ciphertext byte changed), which
//! `Verifier::verify` rejects at the AEAD.
//!
//! ```sh
//! cd benches && cargo bench --bench guard -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Criterion medians are named `guard/<operation>`. On a full run (no filter)
//! the ratio of the guard's failure path (`is_blocked` + `record_failure`) to
//! the forged token's rejection is also measured in alternating short batches
//! (A B B A ...), so load from elsewhere on a shared machine slows both sides
//! alike, and printed as `paired ...: <median>`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tessera::{Error, Guard, GuardConfig, Issuer, Keyset, Policy};
use tessera_benches::{bench_all, full_run, median_ratio, NamedOp, Pairing};

const T0: u64 = 1_750_000_000;
/// Distinct clients the guard benches cycle through: the sketch is touched
/// all over, as under a spread attack, not one hot cache line.
const CLIENTS: usize = 1 << 16;

fn clients() -> Vec<IpAddr> {
    let mut state = 0x1234_5678_u64;
    (0..CLIENTS)
        .map(|_| {
            // SplitMix64.
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            IpAddr::V4(Ipv4Addr::from((z ^ (z >> 31)) as u32))
        })
        .collect()
}

/// A guard with the default configuration, already holding a minute of a
/// spread attack (100,000 failures over the client pool).
fn loaded_guard(clients: &[IpAddr]) -> Guard {
    let guard = Guard::new(GuardConfig::default());
    for i in 0..100_000 {
        guard.record_failure(clients[i % clients.len()], T0);
    }
    guard
}

fn operations() -> Vec<NamedOp<'static>> {
    let mut ops: Vec<NamedOp<'static>> = Vec::new();
    let pool = clients();

    let guard = loaded_guard(&pool);
    let addrs = pool.clone();
    let mut next = 0usize;
    ops.push((
        "guard/is_blocked_plus_record_failure",
        Box::new(move || {
            next = (next + 1) % addrs.len();
            // Both, always: a request that was let through and then failed
            // (skipping blocked clients would turn this into `is_blocked`
            // alone once the pool has run into its limits).
            let client = black_box(addrs[next]);
            let _ = black_box(guard.is_blocked(client, T0));
            guard.record_failure(client, T0);
        }),
    ));

    // A blocked client's request: the check alone (the flood path).
    let guard = loaded_guard(&pool);
    let attacker = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
    for _ in 0..100 {
        guard.record_failure(attacker, T0);
    }
    assert!(guard.is_blocked(attacker, T0));
    ops.push((
        "guard/is_blocked",
        Box::new(move || {
            let _ = black_box(guard.is_blocked(black_box(attacker), T0));
        }),
    ));

    let guard = loaded_guard(&pool);
    let addrs = pool.clone();
    let mut next = 0usize;
    ops.push((
        "guard/allow_new_session",
        Box::new(move || {
            next = (next + 1) % addrs.len();
            let _ = black_box(guard.allow_new_session(black_box(addrs[next]), T0));
        }),
    ));

    // The forged token: the real header and nonce, one ciphertext character
    // changed (still canonical base64url), rejected by the AEAD.
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let verifier = issuer.verifier();
    let token = issuer
        .issue("user-48151623@example.com", &())
        .expect("issue");
    let forged = {
        let mut chars = token.into_bytes();
        let at = "tsr1.".len() + 48; // body byte 36: inside the ciphertext
        chars[at] = if chars[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(chars).expect("ascii")
    };
    assert_eq!(verifier.verify::<()>(&forged).err(), Some(Error::Invalid));
    ops.push((
        "tessera/reject_forged",
        Box::new(move || {
            let _ = black_box(verifier.verify::<()>(black_box(&forged)));
        }),
    ));
    ops
}

fn main() {
    let mut ops = operations();
    bench_all("guard", &mut ops);
    if full_run() {
        for (top, bottom) in [
            (
                "guard/is_blocked_plus_record_failure",
                "tessera/reject_forged",
            ),
            ("guard/is_blocked", "tessera/reject_forged"),
        ] {
            let pairing = Pairing {
                probe: 100,
                max_iters: 1_000_000,
                budget: Duration::from_secs(2),
            };
            let (ratio, _) = median_ratio(&mut ops, &[top], &[bottom], pairing);
            eprintln!("paired {top} / {bottom}: {ratio:.3}");
        }
    }
}
