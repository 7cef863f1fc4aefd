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
use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::Scalar;
use ed25519_dalek::hazmat::ExpandedSecretKey;
use ed25519_dalek::{Digest, Sha512, Signature, Signer, SigningKey, Verifier as _, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tessera::testing::{self, RawKey};
use tessera::{
    Error, Issuer, KeyId, Keyset, Policy, RevocationFilter, Session, SessionId, SubjectRevocations,
    Verifier, VerifierKeyset,
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

/// What the documented rules (docs/FORMAT.md) say verification at `at` must return for a token
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
    check_merge(data);

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
    // Merged into a filter of another size with revocations of its own,
    // every revocation of both is kept.
    let other = RevocationFilter::new(50, 0.001);
    other.revoke(SessionId([0xA5; 16]), 1_750_000_000);
    other
        .merge_snapshot(&filter.to_snapshot())
        .expect("a filter's own snapshot merges");
    assert!(other.is_revoked(SessionId([0xA5; 16]), 1_750_000_000));
    for &(id, deadline) in &all {
        assert!(other.is_revoked(id, deadline), "revocation lost by a merge");
    }
    check_reloads(&other, &all);
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

/// Merges any bytes into a filter with a revocation of its own: refused,
/// the filter is unchanged; merged, it holds its own revocation and reports
/// revoked every probe the snapshot itself does.
fn check_merge(data: &[u8]) {
    let live = RevocationFilter::new(100, 0.01);
    let own = (SessionId([0x5A; 16]), 1_750_000_000);
    live.revoke(own.0, own.1);
    let before = live.to_snapshot();
    match live.merge_snapshot(data) {
        Err(_) => assert_eq!(
            live.to_snapshot(),
            before,
            "a refused merge changed the filter"
        ),
        Ok(()) => {
            let merged = RevocationFilter::from_snapshot(data).expect("a merged snapshot loads");
            let mut probes: Vec<(SessionId, u64)> = data
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
            probes.push(own);
            assert!(live.is_revoked(own.0, own.1), "a merge lost a revocation");
            for &(id, deadline) in &probes {
                if merged.is_revoked(id, deadline) {
                    assert!(live.is_revoked(id, deadline), "a merge missed a revocation");
                }
            }
            check_reloads(&live, &probes);
        }
    }
}

/// Whether `prune(now)` must keep a revocation with this deadline: the filter
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

/// Structured half of the `subject_snapshot` target.
#[derive(Arbitrary, Debug)]
struct SubjectOps {
    revoked: Vec<(String, u64, u64)>,
    prune_at: Option<u64>,
}

/// Subjects a `subject_snapshot` table holds.
const SUBJECT_CAPACITY: usize = 64;

/// `subject_snapshot`: any bytes to `SubjectRevocations::from_snapshot` and
/// `merge_snapshot`. A snapshot that loads re-snapshots to the same bytes;
/// merging any bytes into a table either fails and changes nothing, or keeps
/// every revocation it held (cutoffs never move earlier). The same bytes also
/// drive a table built from revocations: a snapshot round trip keeps every
/// one, and a prune forgets exactly those whose `forget_after` has passed.
pub fn subject_snapshot(data: &[u8]) {
    let base = SubjectRevocations::new(SUBJECT_CAPACITY);
    base.revoke("alice", 100, 200).expect("room for one");
    let before = base.to_snapshot();
    let loaded = SubjectRevocations::from_snapshot(data, SUBJECT_CAPACITY);
    if let Ok(table) = &loaded {
        let snapshot = table.to_snapshot();
        let again = SubjectRevocations::from_snapshot(&snapshot, SUBJECT_CAPACITY)
            .expect("a table's own snapshot loads");
        assert_eq!(again.to_snapshot(), snapshot, "re-snapshot differs");
        assert!(table.len() <= SUBJECT_CAPACITY);
    }
    match base.merge_snapshot(data) {
        Ok(()) => {
            assert!(loaded.is_ok(), "merged bytes that do not load");
            assert!(
                base.cutoff("alice").is_some_and(|c| c >= 100),
                "merge lost a revocation"
            );
        }
        Err(_) => assert_eq!(
            base.to_snapshot(),
            before,
            "a failed merge changed the table"
        ),
    }

    let Ok(ops) = SubjectOps::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let table = SubjectRevocations::new(SUBJECT_CAPACITY);
    let mut model: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (subject, cutoff, forget_after) in ops.revoked {
        if table.revoke(&subject, cutoff, forget_after).is_ok() {
            let entry = model.entry(subject).or_insert((cutoff, forget_after));
            *entry = (entry.0.max(cutoff), entry.1.max(forget_after));
        }
    }
    assert_eq!(table.len(), model.len());
    let copy = SubjectRevocations::from_snapshot(&table.to_snapshot(), SUBJECT_CAPACITY)
        .expect("a table's own snapshot loads");
    for (subject, (cutoff, _)) in &model {
        assert_eq!(
            copy.cutoff(subject),
            Some(*cutoff),
            "a snapshot lost a revocation"
        );
        assert!(copy.is_revoked(subject, cutoff.wrapping_sub(1)) || *cutoff == 0);
    }
    if let Some(now) = ops.prune_at {
        table.prune(now);
        for (subject, (cutoff, forget_after)) in &model {
            let kept = table.cutoff(subject);
            if *forget_after >= now {
                assert_eq!(kept, Some(*cutoff), "pruned before forget_after");
            } else {
                assert_eq!(kept, None, "kept past forget_after");
            }
        }
    }
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

/// Structured input of the `ed25519_strict` target: `base` builds an Ed25519
/// (public key, message, signature) triple from `seed` and `message`, then up
/// to four `edits` change it. The layout is arbitrary 1.x's, which
/// [`Ed25519Input::to_fuzz_bytes`] writes back for the seeds.
#[derive(Arbitrary, Debug, Clone, PartialEq)]
pub struct Ed25519Input<'a> {
    /// The RFC 8032 secret seed behind the constructed keys: secret scalar
    /// `a = ExpandedSecretKey::from(&seed).scalar`, public key `[a]B`.
    pub seed: [u8; 32],
    /// How the triple is built.
    pub base: Ed25519Base,
    /// Applied in order after building.
    pub edits: [Option<Ed25519Edit>; 4],
    /// The message (the rest of the input).
    pub message: &'a [u8],
}

/// How the `ed25519_strict` target builds its triple. `T[i]` is
/// `EIGHT_TORSION[i % 8]` (`T[0]` the identity, `T[4]` of order 2, `T[2]`
/// and `T[6]` of order 4, the odd ones of order 8), and
/// `k = SHA-512(R || A || M) mod L`, the challenge plain `verify` uses.
#[derive(Arbitrary, Debug, Clone, PartialEq)]
pub enum Ed25519Base {
    /// `A = [a]B` and its honest signature (`SigningKey::sign`), which
    /// `verify_strict` accepts.
    Honest,
    /// `A = [a]B`, `R = T[r]`, `S = k·a`. Plain `verify` computes
    /// `[S]B - [k]A = identity`, so it accepts this second signature of any
    /// message when `R` is the identity; `verify_strict` never does.
    SmallOrderR {
        /// Which torsion point `R` is.
        r: u8,
    },
    /// The mixed-order key `A = [a]B + T[t]` (it loads: not of small order),
    /// `R = T[r]`, `S = k·a`. Plain `verify` computes `-[k]T[t]` and accepts
    /// when that is `R`: about one message in `ord(T[t])`.
    MixedOrderKey {
        /// Which torsion point is added to the key.
        t: u8,
        /// Which torsion point `R` is.
        r: u8,
        /// Try `R = T[r], T[r+1], ...` and keep the first that plain
        /// `verify` accepts (if any), instead of `T[r]` alone.
        search: bool,
    },
    /// The small-order key `A = T[t]` (refused at load), `R = T[r]`,
    /// `S = 0`: plain `verify` accepts when `R = -[k]T[t]` (for the identity
    /// key, `R` = identity, every message).
    SmallOrderKey {
        /// Which torsion point the key is.
        t: u8,
        /// Which torsion point `R` is.
        r: u8,
        /// As for [`Ed25519Base::MixedOrderKey`].
        search: bool,
    },
    /// Any key and signature bytes.
    Raw {
        /// The public key bytes.
        public_key: [u8; 32],
        /// The signature bytes, `R || S`.
        signature: [u8; 64],
    },
}

/// A change to a built (public key, message, signature) triple.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
pub enum Ed25519Edit {
    /// Flips bit `n % 512` of the signature (`R` is bits 0 to 255).
    FlipSignatureBit(u16),
    /// Sets byte `index % 64` of the signature.
    SetSignatureByte {
        /// Which byte.
        index: u8,
        /// Its new value.
        value: u8,
    },
    /// Flips bit `n % (8 · len)` of the message, if it is not empty.
    FlipMessageBit(u16),
    /// Appends a byte to the message.
    AppendToMessage(u8),
    /// Drops the last `n` bytes of the message (all, if fewer).
    TruncateMessage(u8),
    /// Flips bit `n` of the public key.
    FlipKeyBit(u8),
    /// Replaces `R` with the canonical encoding of `T[i]`.
    SetRToTorsion(u8),
    /// Replaces `R` with another encoding ([`other_encoding`]): `y + p` when
    /// `y < 19` (the same point, non-canonical: the identity as `p + 1`),
    /// otherwise the sign bit flipped (the same point, non-canonical, when
    /// `x = 0`; the negated point otherwise).
    OtherEncodingOfR,
    /// The same for the public key.
    OtherEncodingOfKey,
    /// Adds `(n % 15 + 1) · L` to `S` when the sum fits in 32 bytes: the
    /// same scalar mod `L`, so only the canonical-`S` check refuses it.
    AddMultipleOfL(u8),
}

/// Number of variants of [`Ed25519Base`] and [`Ed25519Edit`], for
/// [`Ed25519Input::to_fuzz_bytes`] (the seeds' round trip checks them).
const ED25519_BASES: u64 = 5;
const ED25519_EDITS: u64 = 10;

/// The group order `L`, little-endian.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// A built triple, and whether plain `verify` must accept it when the
/// construction's algebra says so (unedited constructed bases only).
#[derive(Debug)]
pub struct Ed25519Case {
    /// The public key bytes.
    pub public_key: [u8; 32],
    /// The message.
    pub message: Vec<u8>,
    /// The signature bytes.
    pub signature: [u8; 64],
    /// What plain `verify` must say, where the construction knows.
    pub plain_expected: Option<bool>,
}

/// The verdicts of the `ed25519_strict` oracle (after its assertions hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ed25519Outcome {
    /// The key fails the load check: tessera says `WeakKey`. `plain`: plain
    /// `verify` would have accepted the signature.
    KeyRefused {
        /// Whether plain `verify` accepts under the decoded key.
        plain: bool,
    },
    /// tessera and `verify_strict` accept.
    Accepted,
    /// Plain `verify` accepts, `verify_strict` and tessera refuse (`Invalid`):
    /// the cases the small-order-`R` check exists for.
    PlainOnly,
    /// Plain `verify`, `verify_strict` and tessera all refuse.
    Rejected,
}

impl Ed25519Outcome {
    /// Whether plain `verify` accepted.
    pub fn plain_accepts(self) -> bool {
        match self {
            Ed25519Outcome::KeyRefused { plain } => plain,
            Ed25519Outcome::Accepted | Ed25519Outcome::PlainOnly => true,
            Ed25519Outcome::Rejected => false,
        }
    }
}

/// `T[i]`: the torsion point `EIGHT_TORSION[i % 8]`.
fn torsion(i: u8) -> EdwardsPoint {
    EIGHT_TORSION[usize::from(i % 8)]
}

/// `k = SHA-512(R || A || M) mod L`, as plain `verify` computes it.
fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(message);
    Scalar::from_hash(h)
}

/// `R || S`.
fn signature_bytes(r: &[u8; 32], s: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(r);
    out[32..].copy_from_slice(s);
    out
}

/// Key `A = [a]B + T[t]`, `R = T[r]` (with `search`, the first of
/// `T[r], T[r+1], ...` for which the plain equation holds), `S = k·a`.
/// Returns the key, the signature and whether the plain equation
/// `R = [S]B - [k]A = -[k]T[t]` holds.
fn torsion_forgery(
    a: Scalar,
    t: u8,
    r: u8,
    search: bool,
    message: &[u8],
) -> ([u8; 32], [u8; 64], bool) {
    let key_torsion = torsion(t);
    let public_key = (EdwardsPoint::mul_base(&a) + key_torsion)
        .compress()
        .to_bytes();
    let tries = if search { 8 } else { 1 };
    let mut first = None;
    for i in 0..tries {
        let r_point = torsion(r.wrapping_add(i));
        let r_bytes = r_point.compress().to_bytes();
        let k = challenge(&r_bytes, &public_key, message);
        let signature = signature_bytes(&r_bytes, &(k * a).to_bytes());
        if r_point == -(k * key_torsion) {
            return (public_key, signature, true);
        }
        first.get_or_insert(signature);
    }
    let signature = first.expect("at least one try");
    (public_key, signature, false)
}

/// Another encoding of a point's bytes: `y + p` when the 255-bit `y` is
/// below 19 (the only `y` with a second encoding), keeping the sign bit;
/// otherwise the sign bit flipped.
pub fn other_encoding(bytes: [u8; 32]) -> [u8; 32] {
    let (low, rest) = bytes.split_at(1);
    let y_small = rest.iter().enumerate().all(|(i, &b)| {
        let b = if i == 30 { b & 0x7f } else { b };
        b == 0
    }) && low.first().is_some_and(|&b| b < 19);
    let mut out = bytes;
    if y_small {
        // p = 2^255 - 19 = ed ff .. ff 7f; y + p < 2^255 since y < 19.
        out = [0xff; 32];
        out[0] = 0xed + bytes[0];
        out[31] = 0x7f | (bytes[31] & 0x80);
    } else {
        out[31] ^= 0x80;
    }
    out
}

/// `S + n·L` if it fits in 32 bytes.
fn add_multiple_of_l(s: &[u8], n: u8) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for ((o, &s), &l) in out.iter_mut().zip(s).zip(&GROUP_ORDER) {
        let sum = u16::from(s) + u16::from(n) * u16::from(l) + carry;
        *o = sum as u8;
        carry = sum >> 8;
    }
    (carry == 0).then_some(out)
}

impl Ed25519Input<'_> {
    /// Builds the triple: the base, then the edits.
    pub fn build(&self) -> Ed25519Case {
        let mut message = self.message.to_vec();
        let a = ExpandedSecretKey::from(&self.seed).scalar;
        let (mut public_key, mut signature, plain) = match self.base {
            Ed25519Base::Honest => {
                let key = SigningKey::from_bytes(&self.seed);
                (
                    key.verifying_key().to_bytes(),
                    key.sign(&message).to_bytes(),
                    Some(true),
                )
            }
            Ed25519Base::SmallOrderR { r } => {
                let (pk, sig, holds) = torsion_forgery(a, 0, r, false, &message);
                (pk, sig, Some(holds))
            }
            Ed25519Base::MixedOrderKey { t, r, search } => {
                let (pk, sig, holds) = torsion_forgery(a, t, r, search, &message);
                (pk, sig, Some(holds))
            }
            Ed25519Base::SmallOrderKey { t, r, search } => {
                let (pk, sig, holds) = torsion_forgery(Scalar::ZERO, t, r, search, &message);
                (pk, sig, Some(holds))
            }
            Ed25519Base::Raw {
                public_key,
                signature,
            } => (public_key, signature, None),
        };
        let edited = self.edits.iter().any(Option::is_some);
        for edit in self.edits.iter().flatten() {
            match *edit {
                Ed25519Edit::FlipSignatureBit(n) => {
                    let bit = usize::from(n % 512);
                    signature[bit / 8] ^= 1 << (bit % 8);
                }
                Ed25519Edit::SetSignatureByte { index, value } => {
                    signature[usize::from(index % 64)] = value;
                }
                Ed25519Edit::FlipMessageBit(n) => {
                    if !message.is_empty() {
                        let bit = usize::from(n) % (message.len() * 8);
                        message[bit / 8] ^= 1 << (bit % 8);
                    }
                }
                Ed25519Edit::AppendToMessage(byte) => message.push(byte),
                Ed25519Edit::TruncateMessage(n) => {
                    message.truncate(message.len().saturating_sub(usize::from(n)));
                }
                Ed25519Edit::FlipKeyBit(n) => public_key[usize::from(n / 8)] ^= 1 << (n % 8),
                Ed25519Edit::SetRToTorsion(i) => {
                    signature[..32].copy_from_slice(torsion(i).compress().as_bytes());
                }
                Ed25519Edit::OtherEncodingOfR => {
                    let mut r = [0u8; 32];
                    r.copy_from_slice(&signature[..32]);
                    signature[..32].copy_from_slice(&other_encoding(r));
                }
                Ed25519Edit::OtherEncodingOfKey => public_key = other_encoding(public_key),
                Ed25519Edit::AddMultipleOfL(n) => {
                    if let Some(s) = add_multiple_of_l(&signature[32..], n % 15 + 1) {
                        signature[32..].copy_from_slice(&s);
                    }
                }
            }
        }
        Ed25519Case {
            public_key,
            message,
            signature,
            plain_expected: if edited { None } else { plain },
        }
    }

    /// The fuzz input that decodes to `self`, in arbitrary 1.x's layout:
    /// integers little-endian, `bool` and `Option` tags as one byte (`& 1`),
    /// enum variant `i` of `n` as a `u32` `d` with `(d · n) >> 32 == i`,
    /// arrays element by element, and the message as the raw rest.
    pub fn to_fuzz_bytes(&self) -> Vec<u8> {
        fn variant(out: &mut Vec<u8>, index: u64, count: u64) {
            let d = (index << 32).div_ceil(count);
            out.extend_from_slice(&u32::try_from(d).expect("index < count").to_le_bytes());
        }
        let mut out = self.seed.to_vec();
        match &self.base {
            Ed25519Base::Honest => variant(&mut out, 0, ED25519_BASES),
            Ed25519Base::SmallOrderR { r } => {
                variant(&mut out, 1, ED25519_BASES);
                out.push(*r);
            }
            Ed25519Base::MixedOrderKey { t, r, search } => {
                variant(&mut out, 2, ED25519_BASES);
                out.extend([*t, *r, u8::from(*search)]);
            }
            Ed25519Base::SmallOrderKey { t, r, search } => {
                variant(&mut out, 3, ED25519_BASES);
                out.extend([*t, *r, u8::from(*search)]);
            }
            Ed25519Base::Raw {
                public_key,
                signature,
            } => {
                variant(&mut out, 4, ED25519_BASES);
                out.extend_from_slice(public_key);
                out.extend_from_slice(signature);
            }
        }
        for edit in &self.edits {
            let Some(edit) = edit else {
                out.push(0);
                continue;
            };
            out.push(1);
            let (index, fields): (u64, Vec<u8>) = match *edit {
                Ed25519Edit::FlipSignatureBit(n) => (0, n.to_le_bytes().to_vec()),
                Ed25519Edit::SetSignatureByte { index, value } => (1, vec![index, value]),
                Ed25519Edit::FlipMessageBit(n) => (2, n.to_le_bytes().to_vec()),
                Ed25519Edit::AppendToMessage(b) => (3, vec![b]),
                Ed25519Edit::TruncateMessage(n) => (4, vec![n]),
                Ed25519Edit::FlipKeyBit(n) => (5, vec![n]),
                Ed25519Edit::SetRToTorsion(i) => (6, vec![i]),
                Ed25519Edit::OtherEncodingOfR => (7, vec![]),
                Ed25519Edit::OtherEncodingOfKey => (8, vec![]),
                Ed25519Edit::AddMultipleOfL(n) => (9, vec![n]),
            };
            variant(&mut out, index, ED25519_EDITS);
            out.extend(fields);
        }
        out.extend_from_slice(self.message);
        out
    }
}

/// Whether key bytes pass the load check by its definition: they decode to
/// a point, are that point's canonical encoding, and it is not of small
/// order. Computed with curve25519-dalek, independently of tessera.
fn loads_by_definition(public_key: &[u8; 32]) -> bool {
    CompressedEdwardsY(*public_key)
        .decompress()
        .is_some_and(|p| p.compress().to_bytes() == *public_key && !p.is_small_order())
}

/// The oracle: tessera's verification (`testing::verify_ed25519`: load
/// check, then small-order-`R` check and plain `verify`) accepts exactly when
/// the key loads and ed25519-dalek's `verify_strict` accepts; it fails with
/// `WeakKey` exactly when the key is refused and `Invalid` otherwise; and the
/// load check is its definition.
fn check_ed25519(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> Ed25519Outcome {
    let ours = testing::verify_ed25519(public_key, message, signature);
    let loads = testing::check_verifying_key(public_key);
    assert_eq!(
        loads.is_ok(),
        loads_by_definition(public_key),
        "load check of {public_key:02x?} is not: decodes, canonical, not of small order"
    );
    let sig = Signature::from_bytes(signature);
    let dalek = VerifyingKey::from_bytes(public_key).ok();
    let plain = dalek
        .as_ref()
        .is_some_and(|k| k.verify(message, &sig).is_ok());
    let strict = dalek
        .as_ref()
        .is_some_and(|k| k.verify_strict(message, &sig).is_ok());
    assert!(
        plain || !strict,
        "verify_strict accepted, plain verify refused"
    );
    match loads {
        Err(e) => {
            assert_eq!(e, Error::WeakKey, "the load check failed otherwise");
            assert_eq!(
                ours,
                Err(Error::WeakKey),
                "a key refused at load gave another verdict"
            );
            Ed25519Outcome::KeyRefused { plain }
        }
        Ok(()) => {
            assert_eq!(
                ours.is_ok(),
                strict,
                "tessera says {ours:?}, verify_strict {strict}, plain verify {plain}"
            );
            match ours {
                Ok(()) => Ed25519Outcome::Accepted,
                Err(e) => {
                    assert_eq!(e, Error::Invalid, "a rejected signature is not Invalid");
                    if plain {
                        Ed25519Outcome::PlainOnly
                    } else {
                        Ed25519Outcome::Rejected
                    }
                }
            }
        }
    }
}

/// `ed25519_strict`: a differential test of tessera's Ed25519 verification
/// against ed25519-dalek's `verify_strict`, on triples built to reach the
/// cases where plain `verify` and `verify_strict` differ (see
/// [`Ed25519Base`] and [`Ed25519Edit`]).
pub fn ed25519_strict(data: &[u8]) {
    let _ = ed25519_strict_outcome(data);
}

/// The body of `ed25519_strict`, returning the verdict (for the seeds' test).
pub fn ed25519_strict_outcome(data: &[u8]) -> Option<Ed25519Outcome> {
    let input = Ed25519Input::arbitrary_take_rest(Unstructured::new(data)).ok()?;
    let case = input.build();
    let outcome = check_ed25519(&case.public_key, &case.message, &case.signature);
    if let Some(plain) = case.plain_expected {
        // The constructions' algebra agrees with ed25519-dalek, so the
        // interesting cases are really reached.
        assert_eq!(
            outcome.plain_accepts(),
            plain,
            "plain verify disagrees with the construction: {input:?}"
        );
        if input.base == Ed25519Base::Honest {
            assert_eq!(
                outcome,
                Ed25519Outcome::Accepted,
                "honest signature refused"
            );
        }
    }
    Some(outcome)
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

    // subject_snapshot: an empty table and three subjects.
    let subjects = SubjectRevocations::new(SUBJECT_CAPACITY);
    out.push(("subject_snapshot", "empty".into(), subjects.to_snapshot()));
    for (i, name) in ["alice@example.com", "bob", "é"].into_iter().enumerate() {
        let i = i as u64;
        subjects
            .revoke(name, T0 + i, T0 + i + 13 * 3600)
            .expect("seed subjects fit");
    }
    out.push(("subject_snapshot", "three".into(), subjects.to_snapshot()));

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

    // ed25519_strict: a few inputs per base, each reaching a known verdict
    // (tests/fuzz_replay.rs checks that together they reach all of them).
    let seed = fixed_bytes::<32>(600);
    for (name, base, list, message) in ed25519_seed_cases(seed) {
        let input = Ed25519Input {
            seed,
            base,
            edits: edit_slots(&list),
            message: &message,
        };
        let bytes = input.to_fuzz_bytes();
        assert_eq!(
            Ed25519Input::arbitrary_take_rest(Unstructured::new(&bytes)).ok(),
            Some(input),
            "ed25519_strict seed {name} does not decode to itself"
        );
        out.push(("ed25519_strict", name.to_string(), bytes));
    }
    out
}

/// Up to four edits in the input's slots.
fn edit_slots(list: &[Ed25519Edit]) -> [Option<Ed25519Edit>; 4] {
    let mut out = [None; 4];
    for (slot, edit) in out.iter_mut().zip(list) {
        *slot = Some(*edit);
    }
    out
}

/// An `ed25519_strict` seed: name, base, edits, message.
type Ed25519SeedCase = (&'static str, Ed25519Base, Vec<Ed25519Edit>, Vec<u8>);

/// The `ed25519_strict` seeds, under the secret seed `seed`. Forgeries that
/// plain `verify` accepts only for some messages get the first message
/// `forged-<n>` for which it does.
fn ed25519_seed_cases(seed: [u8; 32]) -> Vec<Ed25519SeedCase> {
    use Ed25519Base::*;
    use Ed25519Edit::*;
    let plain_accepting = |base: Ed25519Base| {
        (0..64)
            .map(|n| format!("forged-{n}").into_bytes())
            .find(|message| {
                let input = Ed25519Input {
                    seed,
                    base: base.clone(),
                    edits: [None; 4],
                    message,
                };
                input.build().plain_expected == Some(true)
            })
            .expect("one message in 64 passes plain verify")
    };
    let body = b"tsr1 header, nonce and sealed claims".to_vec();
    let mixed_8 = MixedOrderKey {
        t: 1,
        r: 0,
        search: true,
    };
    let mixed_2 = MixedOrderKey {
        t: 4,
        r: 0,
        search: true,
    };
    let small_key_identity = SmallOrderKey {
        t: 0,
        r: 0,
        search: false,
    };
    let small_key_4 = SmallOrderKey {
        t: 2,
        r: 0,
        search: true,
    };
    let raw_zero = Raw {
        public_key: [0; 32],
        signature: [0; 64],
    };
    let raw_random = Raw {
        public_key: fixed_bytes(601),
        signature: signature_bytes(&fixed_bytes(602), &fixed_bytes(603)),
    };
    // A key with a second encoding (`y + p`, y < 19) that is not of small
    // order: the only non-canonical keys the small-order check lets through.
    let low_y = (2u8..19)
        .map(|y| {
            let mut bytes = [0u8; 32];
            bytes[0] = y;
            bytes
        })
        .find(|bytes| {
            CompressedEdwardsY(*bytes)
                .decompress()
                .is_some_and(|p| !p.is_small_order())
        })
        .expect("some y < 19 is on the curve");
    let raw_low_y = Raw {
        public_key: low_y,
        signature: [0; 64],
    };
    vec![
        ("honest", Honest, vec![], body.clone()),
        ("honest-empty-message", Honest, vec![], vec![]),
        (
            "honest-flipped-s",
            Honest,
            vec![FlipSignatureBit(300)],
            body.clone(),
        ),
        (
            "honest-s-plus-l",
            Honest,
            vec![AddMultipleOfL(0)],
            body.clone(),
        ),
        (
            "honest-s-plus-15l",
            Honest,
            vec![AddMultipleOfL(14)],
            body.clone(),
        ),
        (
            "honest-other-r",
            Honest,
            vec![OtherEncodingOfR],
            body.clone(),
        ),
        (
            "honest-changed-message",
            Honest,
            vec![AppendToMessage(0)],
            body.clone(),
        ),
        (
            "honest-negated-key",
            Honest,
            vec![OtherEncodingOfKey],
            body.clone(),
        ),
        (
            "honest-r-replaced-by-identity",
            Honest,
            vec![SetRToTorsion(0)],
            body.clone(),
        ),
        (
            "small-order-r-identity",
            SmallOrderR { r: 0 },
            vec![],
            body.clone(),
        ),
        (
            "small-order-r-identity-as-p-plus-1",
            SmallOrderR { r: 0 },
            vec![OtherEncodingOfR],
            body.clone(),
        ),
        (
            "small-order-r-order-8",
            SmallOrderR { r: 1 },
            vec![],
            body.clone(),
        ),
        (
            "mixed-order-key-order-8",
            mixed_8.clone(),
            vec![],
            plain_accepting(mixed_8),
        ),
        (
            "mixed-order-key-order-2",
            mixed_2.clone(),
            vec![],
            plain_accepting(mixed_2),
        ),
        (
            "small-order-key-identity",
            small_key_identity.clone(),
            vec![],
            body.clone(),
        ),
        (
            "small-order-key-identity-as-p-plus-1",
            small_key_identity,
            vec![OtherEncodingOfKey],
            body.clone(),
        ),
        (
            "small-order-key-order-4",
            small_key_4.clone(),
            vec![],
            plain_accepting(small_key_4),
        ),
        ("raw-zero", raw_zero, vec![], body.clone()),
        ("raw-low-y-key", raw_low_y.clone(), vec![], body.clone()),
        (
            "raw-low-y-key-as-y-plus-p",
            raw_low_y,
            vec![OtherEncodingOfKey],
            body.clone(),
        ),
        ("raw-random", raw_random, vec![], body),
    ]
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
