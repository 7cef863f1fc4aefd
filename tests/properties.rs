//! Property tests: round trips for arbitrary claims, and rejection of any
//! single bit flip, truncation or splice of genuine tokens.

use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use tessera::{Error, Issuer, Keyset, Policy, Session, Verifier};

const T0: u64 = 1_767_225_600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Data {
    bytes: Vec<u8>,
    note: Option<String>,
    n: u64,
    flags: (bool, i32),
}

fn data() -> impl Strategy<Value = Data> {
    (
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::option::of(".{0,24}"),
        any::<u64>(),
        any::<(bool, i32)>(),
    )
        .prop_map(|(bytes, note, n, flags)| Data {
            bytes,
            note,
            n,
            flags,
        })
}

fn pair() -> &'static (Issuer, Verifier) {
    static PAIR: OnceLock<(Issuer, Verifier)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let issuer = Issuer::new(Keyset::generate(), Policy::default().audience("props"));
        let verifier = issuer.verifier();
        (issuer, verifier)
    })
}

fn decode(token: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(&token[5..]).unwrap()
}

fn encode(body: &[u8]) -> String {
    format!("tsr1.{}", Base64UrlUnpadded::encode_string(body))
}

proptest! {

    #[test]
    fn round_trip(subject in ".{0,64}", d in data(), now in T0..T0 + 1_000_000) {
        let (issuer, verifier) = pair();
        let token = issuer.issue_at(&subject, &d, now).unwrap();
        let s: Session<Data> = verifier.verify_at(&token, now).unwrap();
        prop_assert_eq!(s.subject(), subject.as_str());
        prop_assert_eq!(s.data(), &d);
        prop_assert_eq!(s.issued_at(), now);
        prop_assert_eq!(s.expires_at(), now + 1800);
        prop_assert_eq!(s.deadline(), now + 12 * 3600);
    }

    #[test]
    fn any_bit_flip_is_rejected(subject in ".{0,24}", bit in any::<prop::sample::Index>()) {
        let (issuer, verifier) = pair();
        let token = issuer.issue_at(&subject, &(), T0).unwrap();
        let mut body = decode(&token);
        let bit = bit.index(body.len() * 8);
        body[bit / 8] ^= 1 << (bit % 8);
        let err = verifier.verify_at::<()>(&encode(&body), T0).unwrap_err();
        // Which error depends on where the flip lands; acceptance never happens.
        let expected = match bit / 8 {
            0 => Error::UnsupportedVersion,
            1..=4 => Error::UnknownKey,
            _ => Error::Invalid,
        };
        prop_assert_eq!(err, expected);
    }

    #[test]
    fn any_truncation_is_rejected(cut in any::<prop::sample::Index>()) {
        let (issuer, verifier) = pair();
        let token = issuer.issue_at("alice", &(), T0).unwrap();
        let cut = cut.index(token.len());
        prop_assert!(verifier.verify_at::<()>(&token[..cut], T0).is_err());
        let body = decode(&token);
        let body_cut = cut.min(body.len() - 1);
        prop_assert!(verifier.verify_at::<()>(&encode(&body[..body_cut]), T0).is_err());
    }

    #[test]
    fn any_splice_of_two_tokens_is_rejected(
        a_subject in ".{0,24}",
        b_subject in ".{0,24}",
        cut_a in any::<prop::sample::Index>(),
        cut_b in any::<prop::sample::Index>(),
    ) {
        let (issuer, verifier) = pair();
        let a = decode(&issuer.issue_at(&a_subject, &(), T0).unwrap());
        let b = decode(&issuer.issue_at(&b_subject, &(), T0).unwrap());
        let mut spliced = a[..cut_a.index(a.len())].to_vec();
        spliced.extend_from_slice(&b[cut_b.index(b.len())..]);
        prop_assume!(spliced != a && spliced != b);
        prop_assert!(verifier.verify_at::<()>(&encode(&spliced), T0).is_err());
    }

    #[test]
    fn arbitrary_text_never_verifies(text in ".{0,300}") {
        let (_, verifier) = pair();
        prop_assert!(verifier.verify_at::<()>(&text, T0).is_err());
        let prefixed = format!("tsr1.{}", text);
        prop_assert!(verifier.verify_at::<()>(&prefixed, T0).is_err());
    }

    #[test]
    fn arbitrary_bodies_never_verify(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (_, verifier) = pair();
        prop_assert!(verifier.verify_at::<Data>(&encode(&body), T0).is_err());
    }

    #[test]
    fn genuine_header_with_arbitrary_rest_is_invalid(rest in proptest::collection::vec(any::<u8>(), 104..300)) {
        let (issuer, verifier) = pair();
        let genuine = decode(&issuer.issue_at("alice", &(), T0).unwrap());
        let mut body = genuine[..5].to_vec();
        body.extend_from_slice(&rest);
        prop_assert_eq!(verifier.verify_at::<()>(&encode(&body), T0).unwrap_err(), Error::Invalid);
    }
}
