//! What docs/FORMAT.md states about decoding, pinned: how the claims decoder
//! treats varints (minimal, non-minimal, over-long), and that key id 0 is an
//! ordinary key id to readers although tessera never generates it.

use tessera::testing::{decode_claims, issue_deterministic, keyset_from_raw, RawKey};
use tessera::{Error, Issuer, KeyId, Keyset, Policy};

const T0: u64 = 1_767_225_600;
const ID: [u8; 16] = [7; 16];

/// Postcard's varint (LEB128): seven bits a byte, low bits first, minimal.
fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// `n`'s minimal varint padded with `extra` redundant zero groups: the same
/// number, encoded in more bytes than needed.
fn padded_varint(n: u64, extra: usize) -> Vec<u8> {
    let mut out = varint(n);
    if extra > 0 {
        if let Some(last) = out.last_mut() {
            *last |= 0x80;
        }
        out.extend(std::iter::repeat_n(0x80, extra - 1));
        out.push(0x00);
    }
    out
}

/// Claims bytes with unit data: session id, issued-at, the two offsets and
/// the subject, each integer given as its already-encoded varint bytes.
fn claims(
    issued_at: &[u8],
    expires_after: &[u8],
    deadline_after: &[u8],
    subject: &[u8],
) -> Vec<u8> {
    let mut out = ID.to_vec();
    out.extend_from_slice(issued_at);
    out.extend_from_slice(expires_after);
    out.extend_from_slice(deadline_after);
    out.extend_from_slice(subject);
    out
}

fn subject(len_varint: &[u8], text: &str) -> Vec<u8> {
    let mut out = len_varint.to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

#[test]
fn minimal_varints_decode() {
    let bytes = claims(
        &varint(T0),
        &varint(1800),
        &varint(43_200),
        &subject(&varint(5), "alice"),
    );
    let s = decode_claims::<()>(&bytes).unwrap();
    assert_eq!(
        (s.issued_at(), s.expires_at(), s.deadline(), s.subject()),
        (T0, T0 + 1800, T0 + 43_200, "alice")
    );
}

/// The decoder accepts a varint with redundant zero groups (within ten bytes,
/// the most a `u64` takes) as the same number, so one set of claims has more
/// than one encoding. The signature covers the ciphertext as sent, so this
/// gives nobody without the keys a way to change a token; the encoders always
/// emit minimal varints (pinned below).
#[test]
fn non_minimal_varints_are_accepted_as_the_same_number() {
    let minimal = claims(
        &varint(T0),
        &varint(1800),
        &varint(43_200),
        &subject(&varint(5), "alice"),
    );
    let expected = decode_claims::<()>(&minimal).unwrap();
    let cases = [
        claims(
            &padded_varint(T0, 1),
            &varint(1800),
            &varint(43_200),
            &subject(&varint(5), "alice"),
        ),
        claims(
            &varint(T0),
            &padded_varint(1800, 2),
            &varint(43_200),
            &subject(&varint(5), "alice"),
        ),
        claims(
            &varint(T0),
            &varint(1800),
            &padded_varint(43_200, 7),
            &subject(&varint(5), "alice"),
        ),
        claims(
            &varint(T0),
            &varint(1800),
            &varint(43_200),
            &subject(&padded_varint(5, 1), "alice"),
        ),
        // Zero as two bytes: 0x80 0x00.
        claims(
            &varint(T0),
            &padded_varint(0, 1),
            &varint(43_200),
            &subject(&varint(5), "alice"),
        ),
    ];
    for bytes in &cases {
        assert_ne!(bytes, &minimal);
        let s = decode_claims::<()>(bytes).unwrap();
        assert_eq!(
            (s.id(), s.issued_at(), s.deadline(), s.subject()),
            (
                expected.id(),
                expected.issued_at(),
                expected.deadline(),
                expected.subject()
            )
        );
    }
    let zero_idle = decode_claims::<()>(&cases[4]).unwrap();
    assert_eq!(zero_idle.expires_at(), T0);
}

#[test]
fn over_long_and_overflowing_varints_are_malformed() {
    let alice = subject(&varint(5), "alice");
    // Eleven bytes: longer than any u64 varint.
    let eleven = padded_varint(1800, 11 - varint(1800).len());
    assert_eq!(eleven.len(), 11);
    assert_eq!(
        decode_claims::<()>(&claims(&varint(T0), &eleven, &varint(43_200), &alice)).err(),
        Some(Error::Malformed)
    );
    // Ten bytes whose last group sets bits above bit 63.
    let mut too_big = vec![0xff; 9];
    too_big.push(0x02);
    assert_eq!(
        decode_claims::<()>(&claims(&too_big, &varint(0), &varint(0), &alice)).err(),
        Some(Error::Malformed)
    );
    // u64::MAX itself is ten bytes and fine.
    let max = varint(u64::MAX);
    assert_eq!(max.len(), 10);
    let s = decode_claims::<()>(&claims(&max, &varint(0), &varint(0), &alice)).unwrap();
    assert_eq!(s.deadline(), u64::MAX);
}

/// Every varint tessera writes is minimal: the claims of an issued token are
/// exactly the minimal encoding built by hand.
#[test]
fn issuers_write_minimal_varints() {
    let key = RawKey {
        id: KeyId(0x0102_0304),
        signing_seed: [0x11; 32],
        encryption_key: [0x42; 32],
    };
    let issuer = Issuer::new(keyset_from_raw(&[key]).unwrap(), Policy::default());
    let token = issue_deterministic(&issuer, "alice", &(), T0, ID, [9; 24]).unwrap();
    // The plaintext length is the ciphertext's: body minus header, nonce, tag
    // and signature (5 + 24 + 16 + 64).
    let body_len = (token.len() - "tsr1.".len()) * 3 / 4;
    let expected = claims(
        &varint(T0),
        &varint(1800),
        &varint(43_200),
        &subject(&varint(5), "alice"),
    );
    assert_eq!(body_len - 109, expected.len());
    let s = issuer.verifier().verify_at::<()>(&token, T0).unwrap();
    assert_eq!((s.expires_at(), s.deadline()), (T0 + 1800, T0 + 43_200));
}

#[test]
fn generated_key_ids_are_never_zero() {
    let mut keys = Keyset::generate();
    for _ in 0..200 {
        keys.add();
    }
    assert_eq!(keys.key_ids().len(), 201);
    assert!(!keys.key_ids().contains(&KeyId(0)));
}

/// Readers give key id 0 no special meaning: a keyset may hold it and tokens
/// under it verify; a token naming id 0 that no key has is `UnknownKey`.
#[test]
fn key_id_zero_is_an_ordinary_id_to_readers() {
    let zero = RawKey {
        id: KeyId(0),
        signing_seed: [0x11; 32],
        encryption_key: [0x42; 32],
    };
    let issuer = Issuer::new(keyset_from_raw(&[zero]).unwrap(), Policy::default());
    let token = issue_deterministic(&issuer, "alice", &(), T0, ID, [9; 24]).unwrap();
    let s = issuer.verifier().verify_at::<()>(&token, T0).unwrap();
    assert_eq!(s.key_id(), KeyId(0));

    let other = Issuer::new(Keyset::generate(), Policy::default());
    assert_eq!(
        other.verifier().verify_at::<()>(&token, T0).err(),
        Some(Error::UnknownKey)
    );
}
