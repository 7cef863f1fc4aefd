//! Issue, verify, renew and rejection costs, side by side in one run with the
//! floor (raw ed25519-dalek and XChaCha20-Poly1305 on inputs of the same size)
//! and the peers (pasetors v4.public and v4.local, jsonwebtoken EdDSA, branca),
//! all carrying equivalent claims. See BENCHMARKS.md; `scripts/bench-ratios.sh`
//! runs this and prints the ratios.
//!
//! ```sh
//! cd benches && cargo bench --bench tokens -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Two kinds of result:
//! - criterion medians, one benchmark after another, named
//!   `tokens/<party>/<operation>` (under `benches/target/criterion/tokens/`);
//! - paired ratios, for the performance targets: the two operations of a ratio
//!   run in alternating short batches (A B B A ...) and the median of the
//!   per-round ratios is kept, so load from elsewhere on a shared machine
//!   slows both sides alike. Written to `benches/target/criterion/tokens/paired.json`.
//!
//! Token lengths go to `benches/target/criterion/tokens/<name>.length`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::XChaCha20Poly1305;
use ed25519_dalek::{Signer, SigningKey, Verifier as _};
use serde::{Deserialize, Serialize};
use tessera::{Error, Issuer, Keyset, Policy, Session, SessionId};
use tessera_benches::{bench_all, full_run, median_ratio, Op, Pairing};

/// The application data every token carries, peers included.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct AppData {
    org: u64,
    role: String,
}

const SUBJECT: &str = "user-48151623@example.com";
const IDLE_SECS: u64 = 30 * 60;
/// Tokens in the cold-verify pool: far more than the verifier's cache holds
/// (8,192 by default), so every token was evicted long before it comes round again.
const COLD_POOL: usize = 65_536;
const OUT: &str = "target/criterion/tokens";

fn app_data() -> AppData {
    AppData {
        org: 4242,
        role: "editor".to_string(),
    }
}

/// The claims a peer token carries: what a tessera token carries, as JSON
/// (subject, issued-at, expiry, a session id, the same data).
#[derive(Serialize, Deserialize)]
struct PeerClaims {
    sub: String,
    iat: u64,
    exp: u64,
    sid: String,
    data: AppData,
}

fn peer_claims() -> PeerClaims {
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PeerClaims {
        sub: SUBJECT.to_string(),
        iat,
        exp: iat + IDLE_SECS,
        sid: SessionId([0x5a; 16]).to_hex(),
        data: app_data(),
    }
}

/// Records one token length for the ratios script (criterion knows nothing of it).
fn record_length(name: &str, len: usize) {
    let _ = std::fs::create_dir_all(OUT);
    let _ = std::fs::write(
        Path::new(OUT).join(format!("{name}.length")),
        len.to_string(),
    );
    eprintln!("token length {name}: {len}");
}

/// Every operation, in the order criterion measures them: each tessera
/// operation right after the floor it is compared with.
fn operations() -> Vec<(&'static str, Op<'static>)> {
    let mut ops: Vec<(&'static str, Op<'static>)> = Vec::new();
    tessera_and_floor(&mut ops);
    pasetors(&mut ops);
    jsonwebtoken(&mut ops);
    branca(&mut ops);
    ops
}

fn tessera_and_floor(ops: &mut Vec<(&'static str, Op<'static>)>) {
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let verifier = issuer.verifier();
    let data = app_data();
    let token = issuer.issue(SUBJECT, &data).expect("issue");
    record_length("tessera", token.len());
    let session: Session<AppData> = verifier.verify(&token).expect("verify");
    assert_eq!(session.data(), &data);

    // The floor: the two primitives alone, on inputs the size of the token's.
    // body = header(5) || nonce(24) || ciphertext || tag(16) || signature(64)
    let body = (token.len() - "tsr1.".len()) * 3 / 4;
    let plaintext_len = body - 5 - 24 - 16 - 64;
    // DS_SIG || header || nonce || le64 || ciphertext || tag || le64 || audience ("")
    let signed_len = b"tessera/v1/sig".len() + 5 + 24 + 8 + plaintext_len + 16 + 8;
    // DS_AEAD || header || le64 || audience ("")
    let aad = vec![0x24u8; b"tessera/v1/aead".len() + 5 + 8];
    let signing = SigningKey::from_bytes(&[7u8; 32]);
    let verifying = signing.verifying_key();
    let message = vec![0x42u8; signed_len];
    // verify_strict's cost varies a little with the signature (variable-time
    // scalar multiplication) and with what is in the CPU caches: the floor
    // verifies as many distinct messages and signatures in turn as cold verify
    // sees distinct tokens (with one fixed message it measured about 3% less).
    let signed: Vec<(Vec<u8>, ed25519_dalek::Signature)> = (0..COLD_POOL as u32)
        .map(|i| {
            let mut message = message.clone();
            message[..4].copy_from_slice(&i.to_le_bytes());
            let signature = signing.sign(&message);
            (message, signature)
        })
        .collect();
    let mut next_signed = 0usize;
    // Plain `verify` on the same pool: what tessera's strict check costs
    // (src/ed25519.rs: small-order R refused, then plain verify).
    let signed_plain = signed.clone();
    let mut next_plain = 0usize;
    let cipher = XChaCha20Poly1305::new(&[9u8; 32].into());
    let nonce = [3u8; 24].into();
    let plaintext = vec![0x11u8; plaintext_len];
    let mut sealed = plaintext.clone();
    let tag = cipher
        .encrypt_inout_detached(&nonce, &aad, sealed.as_mut_slice().into())
        .expect("seal");

    // Cold: a distinct token every time, through a verifier with its cache on
    // (default capacity): every verification misses, pays the full signature
    // check and inserts its entry.
    let pool: Vec<String> = (0..COLD_POOL)
        .map(|_| issuer.issue(SUBJECT, &data).expect("issue"))
        .collect();
    let cold = issuer.verifier();
    let mut next = 0usize;
    // The same token each time, through a verifier with its cache off.
    let uncached = issuer.verifier().with_cache_capacity(0);
    // Forged: the real header and nonce, one ciphertext byte changed (the
    // token stays canonical base64url): rejected by the AEAD.
    let forged = {
        let mut chars = token.clone().into_bytes();
        let at = "tsr1.".len() + 48; // body byte 36: inside the ciphertext
        chars[at] = if chars[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(chars).expect("ascii")
    };
    assert_eq!(
        verifier.verify::<AppData>(&forged).err(),
        Some(Error::Invalid)
    );
    let garbage: String = (0..token.len())
        .map(|i| char::from(b"!?#%&*~^"[i % 8]))
        .collect();
    assert_eq!(
        verifier.verify::<AppData>(&garbage).err(),
        Some(Error::Malformed)
    );
    // A filter holding 10,000 revocations; the lookup is for a live session.
    let filter = Arc::clone(verifier.revocations());
    for i in 0..10_000u32 {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&i.to_le_bytes());
        filter.revoke(SessionId(id), session.deadline());
    }

    // The operations below own what they use; the shared parts go in `Arc`s.
    let (issuer, verifier) = (Arc::new(issuer), Arc::new(verifier));
    let (renewer, verifier_forged, verifier_garbage) = (
        Arc::clone(&issuer),
        Arc::clone(&verifier),
        Arc::clone(&verifier),
    );
    let (id, deadline) = (session.id(), session.deadline());
    let (seal_cipher, seal_aad) = (cipher.clone(), aad.clone());

    ops.push((
        "floor/ed25519_verify_strict",
        Box::new(move || {
            next_signed = (next_signed + 1) % signed.len();
            let (message, signature) = &signed[next_signed];
            let _ = black_box(verifying.verify_strict(black_box(message), black_box(signature)));
        }),
    ));
    ops.push((
        "floor/ed25519_verify",
        Box::new(move || {
            next_plain = (next_plain + 1) % signed_plain.len();
            let (message, signature) = &signed_plain[next_plain];
            let _ = black_box(verifying.verify(black_box(message), black_box(signature)));
        }),
    ));
    ops.push((
        "tessera/verify_cold",
        Box::new(move || {
            next = (next + 1) % COLD_POOL;
            let _ = black_box(cold.verify::<AppData>(black_box(&pool[next])));
        }),
    ));
    let hot_token = token.clone();
    ops.push((
        "tessera/verify_nocache",
        Box::new(move || {
            let _ = black_box(uncached.verify::<AppData>(black_box(&token)));
        }),
    ));
    // Hot: the same token again, a cache hit.
    ops.push((
        "tessera/verify_hot",
        Box::new(move || {
            let _ = black_box(verifier.verify::<AppData>(black_box(&hot_token)));
        }),
    ));
    ops.push((
        "tessera/reject_forged",
        Box::new(move || {
            let _ = black_box(verifier_forged.verify::<AppData>(black_box(&forged)));
        }),
    ));
    ops.push((
        "tessera/reject_garbage",
        Box::new(move || {
            let _ = black_box(verifier_garbage.verify::<AppData>(black_box(&garbage)));
        }),
    ));
    let sealed_len = sealed.len();
    ops.push((
        "floor/xchacha_open",
        Box::new(move || {
            let mut buf = [0u8; 256];
            let buf = &mut buf[..sealed_len];
            buf.copy_from_slice(black_box(&sealed));
            let _ = black_box(cipher.decrypt_inout_detached(&nonce, &aad, buf.into(), &tag));
        }),
    ));
    ops.push((
        "floor/ed25519_sign",
        Box::new(move || {
            black_box(signing.sign(black_box(&message)));
        }),
    ));
    ops.push((
        "tessera/issue",
        Box::new(move || {
            let _ = black_box(issuer.issue(black_box(SUBJECT), black_box(&data)));
        }),
    ));
    ops.push((
        "tessera/renew",
        Box::new(move || {
            let _ = black_box(renewer.renew(black_box(&session)));
        }),
    ));
    ops.push((
        "floor/xchacha_seal",
        Box::new(move || {
            let mut buf = [0u8; 256];
            let buf = &mut buf[..plaintext.len()];
            buf.copy_from_slice(black_box(&plaintext));
            let _ = black_box(seal_cipher.encrypt_inout_detached(&nonce, &seal_aad, buf.into()));
        }),
    ));
    // The issuer's one draw from the OS per token: session id and nonce.
    ops.push((
        "floor/os_random_40",
        Box::new(|| {
            let mut random = [0u8; 40];
            let _ = black_box(getrandom::fill(&mut random));
            black_box(random);
        }),
    ));
    ops.push((
        "tessera/revocation_lookup",
        Box::new(move || {
            black_box(filter.is_revoked(black_box(id), black_box(deadline)));
        }),
    ));
}

fn pasetors(ops: &mut Vec<(&'static str, Op<'static>)>) {
    use pasetors::claims::{Claims, ClaimsValidationRules};
    use pasetors::keys::{AsymmetricKeyPair, Generate, SymmetricKey};
    use pasetors::token::UntrustedToken;
    use pasetors::version4::V4;
    use pasetors::{local, public, Local, Public};

    let peer = peer_claims();
    // Claims::new() sets iat, nbf and exp (RFC 3339); exp one hour ahead.
    let mut claims = Claims::new().expect("claims");
    claims.subject(&peer.sub).expect("sub");
    claims.token_identifier(&peer.sid).expect("jti");
    claims
        .add_additional("data", serde_json::to_value(&peer.data).expect("json"))
        .expect("data");
    let pair = AsymmetricKeyPair::<V4>::generate().expect("keys");
    let symmetric = SymmetricKey::<V4>::generate().expect("key");
    let public_token = public::sign(&pair.secret, &claims, None, None).expect("sign");
    record_length("pasetors_v4_public", public_token.len());
    let local_token = local::encrypt(&symmetric, &claims, None, None).expect("encrypt");
    record_length("pasetors_v4_local", local_token.len());

    let (secret, public) = (pair.secret, pair.public);
    let symmetric2 = symmetric.clone();
    let claims2 = claims.clone();
    // The default rules check iat, nbf and exp.
    let rules = ClaimsValidationRules::new();
    let rules2 = ClaimsValidationRules::new();
    ops.push((
        "pasetors/v4_public_sign",
        Box::new(move || {
            let _ = black_box(public::sign(&secret, black_box(&claims), None, None));
        }),
    ));
    ops.push((
        "pasetors/v4_public_verify",
        Box::new(move || {
            let untrusted = UntrustedToken::<Public, V4>::try_from(black_box(&public_token));
            let verified = untrusted.and_then(|u| public::verify(&public, &u, &rules, None, None));
            let _ = black_box(verified);
        }),
    ));
    ops.push((
        "pasetors/v4_local_encrypt",
        Box::new(move || {
            let _ = black_box(local::encrypt(&symmetric, black_box(&claims2), None, None));
        }),
    ));
    ops.push((
        "pasetors/v4_local_decrypt",
        Box::new(move || {
            let untrusted = UntrustedToken::<Local, V4>::try_from(black_box(&local_token));
            let opened =
                untrusted.and_then(|u| local::decrypt(&symmetric2, &u, &rules2, None, None));
            let _ = black_box(opened);
        }),
    ));
}

fn jsonwebtoken(ops: &mut Vec<(&'static str, Op<'static>)>) {
    use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};

    let seed = [5u8; 32];
    // PKCS#8 v1 for an Ed25519 seed (RFC 8410), as `EncodingKey::from_ed_der`
    // expects it.
    let mut pkcs8 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    pkcs8.extend_from_slice(&seed);
    let encoding = EncodingKey::from_ed_der(&pkcs8);
    let decoding =
        DecodingKey::from_ed_der(&SigningKey::from_bytes(&seed).verifying_key().to_bytes());
    let header = Header::new(Algorithm::EdDSA);
    // The default validation checks exp.
    let validation = Validation::new(Algorithm::EdDSA);
    let claims = peer_claims();
    let token = encode(&header, &claims, &encoding).expect("encode");
    record_length("jsonwebtoken_eddsa", token.len());
    let decoded = decode::<PeerClaims>(&token, &decoding, &validation).expect("decode");
    assert_eq!(decoded.claims.sub, SUBJECT);

    ops.push((
        "jsonwebtoken/eddsa_encode",
        Box::new(move || {
            let _ = black_box(encode(&header, black_box(&claims), &encoding));
        }),
    ));
    ops.push((
        "jsonwebtoken/eddsa_decode",
        Box::new(move || {
            let _ = black_box(decode::<PeerClaims>(
                black_box(&token),
                &decoding,
                &validation,
            ));
        }),
    ));
}

fn branca(ops: &mut Vec<(&'static str, Op<'static>)>) {
    let key = [8u8; 32];
    let mut encoder = branca::Branca::new(&key).expect("key");
    let decoder = encoder.clone();
    let claims = peer_claims();
    let ttl = IDLE_SECS as u32;
    let token = encoder
        .encode(&serde_json::to_vec(&claims).expect("json"))
        .expect("encode");
    record_length("branca", token.len());
    let decoded: PeerClaims =
        serde_json::from_slice(&decoder.decode(&token, ttl).expect("decode")).expect("json");
    assert_eq!(decoded.sub, SUBJECT);

    ops.push((
        "branca/encode",
        Box::new(move || {
            let json = serde_json::to_vec(black_box(&claims)).expect("json");
            let _ = black_box(encoder.encode(&json));
        }),
    ));
    ops.push((
        "branca/decode",
        Box::new(move || {
            let json = decoder.decode(black_box(&token), ttl);
            let claims = json.map(|j| serde_json::from_slice::<PeerClaims>(&j));
            let _ = black_box(claims);
        }),
    ));
}

/// The ratios the performance targets are stated in: (name, numerator
/// operations, denominator operations); a side with several operations is
/// their sum (one of each per iteration).
const PAIRS: &[(&str, &[&str], &[&str])] = &[
    (
        "cold_verify_over_verify_strict",
        &["tessera/verify_cold"],
        &["floor/ed25519_verify_strict"],
    ),
    (
        "issue_over_sign",
        &["tessera/issue"],
        &["floor/ed25519_sign"],
    ),
    (
        "cold_verify_over_forged_rejection",
        &["tessera/verify_cold"],
        &["tessera/reject_forged"],
    ),
    (
        "cold_verify_over_hot_verify",
        &["tessera/verify_cold"],
        &["tessera/verify_hot"],
    ),
    (
        "cold_verify_over_pasetors_public_verify_plus_local_decrypt",
        &["tessera/verify_cold"],
        &["pasetors/v4_public_verify", "pasetors/v4_local_decrypt"],
    ),
    (
        "cold_verify_over_jsonwebtoken_decode",
        &["tessera/verify_cold"],
        &["jsonwebtoken/eddsa_decode"],
    ),
    // Where the overhead goes: tessera against the sum of the primitives it
    // cannot avoid, and the floor against the peer that uses plain `verify`.
    (
        "cold_verify_over_verify_strict_plus_xchacha_open",
        &["tessera/verify_cold"],
        &["floor/ed25519_verify_strict", "floor/xchacha_open"],
    ),
    (
        "cold_verify_over_plain_verify_plus_xchacha_open",
        &["tessera/verify_cold"],
        &["floor/ed25519_verify", "floor/xchacha_open"],
    ),
    (
        "issue_over_sign_plus_xchacha_seal_plus_os_random",
        &["tessera/issue"],
        &[
            "floor/ed25519_sign",
            "floor/xchacha_seal",
            "floor/os_random_40",
        ],
    ),
    (
        "verify_strict_over_jsonwebtoken_decode",
        &["floor/ed25519_verify_strict"],
        &["jsonwebtoken/eddsa_decode"],
    ),
    (
        "xchacha_open_over_hot_verify",
        &["floor/xchacha_open"],
        &["tessera/verify_hot"],
    ),
];

/// Alternating batches of the two sides of each ratio (A B B A per round, each
/// batch about a millisecond); the median of the per-round ratios.
fn paired(ops: &mut [(&'static str, Op<'static>)], budget: Duration) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (name, top, bottom) in PAIRS {
        let pairing = Pairing {
            probe: 20,
            max_iters: 100_000,
            budget,
        };
        let (median, rounds) = median_ratio(ops, top, bottom, pairing);
        eprintln!("paired {name}: {median:.3} (median of {rounds} rounds)");
        out.insert((*name).to_string(), median);
    }
    out
}

fn main() {
    let mut ops = operations();
    bench_all("tokens", &mut ops);
    if full_run() {
        let ratios = paired(&mut ops, Duration::from_secs(3));
        let json = serde_json::to_string_pretty(&ratios).expect("json");
        let _ = std::fs::write(Path::new(OUT).join("paired.json"), json);
    }
}
