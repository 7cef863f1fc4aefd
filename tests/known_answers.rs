//! Known-answer vectors for token format v1 (tests/vectors/v1.json).
//!
//! Positive vectors are issued through the deterministic `test-util` path with
//! fixed keys, session ids and nonces, and must match byte for byte. The same
//! bytes are also rebuilt here from the primitives, following docs/FORMAT.md
//! alone, so the document and the code cannot drift apart. Negative vectors
//! carry the error each must give.
//!
//! Regenerate after an intentional format change with
//! `TESSERA_WRITE_VECTORS=1 cargo test --all-features --test known_answers`.

use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera::testing::{issue_deterministic, keyset_from_raw, RawKey};
use tessera::{Error, Issuer, KeyId, Policy, Session};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/v1.json");
const T0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Roles {
    roles: Vec<String>,
    tenant: u32,
}

fn raw_keys() -> Vec<RawKey> {
    vec![
        RawKey {
            id: KeyId(0x0102_0304),
            signing_seed: bytes32(0x11),
            encryption_key: bytes32(0x42),
        },
        RawKey {
            id: KeyId(0xfedc_ba98),
            signing_seed: bytes32(0x77),
            encryption_key: bytes32(0x99),
        },
    ]
}

/// 32 bytes counting up from `start`: fixed, and obviously not a real key.
fn bytes32(start: u8) -> [u8; 32] {
    core::array::from_fn(|i| start.wrapping_add(i as u8))
}

fn policy(audience: &str) -> Policy {
    Policy::default()
        .idle_timeout(Duration::from_secs(1800))
        .max_lifetime(Duration::from_secs(43_200))
        .leeway(Duration::from_secs(60))
        .audience(audience)
}

struct Positive {
    name: &'static str,
    audience: &'static str,
    subject: &'static str,
    data: Value,
    session_id: [u8; 16],
    nonce: [u8; 24],
}

fn positives() -> Vec<Positive> {
    vec![
        Positive {
            name: "unit data, no audience",
            audience: "",
            subject: "user-000000000017",
            data: Value::Null,
            session_id: core::array::from_fn(|i| i as u8),
            nonce: core::array::from_fn(|i| 0xa0 + i as u8),
        },
        Positive {
            name: "string data, audience",
            audience: "billing-api",
            subject: "alice@example.com",
            data: json!("csrf-7f3a"),
            session_id: [0x5a; 16],
            nonce: [0x01; 24],
        },
        Positive {
            name: "struct data, empty subject",
            audience: "",
            subject: "",
            data: json!({"roles": ["admin", "billing"], "tenant": 42}),
            session_id: [0xff; 16],
            nonce: [0x00; 24],
        },
    ]
}

/// Issues `p` through tessera's deterministic path.
fn issue(issuer: &Issuer, p: &Positive) -> String {
    let r = match &p.data {
        Value::Null => issue_deterministic(issuer, p.subject, &(), T0, p.session_id, p.nonce),
        Value::String(s) => issue_deterministic(issuer, p.subject, s, T0, p.session_id, p.nonce),
        other => {
            let roles: Roles = serde_json::from_value(other.clone()).unwrap();
            issue_deterministic(issuer, p.subject, &roles, T0, p.session_id, p.nonce)
        }
    };
    r.unwrap()
}

/// Postcard claims exactly as docs/FORMAT.md describes them.
fn reference_claims(p: &Positive) -> Vec<u8> {
    #[derive(Serialize)]
    struct Claims<'a, T> {
        session_id: [u8; 16],
        issued_at: u64,
        expires_after: u64,
        deadline_after: u64,
        subject: &'a str,
        data: T,
    }
    fn encode<T: Serialize>(p: &Positive, data: T) -> Vec<u8> {
        postcard::to_stdvec(&Claims {
            session_id: p.session_id,
            issued_at: T0,
            expires_after: 1800,
            deadline_after: 43_200,
            subject: p.subject,
            data,
        })
        .unwrap()
    }
    match &p.data {
        Value::Null => encode(p, ()),
        Value::String(s) => encode(p, s.as_str()),
        other => encode(p, serde_json::from_value::<Roles>(other.clone()).unwrap()),
    }
}

/// A second, independent implementation of sealing, from docs/FORMAT.md.
fn reference_token(key: &RawKey, p: &Positive) -> String {
    seal_reference(key, p.audience, &p.nonce, reference_claims(p))
}

/// Seals any plaintext as `key` would: a genuine token, whatever it holds.
fn seal_reference(key: &RawKey, audience: &str, nonce: &[u8; 24], plaintext: Vec<u8>) -> String {
    let header = {
        let mut h = vec![1u8];
        h.extend_from_slice(&key.id.0.to_be_bytes());
        h
    };
    let aud = audience.as_bytes();
    let mut aad = b"tessera/v1/aead".to_vec();
    aad.extend_from_slice(&header);
    aad.extend_from_slice(&(aud.len() as u64).to_le_bytes());
    aad.extend_from_slice(aud);

    let mut ct = plaintext;
    let cipher = XChaCha20Poly1305::new((&key.encryption_key).into());
    let tag = cipher
        .encrypt_inout_detached(nonce.into(), &aad, ct.as_mut_slice().into())
        .unwrap();
    ct.extend_from_slice(&tag);

    let mut msg = b"tessera/v1/sig".to_vec();
    msg.extend_from_slice(&header);
    msg.extend_from_slice(nonce);
    msg.extend_from_slice(&(ct.len() as u64).to_le_bytes());
    msg.extend_from_slice(&ct);
    msg.extend_from_slice(&(aud.len() as u64).to_le_bytes());
    msg.extend_from_slice(aud);
    let sig = SigningKey::from_bytes(&key.signing_seed).sign(&msg);

    let mut body = header;
    body.extend_from_slice(nonce);
    body.extend_from_slice(&ct);
    body.extend_from_slice(&sig.to_bytes());
    format!("tsr1.{}", Base64UrlUnpadded::encode_string(&body))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn error_name(e: &Error) -> String {
    format!("{e:?}")
}

/// Builds the whole vector file from the fixed inputs.
fn build_vectors() -> Value {
    let keys = raw_keys();
    let keyset = keyset_from_raw(&keys).unwrap();
    let mut positive = Vec::new();
    let mut negative = Vec::new();
    let mut tokens = Vec::new();
    for p in positives() {
        let issuer = Issuer::new(keyset.clone(), policy(p.audience));
        let token = issue(&issuer, &p);
        positive.push(json!({
            "name": p.name,
            "audience": p.audience,
            "subject": p.subject,
            "data": p.data,
            "session_id": hex(&p.session_id),
            "nonce": hex(&p.nonce),
            "issued_at": T0,
            "expires_at": T0 + 1800,
            "deadline": T0 + 43_200,
            "claims_postcard": hex(&reference_claims(&p)),
            "token": token,
            "length": token.len(),
        }));
        tokens.push((p, token));
    }

    let (first, token) = &tokens[0];
    let (second, aud_token) = &tokens[1];
    let body = Base64UrlUnpadded::decode_vec(&token[5..]).unwrap();
    let reencode = |b: &[u8]| format!("tsr1.{}", Base64UrlUnpadded::encode_string(b));
    let flip = |at: usize| {
        let mut b = body.clone();
        b[at] ^= 0x01;
        reencode(&b)
    };
    let unknown_key = {
        let mut b = body.clone();
        b[1..5].copy_from_slice(&0xdead_beefu32.to_be_bytes());
        reencode(&b)
    };
    let version2 = {
        let mut b = body.clone();
        b[0] = 2;
        reencode(&b)
    };
    // In a body whose length is not a multiple of 3, the last character has
    // must-be-zero low bits; setting one is a non-canonical encoding.
    let (partial, partial_token) = tokens
        .iter()
        .find(|(_, t)| Base64UrlUnpadded::decode_vec(&t[5..]).unwrap().len() % 3 != 0)
        .expect("a vector with a partial last group");
    let non_canonical = {
        let mut t = partial_token.clone().into_bytes();
        let last = t.pop().unwrap();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let pos = alphabet.iter().position(|&c| c == last).unwrap();
        t.push(alphabet[pos | 1]);
        String::from_utf8(t).unwrap()
    };
    assert_ne!(
        &non_canonical, partial_token,
        "the last character must change"
    );
    let cases: Vec<(&str, String, &str, u64, Error)> = vec![
        (
            "ciphertext bit flipped",
            flip(5 + 24 + 3),
            first.audience,
            T0,
            Error::Invalid,
        ),
        (
            "tag bit flipped",
            flip(body.len() - 64 - 1),
            first.audience,
            T0,
            Error::Invalid,
        ),
        (
            "nonce bit flipped",
            flip(5 + 7),
            first.audience,
            T0,
            Error::Invalid,
        ),
        (
            "signature bit flipped",
            flip(body.len() - 1),
            first.audience,
            T0,
            Error::Invalid,
        ),
        (
            "truncated by one byte",
            reencode(&body[..body.len() - 1]),
            first.audience,
            T0,
            Error::Invalid,
        ),
        (
            "truncated to the header",
            reencode(&body[..5]),
            first.audience,
            T0,
            Error::Malformed,
        ),
        (
            "expired: idle timeout plus leeway passed",
            token.clone(),
            first.audience,
            T0 + 1800 + 60,
            Error::Expired,
        ),
        (
            "not yet valid: issued beyond the leeway",
            token.clone(),
            first.audience,
            T0 - 61,
            Error::NotYetValid,
        ),
        (
            "wrong audience",
            aud_token.clone(),
            "search-api",
            T0,
            Error::Invalid,
        ),
        (
            "audience missing",
            aud_token.clone(),
            "",
            T0,
            Error::Invalid,
        ),
        (
            "audience given to a token without one",
            token.clone(),
            second.audience,
            T0,
            Error::Invalid,
        ),
        (
            "unknown key id",
            unknown_key,
            first.audience,
            T0,
            Error::UnknownKey,
        ),
        (
            "unsupported version",
            version2,
            first.audience,
            T0,
            Error::UnsupportedVersion,
        ),
        (
            "non-canonical base64: trailing bits set",
            non_canonical,
            partial.audience,
            T0,
            Error::Malformed,
        ),
        (
            "padding",
            format!("{token}="),
            first.audience,
            T0,
            Error::Malformed,
        ),
        (
            "standard alphabet character",
            format!("tsr1.+{}", &token[6..]),
            first.audience,
            T0,
            Error::Malformed,
        ),
        (
            "embedded whitespace",
            format!("{} {}", &token[..50], &token[50..]),
            first.audience,
            T0,
            Error::Malformed,
        ),
        (
            "wrong prefix",
            format!("tsr2.{}", &token[5..]),
            first.audience,
            T0,
            Error::Malformed,
        ),
        (
            "too long",
            format!("tsr1.{}", "A".repeat(4092)),
            first.audience,
            T0,
            Error::TooLarge,
        ),
    ];
    for (name, token, audience, now, error) in cases {
        negative.push(json!({
            "name": name,
            "token": token,
            "audience": audience,
            "verify_at": now,
            "error": error_name(&error),
        }));
    }
    json!({
        "format": "tessera token v1",
        "note": "Fixed test keys: never use them for anything real.",
        "policy": {"idle_timeout": 1800, "max_lifetime": 43_200, "leeway": 60, "max_token_length": 4096},
        "keys": keys.iter().map(|k| json!({
            "id": k.id.0,
            "signing_seed": hex(&k.signing_seed),
            "verifying_key": hex(&SigningKey::from_bytes(&k.signing_seed).verifying_key().to_bytes()),
            "encryption_key": hex(&k.encryption_key),
            "primary": k.id == raw_keys()[0].id,
        })).collect::<Vec<_>>(),
        "positive": positive,
        "negative": negative,
    })
}

#[test]
fn vectors_match_the_checked_in_file() {
    let built = build_vectors();
    if std::env::var_os("TESSERA_WRITE_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(&built).unwrap() + "\n";
        std::fs::write(PATH, text).unwrap();
    }
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    assert_eq!(
        built, stored,
        "tests/vectors/v1.json is stale or the format changed"
    );
}

#[test]
fn positive_vectors_match_an_independent_implementation() {
    let key = raw_keys()[0];
    for p in positives() {
        let issuer = Issuer::new(keyset_from_raw(&raw_keys()).unwrap(), policy(p.audience));
        assert_eq!(issue(&issuer, &p), reference_token(&key, &p), "{}", p.name);
    }
}

#[test]
fn stored_vectors_verify_as_recorded() {
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let keyset = keyset_from_raw(&raw_keys()).unwrap();
    let positive = stored["positive"].as_array().unwrap();
    let negative = stored["negative"].as_array().unwrap();
    assert_eq!(positive.len(), 3);
    assert!(negative.len() >= 15);
    for v in positive {
        let verifier =
            Issuer::new(keyset.clone(), policy(v["audience"].as_str().unwrap())).verifier();
        let token = v["token"].as_str().unwrap();
        match &v["data"] {
            Value::Null => check::<()>(&verifier, token, v, |_| Value::Null),
            Value::String(_) => check::<String>(&verifier, token, v, |s| json!(s)),
            _ => check::<Roles>(&verifier, token, v, |r| serde_json::to_value(r).unwrap()),
        }
    }
    for v in negative {
        let verifier =
            Issuer::new(keyset.clone(), policy(v["audience"].as_str().unwrap())).verifier();
        let got = verifier
            .verify_at::<()>(
                v["token"].as_str().unwrap(),
                v["verify_at"].as_u64().unwrap(),
            )
            .err()
            .map(|e| error_name(&e));
        assert_eq!(got.as_deref(), v["error"].as_str(), "{}", v["name"]);
    }
}

/// Verifies `token` as `T` and compares every claim with the vector `v`.
fn check<T: serde::de::DeserializeOwned>(
    verifier: &tessera::Verifier,
    token: &str,
    v: &Value,
    to_json: impl Fn(&T) -> Value,
) {
    let s: Session<T> = verifier.verify_at(token, T0).unwrap();
    assert_eq!(s.subject(), v["subject"].as_str().unwrap());
    assert_eq!(to_json(s.data()), v["data"]);
    assert_eq!(hex(&s.id().0), v["session_id"].as_str().unwrap());
    assert_eq!(s.issued_at(), v["issued_at"].as_u64().unwrap());
    assert_eq!(s.expires_at(), v["expires_at"].as_u64().unwrap());
    assert_eq!(s.deadline(), v["deadline"].as_u64().unwrap());
    assert_eq!(s.key_id(), raw_keys()[0].id);
}

/// Genuine tokens (sealed and signed with the real key) whose claims are
/// wrong: the framing (session id, times, subject) is `Malformed`, the data
/// (the bytes after the subject, not exactly one encoding of the type asked
/// for) is `DataMismatch`, exactly as docs/FORMAT.md step 6 says.
#[test]
fn genuine_claims_framing_versus_data_errors() {
    let key = raw_keys()[0];
    let verifier = Issuer::new(keyset_from_raw(&raw_keys()).unwrap(), policy("")).verifier();
    let cold = verifier.clone().with_cache_capacity(0);
    let framing = |subject: &str, expires: u64, deadline: u64| {
        let mut claims = vec![7u8; 16];
        claims.extend(postcard::to_stdvec(&(T0, expires, deadline, subject)).unwrap());
        claims
    };
    let good = framing("ann", 1800, 43_200);
    let with = |data: &[u8]| [good.as_slice(), data].concat();
    let roles = postcard::to_stdvec(&Roles {
        roles: vec!["admin".into()],
        tenant: 7,
    })
    .unwrap();
    let mut bad_utf8 = good.clone();
    *bad_utf8.last_mut().unwrap() = 0xff;
    // (what, claims, verdict as `()`, verdict as `Roles`)
    type Case = (&'static str, Vec<u8>, Option<Error>, Option<Error>);
    let cases: Vec<Case> = vec![
        ("unit data", with(&[]), None, Some(Error::DataMismatch)),
        ("roles data", with(&roles), Some(Error::DataMismatch), None),
        (
            "a byte after the roles",
            with(&[roles.as_slice(), &[0]].concat()),
            Some(Error::DataMismatch),
            Some(Error::DataMismatch),
        ),
        (
            "roles cut short",
            with(&roles[..roles.len() - 1]),
            Some(Error::DataMismatch),
            Some(Error::DataMismatch),
        ),
        (
            "framing cut inside the subject",
            good[..good.len() - 1].to_vec(),
            Some(Error::Malformed),
            Some(Error::Malformed),
        ),
        (
            "empty claims",
            Vec::new(),
            Some(Error::Malformed),
            Some(Error::Malformed),
        ),
        (
            "subject not UTF-8",
            bad_utf8,
            Some(Error::Malformed),
            Some(Error::Malformed),
        ),
        (
            "expiry after the deadline",
            [framing("ann", 5, 4), roles.clone()].concat(),
            Some(Error::Malformed),
            Some(Error::Malformed),
        ),
        (
            "offset overflows",
            [framing("ann", u64::MAX, u64::MAX), roles.clone()].concat(),
            Some(Error::Malformed),
            Some(Error::Malformed),
        ),
    ];
    for (i, (name, claims, as_unit, as_roles)) in cases.into_iter().enumerate() {
        let nonce = [i as u8; 24];
        let token = seal_reference(&key, "", &nonce, claims.clone());
        // Forged: the same claims under another encryption key.
        let mut other = key;
        other.encryption_key[0] ^= 1;
        let forged = seal_reference(&other, "", &nonce, claims);
        for v in [&cold, &verifier, &verifier] {
            assert_eq!(v.verify_at::<()>(&token, T0).err(), as_unit, "{name} as ()");
            assert_eq!(
                v.verify_at::<Roles>(&token, T0).err(),
                as_roles,
                "{name} as Roles"
            );
            assert_eq!(
                v.verify_at::<Roles>(&forged, T0).err(),
                Some(Error::Invalid),
                "{name}"
            );
        }
    }
}
