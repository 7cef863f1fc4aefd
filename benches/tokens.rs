//! Issue, verify, renew and rejection costs, side by side in one run with the
//! floor (raw ed25519-dalek and XChaCha20-Poly1305 on inputs of the same size)
//! and the peers (pasetors v4.public and v4.local, jsonwebtoken EdDSA, branca),
//! all carrying equivalent claims. See BENCHMARKS.md; `scripts/bench-ratios.sh`
//! runs this and prints the ratios.
//!
//! ```sh
//! cargo bench --bench tokens -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Every benchmark is named `tokens/<party>/<operation>`; the script reads the
//! medians criterion writes under `target/criterion/tokens/`.

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::XChaCha20Poly1305;
use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use tessera::{Error, Issuer, Keyset, Policy, Session, SessionId};

/// The application data every token carries, peers included.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct AppData {
    org: u64,
    role: String,
}

const SUBJECT: &str = "user-48151623@example.com";
const IDLE_SECS: u64 = 30 * 60;

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

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn peer_claims() -> PeerClaims {
    let iat = now();
    PeerClaims {
        sub: SUBJECT.to_string(),
        iat,
        exp: iat + IDLE_SECS,
        sid: SessionId([0x5a; 16]).to_hex(),
        data: app_data(),
    }
}

/// Tokens in the cold-verify pool: far more than the verifier's cache holds, so
/// every token was evicted long before it comes round again.
const COLD_POOL: usize = 65_536;

/// Records one token length for the ratios script (criterion knows nothing of it).
fn record_length(name: &str, len: usize) {
    let dir = std::path::Path::new("target/criterion/tokens");
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(dir.join(format!("{name}.length")), len.to_string());
    eprintln!("token length {name}: {len}");
}

fn tessera_benches(c: &mut Criterion) {
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let verifier = issuer.verifier();
    let data = app_data();
    let token = issuer.issue(SUBJECT, &data).expect("issue");
    record_length("tessera", token.len());
    let session: Session<AppData> = verifier.verify(&token).expect("verify");
    assert_eq!(session.data(), &data);

    let mut g = c.benchmark_group("tokens");
    g.bench_function("tessera/issue", |b| {
        b.iter(|| issuer.issue(black_box(SUBJECT), black_box(&data)))
    });

    // Cold: a distinct token every iteration, through a verifier with its
    // cache on (default capacity): each verification misses, pays the full
    // signature check and inserts its fingerprint.
    let pool: Vec<String> = (0..COLD_POOL)
        .map(|_| issuer.issue(SUBJECT, &data).expect("issue"))
        .collect();
    let cold = issuer.verifier();
    let mut next = 0usize;
    g.bench_function("tessera/verify_cold", |b| {
        b.iter(|| {
            next = (next + 1) % COLD_POOL;
            cold.verify::<AppData>(black_box(&pool[next]))
        })
    });
    // Cold with the cache turned off: the same token each time, nothing skipped.
    let uncached = issuer.verifier().with_cache_capacity(0);
    g.bench_function("tessera/verify_nocache", |b| {
        b.iter(|| uncached.verify::<AppData>(black_box(&token)))
    });
    // Hot: the same token again, a cache hit.
    g.bench_function("tessera/verify_hot", |b| {
        b.iter(|| verifier.verify::<AppData>(black_box(&token)))
    });
    g.bench_function("tessera/renew", |b| {
        b.iter(|| issuer.renew(black_box(&session)))
    });

    // Forged: the real header and nonce, one ciphertext byte changed (the
    // token stays canonical base64url): rejected by the AEAD.
    let forged = {
        let mut chars: Vec<u8> = token.clone().into_bytes();
        let at = "tsr1.".len() + 48; // well inside the ciphertext (body bytes 36..)
        chars[at] = if chars[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(chars).expect("ascii")
    };
    assert_eq!(verifier.verify::<AppData>(&forged).err(), Some(Error::Invalid));
    g.bench_function("tessera/reject_forged", |b| {
        b.iter(|| verifier.verify::<AppData>(black_box(&forged)))
    });
    let garbage: String = (0..token.len())
        .map(|i| char::from(b"!?#%&*~^"[i % 8]))
        .collect();
    assert_eq!(verifier.verify::<AppData>(&garbage).err(), Some(Error::Malformed));
    g.bench_function("tessera/reject_garbage", |b| {
        b.iter(|| verifier.verify::<AppData>(black_box(&garbage)))
    });

    let filter = verifier.revocations();
    for i in 0..10_000u32 {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&i.to_le_bytes());
        filter.revoke(SessionId(id), session.deadline());
    }
    g.bench_function("tessera/revocation_lookup", |b| {
        b.iter(|| filter.is_revoked(black_box(session.id()), black_box(session.deadline())))
    });
    g.finish();

    floor_benches(c, &token);
}

/// The floor: the two primitives alone, on inputs the size of the token's.
fn floor_benches(c: &mut Criterion, token: &str) {
    // body = header(5) || nonce(24) || ciphertext || tag(16) || signature(64)
    let body_len = (token.len() - "tsr1.".len()) * 3 / 4;
    let plaintext_len = body_len - 5 - 24 - 16 - 64;
    // DS_SIG || header || nonce || le64 || ciphertext || tag || le64 || audience("")
    let signed_len = b"tessera/v1/sig".len() + 5 + 24 + 8 + plaintext_len + 16 + 8;
    // DS_AEAD || header || le64 || audience("")
    let aad_len = b"tessera/v1/aead".len() + 5 + 8;

    let signing = SigningKey::from_bytes(&[7u8; 32]);
    let verifying = signing.verifying_key();
    let message = vec![0x42u8; signed_len];
    let signature = signing.sign(&message);
    let cipher = XChaCha20Poly1305::new(&[9u8; 32].into());
    let nonce = [3u8; 24];
    let aad = vec![0x24u8; aad_len];
    let plaintext = vec![0x11u8; plaintext_len];
    let mut sealed = plaintext.clone();
    let tag = cipher
        .encrypt_inout_detached(&nonce.into(), &aad, sealed.as_mut_slice().into())
        .expect("seal");

    let mut g = c.benchmark_group("tokens");
    g.bench_function("floor/ed25519_sign", |b| {
        b.iter(|| signing.sign(black_box(&message)))
    });
    g.bench_function("floor/ed25519_verify_strict", |b| {
        b.iter(|| verifying.verify_strict(black_box(&message), black_box(&signature)))
    });
    g.bench_function("floor/xchacha_seal", |b| {
        b.iter(|| {
            let mut buf = [0u8; 256];
            let buf = &mut buf[..plaintext_len];
            buf.copy_from_slice(black_box(&plaintext));
            cipher.encrypt_inout_detached(&nonce.into(), &aad, buf.into())
        })
    });
    g.bench_function("floor/xchacha_open", |b| {
        b.iter(|| {
            let mut buf = [0u8; 256];
            let buf = &mut buf[..plaintext_len];
            buf.copy_from_slice(black_box(&sealed));
            cipher.decrypt_inout_detached(&nonce.into(), &aad, buf.into(), &tag)
        })
    });
    g.finish();
}

fn pasetors_benches(c: &mut Criterion) {
    use pasetors::claims::{Claims, ClaimsValidationRules};
    use pasetors::keys::{AsymmetricKeyPair, Generate, SymmetricKey};
    use pasetors::token::UntrustedToken;
    use pasetors::version4::V4;
    use pasetors::{local, public, Local, Public};

    let peer = peer_claims();
    let claims = || {
        let mut claims = Claims::new().expect("claims");
        claims.subject(&peer.sub).expect("sub");
        claims.token_identifier(&peer.sid).expect("jti");
        claims
            .add_additional("data", serde_json::to_value(&peer.data).expect("json"))
            .expect("data");
        claims
    };
    let claims = claims();
    let rules = ClaimsValidationRules::new();
    let pair = AsymmetricKeyPair::<V4>::generate().expect("keys");
    let symmetric = SymmetricKey::<V4>::generate().expect("key");

    let public_token = public::sign(&pair.secret, &claims, None, None).expect("sign");
    record_length("pasetors_v4_public", public_token.len());
    let local_token = local::encrypt(&symmetric, &claims, None, None).expect("encrypt");
    record_length("pasetors_v4_local", local_token.len());

    let mut g = c.benchmark_group("tokens");
    g.bench_function("pasetors/v4_public_sign", |b| {
        b.iter(|| public::sign(&pair.secret, black_box(&claims), None, None))
    });
    g.bench_function("pasetors/v4_public_verify", |b| {
        b.iter(|| {
            let untrusted = UntrustedToken::<Public, V4>::try_from(black_box(&public_token))?;
            public::verify(&pair.public, &untrusted, &rules, None, None)
        })
    });
    g.bench_function("pasetors/v4_local_encrypt", |b| {
        b.iter(|| local::encrypt(&symmetric, black_box(&claims), None, None))
    });
    g.bench_function("pasetors/v4_local_decrypt", |b| {
        b.iter(|| {
            let untrusted = UntrustedToken::<Local, V4>::try_from(black_box(&local_token))?;
            local::decrypt(&symmetric, &untrusted, &rules, None, None)
        })
    });
    g.finish();
}

fn jsonwebtoken_benches(c: &mut Criterion) {
    use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};

    let seed = [5u8; 32];
    // PKCS#8 v1 for an Ed25519 seed (RFC 8410): the DER that
    // `EncodingKey::from_ed_der` expects.
    let mut pkcs8 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    pkcs8.extend_from_slice(&seed);
    let encoding = EncodingKey::from_ed_der(&pkcs8);
    let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    let decoding = DecodingKey::from_ed_der(&public);
    let header = Header::new(Algorithm::EdDSA);
    let validation = Validation::new(Algorithm::EdDSA);
    let claims = peer_claims();

    let token = encode(&header, &claims, &encoding).expect("encode");
    record_length("jsonwebtoken_eddsa", token.len());
    let decoded = decode::<PeerClaims>(&token, &decoding, &validation).expect("decode");
    assert_eq!(decoded.claims.sub, SUBJECT);

    let mut g = c.benchmark_group("tokens");
    g.bench_function("jsonwebtoken/eddsa_encode", |b| {
        b.iter(|| encode(&header, black_box(&claims), &encoding))
    });
    g.bench_function("jsonwebtoken/eddsa_decode", |b| {
        b.iter(|| decode::<PeerClaims>(black_box(&token), &decoding, &validation))
    });
    g.finish();
}

fn branca_benches(c: &mut Criterion) {
    let key = [8u8; 32];
    let mut branca = branca::Branca::new(&key).expect("key");
    let claims = peer_claims();
    let ttl = IDLE_SECS as u32;

    let token = branca
        .encode(&serde_json::to_vec(&claims).expect("json"))
        .expect("encode");
    record_length("branca", token.len());

    let mut g = c.benchmark_group("tokens");
    g.bench_function("branca/encode", |b| {
        b.iter(|| {
            let json = serde_json::to_vec(black_box(&claims)).map_err(|_| ())?;
            branca.encode(&json).map_err(|_| ())
        })
    });
    g.bench_function("branca/decode", |b| {
        b.iter(|| {
            let json = branca.decode(black_box(&token), ttl).map_err(|_| ())?;
            serde_json::from_slice::<PeerClaims>(&json).map_err(|_| ())
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    tessera_benches,
    pasetors_benches,
    jsonwebtoken_benches,
    branca_benches
);
criterion_main!(benches, scratchg);

fn scratch(c: &mut Criterion) {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use ed25519_dalek::{Digest, Sha512};
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let token = issuer.issue(SUBJECT, &app_data()).unwrap();
    let body = Base64UrlUnpadded::decode_vec(&token[5..]).unwrap();
    let mut g = c.benchmark_group("scratch");
    g.bench_function("sha512", |b| b.iter(|| Sha512::digest(black_box(&body))));
    g.bench_function("b64decode_into_6144", |b| b.iter(|| { let mut buf = [0u8; 6144]; let n = Base64UrlUnpadded::decode(black_box(&token[5..]), &mut buf).unwrap().len(); black_box(&buf); n }));
    g.bench_function("b64decode_into_512", |b| b.iter(|| { let mut buf = [0u8; 512]; let n = Base64UrlUnpadded::decode(black_box(&token[5..]), &mut buf).unwrap().len(); black_box(&buf); n }));
    g.bench_function("zero3x6144", |b| b.iter(|| { let a = [0u8; 6144]; let c2 = [0u8; 6144]; let d = [0u8; 6464]; black_box(&a); black_box(&c2); black_box(&d); }));
    g.bench_function("b64encode", |b| b.iter(|| Base64UrlUnpadded::encode_string(black_box(&body))));
    g.bench_function("getrandom40", |b| b.iter(|| { let mut r = [0u8; 40]; getrandom::fill(&mut r).unwrap(); r }));
    g.bench_function("getrandom24", |b| b.iter(|| { let mut r = [0u8; 24]; getrandom::fill(&mut r).unwrap(); r }));
    let sk = SigningKey::from_bytes(&[1; 32]);
    let msg = vec![1u8; 150];
    use ed25519_dalek::ed25519::signature::MultipartSigner;
    g.bench_function("sign150", |b| b.iter(|| sk.sign(black_box(&msg))));
    g.bench_function("msign150", |b| b.iter(|| sk.try_multipart_sign(&[&msg[..14], &msg[14..60], &msg[60..100], &msg[100..]]).unwrap()));
    g.bench_function("postcard", |b| b.iter(|| { let mut buf = [0u8; 256]; postcard::to_slice(black_box(&(SUBJECT, 5u64, 7u64, [1u8;16], app_data())), &mut buf).unwrap().len() }));
    g.finish();
}
criterion_group!(scratchg, scratch);
