//! Bodies of the fuzz targets, one plain function per target.
//!
//! Compiled twice: by the cargo-fuzz crate (`fuzz/src/lib.rs`, driven by
//! libFuzzer on nightly) and by tessera's `tests/fuzz_replay.rs` (stable
//! `cargo test`, which replays every checked-in corpus and regression file).
//! A crash found by the fuzzer therefore becomes a stable regression test by
//! copying the input to `fuzz/regressions/<target>/`.
//!
//! Every key, session id and nonce derives from [`FIXED_SEED`], so any input
//! reproduces the same behaviour everywhere.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tessera::testing::{self, RawKey};
use tessera::{
    Error, Issuer, KeyId, Keyset, Policy, RevocationFilter, Session, SessionId, Verifier,
    VerifierKeyset,
};

/// Where every fixed key, session id and nonce comes from.
pub const FIXED_SEED: u64 = 0x7465_7373_6572_6131; // "tessera1"

/// The issue time of the seed tokens.
pub const T0: u64 = 1_750_000_000;

/// The time at which the `verify` target checks tokens: the seed tokens are
/// valid then.
pub const VERIFY_AT: u64 = T0 + 60;

/// How long past its deadline a revocation must be kept: the maximum leeway.
const MAX_LEEWAY_SECS: u64 = tessera::MAX_LEEWAY.as_secs();

/// Application data with most serde shapes postcard knows: sequences, maps,
/// options, enums, signed and 128-bit integers, chars, tuples.
#[derive(Arbitrary, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Payload {
    /// Strings in a sequence.
    pub roles: Vec<String>,
    /// A plain integer.
    pub tenant: u32,
    /// An option.
    pub flag: Option<bool>,
    /// A zigzag varint.
    pub signed: i64,
    /// Bytes.
    pub blob: Vec<u8>,
    /// A map.
    pub extra: BTreeMap<String, u64>,
    /// An enum with unit, struct and tuple variants.
    pub kind: Kind,
    /// A tuple with a char.
    pub pair: (u8, char),
}

/// Enum variants for [`Payload`].
#[derive(Arbitrary, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Kind {
    /// Unit variant.
    Guest,
    /// Struct variant with a 128-bit integer.
    User {
        /// The id.
        id: u128,
    },
    /// Tuple variant with a sequence.
    Admin(Vec<u16>),
}

/// The claims as docs/FORMAT.md lays them out, mirrored here to write seeds
/// for the `claims` target and to re-encode what it decodes.
#[derive(Serialize)]
struct WireClaims<'a, T> {
    session_id: [u8; 16],
    issued_at: u64,
    expires_after: u64,
    deadline_after: u64,
    subject: &'a str,
    data: &'a T,
}

/// splitmix64: a tiny deterministic generator for keys, ids and nonces.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        out
    }
}

/// `N` bytes of stream `stream` derived from [`FIXED_SEED`].
fn fixed_bytes<const N: usize>(stream: u64) -> [u8; N] {
    SplitMix(FIXED_SEED ^ stream.wrapping_mul(0xd6e8_feb8_6659_fd93)).bytes()
}

/// The fixed key pairs: ids 1 and 2.
pub fn raw_keys() -> [RawKey; 2] {
    [1u32, 2].map(|id| RawKey {
        id: KeyId(id),
        signing_seed: fixed_bytes(u64::from(id) * 2),
        encryption_key: fixed_bytes(u64::from(id) * 2 + 1),
    })
}

/// Issuers signing with key 1 and key 2 (both keys in both keysets), and a
/// verifier that accepts both, all under the default policy.
pub struct Fixture {
    /// Signs with key 1.
    pub issuer_1: Issuer,
    /// Signs with key 2.
    pub issuer_2: Issuer,
    /// Verifies keys 1 and 2.
    pub verifier: Verifier,
}

impl Fixture {
    /// The keyset of `issuer_1` (keys 1 and 2, 1 primary).
    pub fn issuer_1_keys(&self) -> Keyset {
        let [k1, k2] = raw_keys();
        testing::keyset_from_raw(&[k1, k2]).expect("fixed keys are sound")
    }
}

/// The shared [`Fixture`], built once.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let [k1, k2] = raw_keys();
        let keys_1 = testing::keyset_from_raw(&[k1, k2]).expect("fixed keys are sound");
        let keys_2 = testing::keyset_from_raw(&[k2, k1]).expect("fixed keys are sound");
        let issuer_1 = Issuer::new(keys_1, Policy::default());
        let issuer_2 = Issuer::new(keys_2, Policy::default());
        let verifier = issuer_1.verifier();
        Fixture {
            issuer_1,
            issuer_2,
            verifier,
        }
    })
}

/// The body of a `tsr1.` token, if it is one.
fn token_body(token: &str) -> Option<Vec<u8>> {
    let encoded = token.strip_prefix("tsr1.")?;
    let mut buf = vec![0u8; encoded.len()];
    let len = Base64UrlUnpadded::decode(encoded, &mut buf).ok()?.len();
    buf.truncate(len);
    Some(buf)
}

/// Panics unless `token` is exactly what the fixed issuer of `session`'s key
/// mints for these claims and this nonce: an accepted token must be one we
/// issued, byte for byte (no forgery, no malleable encoding).
fn assert_minted<T: Serialize>(token: &str, session: &Session<T>) {
    let f = fixture();
    let issuer = match session.key_id() {
        KeyId(1) => &f.issuer_1,
        KeyId(2) => &f.issuer_2,
        other => panic!("accepted a token under key {other}, which is not in the keyset"),
    };
    let body = token_body(token).expect("an accepted token has a canonical body");
    let nonce: [u8; 24] = body
        .get(5..29)
        .and_then(|n| n.try_into().ok())
        .expect("an accepted token has a nonce");
    let again = testing::issue_deterministic(
        issuer,
        session.subject(),
        session.data(),
        session.issued_at(),
        session.id().0,
        nonce,
    )
    .expect("re-issuing accepted claims succeeds");
    assert_eq!(
        again, token,
        "verify accepted a token that the fixed issuer did not mint"
    );
}

/// `verify`: any text to `Verifier::verify_at` with the fixed keys. It never
/// panics, and it accepts only tokens that the fixed issuers minted
/// byte-for-byte (the seed corpus holds a few; everything the fuzzer derives
/// from them must be rejected).
pub fn verify(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let f = fixture();
    if let Ok(session) = f.verifier.verify_at::<Payload>(&text, VERIFY_AT) {
        assert_minted(&text, &session);
    }
    if let Ok(session) = f.verifier.verify_at::<()>(&text, VERIFY_AT) {
        assert_minted(&text, &session);
    }
}

/// Whether the fixture's verifier accepts `token` with either data type.
pub fn verifier_accepts(token: &str) -> bool {
    let v = &fixture().verifier;
    v.verify_at::<Payload>(token, VERIFY_AT).is_ok() || v.verify_at::<()>(token, VERIFY_AT).is_ok()
}

/// Structured input of the `roundtrip` target.
#[derive(Arbitrary, Debug)]
struct RoundTrip {
    subject: String,
    data: Payload,
    now: u64,
    /// When to verify, relative to `now` (negative: before).
    offset: i32,
    idle: u32,
    max_lifetime: u32,
    leeway: u16,
    audience: String,
    max_len: u16,
    session_id: [u8; 16],
    nonce: [u8; 24],
    /// Signs with key 2 instead of key 1.
    second_key: bool,
}

/// What the DESIGN.md rules say verification at `at` must return for a token
/// issued at `now` under `policy`'s numbers (all saturating, like the code).
fn expected_check(now: u64, idle: u64, max_lifetime: u64, leeway: u64, at: u64) -> TimeVerdict {
    let deadline = now.saturating_add(max_lifetime);
    let expires = now.saturating_add(idle).min(deadline);
    if now > at.saturating_add(leeway) {
        TimeVerdict::NotYetValid
    } else if at >= expires.saturating_add(leeway) || at >= deadline.saturating_add(leeway) {
        TimeVerdict::Expired
    } else {
        TimeVerdict::Valid { expires, deadline }
    }
}

#[derive(Debug, PartialEq)]
enum TimeVerdict {
    NotYetValid,
    Expired,
    Valid { expires: u64, deadline: u64 },
}

/// `roundtrip`: arbitrary subject, data, times and policy; issue then verify
/// gives every claim back (or the exact time error the rules demand), another
/// audience is rejected, revocation sticks, and renewal keeps id, subject,
/// data and deadline.
pub fn roundtrip(data: &[u8]) {
    let Ok(input) = RoundTrip::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let [k1, k2] = raw_keys();
    let keys = if input.second_key { [k2, k1] } else { [k1, k2] };
    let keyset = testing::keyset_from_raw(&keys).expect("fixed keys are sound");
    let policy = Policy::default()
        .idle_timeout(Duration::from_secs(input.idle.into()))
        .max_lifetime(Duration::from_secs(input.max_lifetime.into()))
        .leeway(Duration::from_secs(input.leeway.into()))
        .audience(&input.audience)
        .max_token_length(input.max_len.into());
    // The policy's documented clamps.
    let idle = u64::from(input.idle).max(1);
    let max_lifetime = u64::from(input.max_lifetime).max(1);
    let leeway = u64::from(input.leeway).min(MAX_LEEWAY_SECS);
    let issuer = Issuer::new(keyset, policy.clone());
    let token = match testing::issue_deterministic(
        &issuer,
        &input.subject,
        &input.data,
        input.now,
        input.session_id,
        input.nonce,
    ) {
        Ok(token) => token,
        Err(Error::TooLarge) => return,
        Err(e) => panic!("issuing failed with {e:?}"),
    };
    assert!(
        token.len() <= usize::from(input.max_len),
        "token over the policy's length"
    );
    let at = if input.offset >= 0 {
        input.now.saturating_add(input.offset.unsigned_abs().into())
    } else {
        input.now.saturating_sub(input.offset.unsigned_abs().into())
    };
    let verifier = issuer.verifier();
    let result = verifier.verify_at::<Payload>(&token, at);
    let session = match (
        expected_check(input.now, idle, max_lifetime, leeway, at),
        result,
    ) {
        (TimeVerdict::NotYetValid, Err(Error::NotYetValid)) => return,
        (TimeVerdict::Expired, Err(Error::Expired)) => return,
        (TimeVerdict::Valid { expires, deadline }, Ok(s)) => {
            assert_eq!(s.id(), SessionId(input.session_id));
            assert_eq!(s.subject(), input.subject);
            assert_eq!(s.data(), &input.data);
            assert_eq!(s.issued_at(), input.now);
            assert_eq!(s.expires_at(), expires);
            assert_eq!(s.deadline(), deadline);
            assert_eq!(s.key_id(), KeyId(if input.second_key { 2 } else { 1 }));
            s
        }
        (expected, got) => panic!("expected {expected:?}, verify gave {got:?}"),
    };

    // The audience is bound: any other audience is rejected as invalid.
    let other = Verifier::new(
        issuer_keys(input.second_key).verifier_keyset(),
        policy.clone().audience(&format!("{}#", input.audience)),
    );
    assert_eq!(
        other.verify_at::<Payload>(&token, at).err(),
        Some(Error::Invalid)
    );

    // Renewal at `at`: same id, subject, data, deadline.
    match issuer.renew_at(&session, at) {
        Ok(renewed) => {
            let again = verifier
                .verify_at::<Payload>(&renewed, at)
                .expect("a renewed token verifies at its renewal time");
            assert_eq!(again.id(), session.id());
            assert_eq!(again.subject(), session.subject());
            assert_eq!(again.data(), session.data());
            assert_eq!(again.deadline(), session.deadline());
            assert_eq!(again.issued_at(), at);
            assert_eq!(
                again.expires_at(),
                at.saturating_add(idle).min(session.deadline())
            );
        }
        Err(Error::Expired) => assert!(at >= session.deadline()),
        Err(Error::TooLarge) => {}
        Err(e) => panic!("renewal failed with {e:?}"),
    }

    // Revocation sticks for this token (and would for its renewals).
    verifier.revoke(&session);
    assert_eq!(
        verifier.verify_at::<Payload>(&token, at).err(),
        Some(Error::Revoked)
    );
}

fn issuer_keys(second_key: bool) -> tessera::Keyset {
    let [k1, k2] = raw_keys();
    let keys = if second_key { [k2, k1] } else { [k1, k2] };
    testing::keyset_from_raw(&keys).expect("fixed keys are sound")
}

/// `claims`: any bytes to the claims decoder, for several data types. It never
/// panics; what decodes has ordered times, re-encodes to bytes that decode to
/// the same session, and neither a strict prefix nor an extension of the input
/// decodes (postcard is self-delimiting and trailing bytes are refused).
pub fn claims(data: &[u8]) {
    check_claims::<Payload>(data);
    check_claims::<()>(data);
    check_claims::<Vec<u8>>(data);
    check_claims::<String>(data);
    check_claims::<Option<u64>>(data);
}

fn check_claims<T: DeserializeOwned + Serialize + PartialEq + core::fmt::Debug>(bytes: &[u8]) {
    let Ok(session) = testing::decode_claims::<T>(bytes) else {
        return;
    };
    assert!(session.issued_at() <= session.expires_at());
    assert!(session.expires_at() <= session.deadline());
    for now in [
        0,
        session.issued_at(),
        session.expires_at(),
        session.deadline(),
        u64::MAX,
    ] {
        let _ = session.needs_renewal_at(now);
    }
    let again =
        testing::decode_claims::<T>(&encode_claims(&session)).expect("re-encoded claims decode");
    assert_eq!(again.id(), session.id());
    assert_eq!(again.subject(), session.subject());
    assert_eq!(again.data(), session.data());
    assert_eq!(again.issued_at(), session.issued_at());
    assert_eq!(again.expires_at(), session.expires_at());
    assert_eq!(again.deadline(), session.deadline());
    if let Some((_, prefix)) = bytes.split_last() {
        assert!(
            testing::decode_claims::<T>(prefix).is_err(),
            "a strict prefix decoded"
        );
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert!(
        testing::decode_claims::<T>(&longer).is_err(),
        "trailing byte accepted"
    );
}

fn encode_claims<T: Serialize>(s: &Session<T>) -> Vec<u8> {
    postcard::to_stdvec(&WireClaims {
        session_id: s.id().0,
        issued_at: s.issued_at(),
        expires_after: s.expires_at() - s.issued_at(),
        deadline_after: s.deadline() - s.issued_at(),
        subject: s.subject(),
        data: s.data(),
    })
    .expect("claims serialize")
}

/// Structured half of the `revocation_snapshot` target.
#[derive(Arbitrary, Debug)]
struct FilterOps {
    revoked: Vec<([u8; 16], u64)>,
    prune_at: Option<u64>,
}

/// `revocation_snapshot`: any bytes to `RevocationFilter::from_snapshot`. A
/// snapshot that loads answers lookups, prunes and re-snapshots without
/// panicking, and its snapshot loads back to a filter that answers every
/// lookup the same way and snapshots to the same bytes. The same bytes also
/// drive a filter built from revocations: none is ever forgotten by a
/// snapshot round trip, nor by a prune before its deadline plus the leeway.
pub fn revocation_snapshot(data: &[u8]) {
    if let Ok(filter) = RevocationFilter::from_snapshot(data) {
        let probes: Vec<(SessionId, u64)> = data
            .chunks(24)
            .map(|c| {
                let mut id = [0u8; 16];
                let mut deadline = [0u8; 8];
                for (i, b) in c.iter().enumerate() {
                    match i {
                        0..=15 => id[i] = *b,
                        _ => deadline[i - 16] = *b,
                    }
                }
                (SessionId(id), u64::from_le_bytes(deadline))
            })
            .collect();
        check_reloads(&filter, &probes);
        let _ = filter.memory_bytes();
        for &(_, t) in probes.iter().take(4) {
            filter.prune(t);
            check_reloads(&filter, &probes);
        }
    }

    let Ok(ops) = FilterOps::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let filter = RevocationFilter::new(1000, 0.01);
    for &(id, deadline) in &ops.revoked {
        filter.revoke(SessionId(id), deadline);
    }
    let all: Vec<(SessionId, u64)> = ops
        .revoked
        .iter()
        .map(|&(id, deadline)| (SessionId(id), deadline))
        .collect();
    for &(id, deadline) in &all {
        assert!(filter.is_revoked(id, deadline), "revocation forgotten");
    }
    let loaded = check_reloads(&filter, &all);
    for &(id, deadline) in &all {
        assert!(
            loaded.is_revoked(id, deadline),
            "revocation lost by a snapshot"
        );
    }
    if let Some(now) = ops.prune_at {
        filter.prune(now);
        let loaded = check_reloads(&filter, &all);
        for &(id, deadline) in &all {
            if must_outlive_prune(deadline, now) {
                assert!(filter.is_revoked(id, deadline), "pruned too early");
                assert!(loaded.is_revoked(id, deadline), "pruned too early");
            }
        }
    }
}

/// Whether `prune(now)` must keep a revocation with this deadline: DESIGN.md
/// forgets only deadlines more than the maximum leeway before `now`; where
/// `deadline + leeway` overflows, that is never (the filter once saturated
/// there and forgot at `now == u64::MAX`; see fuzz/regressions/revocation_snapshot/).
fn must_outlive_prune(deadline: u64, now: u64) -> bool {
    deadline
        .checked_add(MAX_LEEWAY_SECS)
        .is_none_or(|last| last >= now)
}

/// Snapshots `filter`, loads the snapshot, and checks the copy agrees with
/// `filter` on every probe and snapshots to the same bytes. Returns the copy.
fn check_reloads(filter: &RevocationFilter, probes: &[(SessionId, u64)]) -> RevocationFilter {
    let snapshot = filter.to_snapshot();
    let loaded = RevocationFilter::from_snapshot(&snapshot).expect("a filter's own snapshot loads");
    assert_eq!(loaded.to_snapshot(), snapshot, "re-snapshot differs");
    for &(id, deadline) in probes {
        assert_eq!(
            loaded.is_revoked(id, deadline),
            filter.is_revoked(id, deadline),
            "a reloaded filter answers differently"
        );
    }
    loaded
}

/// `keyset_json`: any text to both keyset parsers (`Keyset::from_json`,
/// `VerifierKeyset::from_json`). They never panic and fail only with their
/// documented errors, whose messages never quote the input (it may hold
/// keys). A keyset that parses writes a file that parses back to the same
/// keyset and the same bytes, its verifier half is a verifier file without
/// signing keys, and its keys work: a token its primary issues verifies under
/// the parsed verifier half.
pub fn keyset_json(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match Keyset::from_json(&text) {
        Ok(keys) => check_issuer_keyset(&keys),
        Err(e) => check_keyset_error(&e, &text),
    }
    match VerifierKeyset::from_json(&text) {
        Ok(keys) => check_verifier_keyset(&keys),
        Err(e) => check_keyset_error(&e, &text),
    }
}

fn check_issuer_keyset(keys: &Keyset) {
    let file = keys.to_json();
    let back = Keyset::from_json(&file).expect("a keyset's own file parses");
    assert_eq!(back.key_info(), keys.key_info());
    assert_eq!(back.primary(), keys.primary());
    assert_eq!(*back.to_json(), *file, "rendering is not canonical");
    assert_eq!(
        VerifierKeyset::from_json(&file).err(),
        Some(Error::IssuerKeyset)
    );
    let shipped = keys.verifier_keyset().to_json();
    assert!(!shipped.contains("signing_key"));
    let verifier_keys = VerifierKeyset::from_json(&shipped).expect("the verifier half parses");
    assert_eq!(verifier_keys.key_info(), keys.key_info());
    check_verifier_keyset(&verifier_keys);
    let issuer = Issuer::new(keys.clone(), Policy::default());
    let token = testing::issue_deterministic(&issuer, "k", &(), T0, [1; 16], [2; 24])
        .expect("the primary key issues");
    let verifier = Verifier::new(verifier_keys, Policy::default());
    let session = verifier
        .verify_at::<()>(&token, T0)
        .expect("the parsed verifier half verifies the parsed primary's token");
    assert_eq!(session.key_id(), keys.primary());
}

fn check_verifier_keyset(keys: &VerifierKeyset) {
    let file = keys.to_json();
    let back = VerifierKeyset::from_json(&file).expect("a verifier keyset's own file parses");
    assert_eq!(back.key_info(), keys.key_info());
    assert_eq!(*back.to_json(), *file, "rendering is not canonical");
    assert!(Keyset::from_json(&file).is_err(), "a verifier file issued");
}

/// The parsers' documented errors, and messages that never quote the input:
/// no 24-character run of base64url text from the input (a key is 43) may
/// appear in the message. The longest such run in tessera's own wording is
/// `tessera-verifier-keyset`, 23 characters.
fn check_keyset_error(e: &Error, input: &str) {
    assert!(
        matches!(
            e,
            Error::KeysetFormat(_) | Error::WeakKey | Error::IssuerKeyset
        ),
        "undocumented keyset error {e:?}"
    );
    let message = e.to_string();
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    for run in input.split(|c: char| !is_b64(c)).filter(|r| r.len() >= 24) {
        for window in run.as_bytes().windows(24) {
            let window = std::str::from_utf8(window).expect("ASCII");
            assert!(
                !message.contains(window),
                "error message quotes the input: {message}"
            );
        }
    }
}

/// The seed corpus: `(target, file name, bytes)`, all derived from
/// [`FIXED_SEED`]. `examples/fuzz_seeds.rs` writes them to `fuzz/corpus/`.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let f = fixture();
    let mut out = Vec::new();
    let payload = Payload {
        roles: vec!["admin".into(), "billing".into()],
        tenant: 42,
        flag: Some(true),
        signed: -7,
        blob: vec![0, 1, 2, 255],
        extra: BTreeMap::from([("quota".to_string(), 1 << 40)]),
        kind: Kind::User { id: u128::MAX },
        pair: (9, 'é'),
    };
    let minimal = Payload {
        roles: vec![],
        tenant: 0,
        flag: None,
        signed: 0,
        blob: vec![],
        extra: BTreeMap::new(),
        kind: Kind::Admin(vec![1, 2]),
        pair: (0, 'a'),
    };

    // verify: valid tokens under both keys, with both data types.
    let tokens = [
        testing::issue_deterministic(
            &f.issuer_1,
            "alice@example.com",
            &payload,
            T0,
            fixed_bytes(101),
            fixed_bytes(102),
        ),
        testing::issue_deterministic(
            &f.issuer_2,
            "bob",
            &minimal,
            T0,
            fixed_bytes(103),
            fixed_bytes(104),
        ),
        testing::issue_deterministic(
            &f.issuer_1,
            "user-000000000017",
            &(),
            T0,
            fixed_bytes(105),
            fixed_bytes(106),
        ),
        testing::issue_deterministic(&f.issuer_2, "", &(), T0, fixed_bytes(107), fixed_bytes(108)),
    ];
    for (i, t) in tokens.into_iter().enumerate() {
        let t = t.expect("seed tokens issue");
        out.push(("verify", format!("token-{i}"), t.into_bytes()));
    }

    // claims: the plaintext of such tokens, per docs/FORMAT.md.
    let claims_seed =
        |subject: &str, data: &dyn erased::Encode, issued_at, offsets: (u64, u64), stream| {
            data.encode(subject, fixed_bytes(stream), issued_at, offsets)
        };
    out.push((
        "claims",
        "unit".into(),
        claims_seed("alice", &(), T0, (1800, 43_200), 200),
    ));
    out.push((
        "claims",
        "payload".into(),
        claims_seed("bob", &payload, T0, (1800, 43_200), 201),
    ));
    out.push((
        "claims",
        "bytes".into(),
        claims_seed("", &vec![7u8; 40], u64::MAX - 10, (5, 10), 202),
    ));

    // revocation_snapshot: an empty filter and a few revocations.
    let empty = RevocationFilter::new(1000, 0.01);
    out.push(("revocation_snapshot", "empty".into(), empty.to_snapshot()));
    let some = RevocationFilter::new(1000, 0.01);
    for i in 0..5u64 {
        some.revoke(SessionId(fixed_bytes(300 + i)), T0 + i * 3600);
    }
    some.revoke(SessionId(fixed_bytes(310)), u64::MAX);
    out.push(("revocation_snapshot", "six".into(), some.to_snapshot()));

    // keyset_json: issuer and verifier files, one with a disabled key and a
    // demotion time.
    let [k1, k2] = raw_keys();
    let k3 = RawKey {
        id: KeyId(0xfeed_f00d),
        signing_seed: fixed_bytes(500),
        encryption_key: fixed_bytes(501),
    };
    let mut three = testing::keyset_from_raw(&[k2, k1, k3]).expect("fixed keys are sound");
    three.disable(k3.id).expect("k3 is not the primary");
    let demoted = three
        .to_json()
        .replacen("\"demoted_at\": null", "\"demoted_at\": 1749999000", 1);
    for (name, file) in [
        ("issuer", f.issuer_1_keys().to_json().to_string()),
        (
            "verifier",
            f.issuer_1_keys().verifier_keyset().to_json().to_string(),
        ),
        ("issuer-three", demoted),
        (
            "verifier-three",
            three.verifier_keyset().to_json().to_string(),
        ),
    ] {
        out.push(("keyset_json", name.into(), file.into_bytes()));
    }

    // roundtrip: unstructured bytes of a few sizes.
    for (i, len) in [16usize, 128, 512].into_iter().enumerate() {
        let mut rng = SplitMix(FIXED_SEED ^ (400 + i as u64));
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        out.push(("roundtrip", format!("random-{len}"), bytes));
    }
    out
}

/// Encoding claims seeds of different data types through one closure.
mod erased {
    use serde::Serialize;

    use super::WireClaims;

    pub trait Encode {
        fn encode(
            &self,
            subject: &str,
            id: [u8; 16],
            issued_at: u64,
            offsets: (u64, u64),
        ) -> Vec<u8>;
    }

    impl<T: Serialize> Encode for T {
        fn encode(
            &self,
            subject: &str,
            id: [u8; 16],
            issued_at: u64,
            offsets: (u64, u64),
        ) -> Vec<u8> {
            postcard::to_stdvec(&WireClaims {
                session_id: id,
                issued_at,
                expires_after: offsets.0,
                deadline_after: offsets.1,
                subject,
                data: self,
            })
            .expect("seed claims serialize")
        }
    }
}
