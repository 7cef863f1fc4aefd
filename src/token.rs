//! The v1 wire format: parse untrusted text, seal claims into a token, open a token.
//!
//! ```text
//! token = "tsr1." base64url_nopad(body)
//! body  = header(5) || nonce(24) || ciphertext || tag(16) || signature(64)
//! ```
//! See docs/FORMAT.md for every byte. Parsing yields an [`UntrustedToken`]:
//! nothing in it has been checked except its shape, and the only way from it
//! to a [`Session`](crate::Session) is [`UntrustedToken::decrypt`] followed by
//! [`UntrustedToken::verify_signature`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::AeadInOut;
use zeroize::Zeroize;

use crate::claims::MAX_TOKEN_LENGTH_LIMIT;
use crate::keys::{IssuerKey, KeyId, VerifierKey};
use crate::Error;

/// Every token starts with this; the digit is the format version.
pub(crate) const PREFIX: &str = "tsr1.";
/// The version byte in the header.
pub(crate) const VERSION: u8 = 1;
/// Domain separation for the AEAD's associated data.
pub(crate) const DS_AEAD: &[u8] = b"tessera/v1/aead";
/// Domain separation for the signed message.
pub(crate) const DS_SIG: &[u8] = b"tessera/v1/sig";

pub(crate) const HEADER_LEN: usize = 5;
pub(crate) const NONCE_LEN: usize = 24;
pub(crate) const TAG_LEN: usize = 16;
pub(crate) const SIG_LEN: usize = 64;
/// Bytes of a body that are not ciphertext.
pub(crate) const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN + SIG_LEN;
/// The largest body a token of [`MAX_TOKEN_LENGTH_LIMIT`] characters can carry.
pub(crate) const MAX_BODY: usize = MAX_TOKEN_LENGTH_LIMIT / 4 * 3;
/// Audiences up to this long are bound without touching the heap.
const INLINE_AUDIENCE: usize = 256;
/// The body size of the small stack-buffer tier: nearly every token fits.
/// Zeroing three buffers of [`MAX_BODY`] bytes measured about 150 ns, some 5%
/// of a cache hit; three of this size cost next to nothing.
pub(crate) const SMALL_BODY: usize = 384;
/// The longest token whose body fits in [`SMALL_BODY`] bytes.
pub(crate) const SMALL_TOKEN: usize = PREFIX.len() + SMALL_BODY / 3 * 4;

/// Stack room for the AEAD's associated data with an inline audience.
const AAD_ROOM: usize = INLINE_AUDIENCE + 64;

/// Stack room for the signed message of a body of up to `body` bytes.
pub(crate) const fn message_room(body: usize) -> usize {
    body + INLINE_AUDIENCE + 64
}

/// The shape of a token, parsed but not yet trusted.
pub(crate) struct UntrustedToken<'a> {
    header: [u8; HEADER_LEN],
    pub(crate) key_id: KeyId,
    pub(crate) nonce: &'a [u8; NONCE_LEN],
    pub(crate) ciphertext: &'a [u8],
    pub(crate) tag: &'a [u8; TAG_LEN],
    pub(crate) signature: &'a [u8; SIG_LEN],
}

/// Step 1 of verification: the length bound and the exact prefix. Returns the
/// base64url text after the prefix.
pub(crate) fn check_length_and_prefix(token: &str, max_len: usize) -> Result<&str, Error> {
    if token.len() > max_len.min(MAX_TOKEN_LENGTH_LIMIT) {
        return Err(Error::TooLarge);
    }
    token.strip_prefix(PREFIX).ok_or(Error::Malformed)
}

impl<'a> UntrustedToken<'a> {
    /// Steps 1-3 of verification: length bound and exact prefix, canonical
    /// base64url into `buf`, the version byte. Never allocates. Callers size
    /// `buf` from the token's length (see [`SMALL_TOKEN`]) so that every body
    /// the length bound admits fits.
    pub(crate) fn parse(
        token: &str,
        max_len: usize,
        buf: &'a mut [u8],
    ) -> Result<UntrustedToken<'a>, Error> {
        let encoded = check_length_and_prefix(token, max_len)?;
        // URL-safe alphabet, no padding, zero trailing bits: one encoding per body.
        let len = URL_SAFE_NO_PAD
            .decode_slice(encoded, buf)
            .map_err(|_| Error::Malformed)?;
        let body: &'a [u8] = buf.get(..len).ok_or(Error::Malformed)?;
        if body.len() < OVERHEAD {
            return Err(Error::Malformed);
        }
        let (header, rest) = body.split_at(HEADER_LEN);
        let (nonce, rest) = rest.split_at(NONCE_LEN);
        let (sealed, signature) = rest.split_at(rest.len() - SIG_LEN);
        let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_LEN);
        let header: [u8; HEADER_LEN] = header.try_into().map_err(|_| Error::Malformed)?;
        if header[0] != VERSION {
            return Err(Error::UnsupportedVersion);
        }
        Ok(UntrustedToken {
            header,
            key_id: KeyId(u32::from_be_bytes([
                header[1], header[2], header[3], header[4],
            ])),
            nonce: nonce.try_into().map_err(|_| Error::Malformed)?,
            ciphertext,
            tag: tag.try_into().map_err(|_| Error::Malformed)?,
            signature: signature.try_into().map_err(|_| Error::Malformed)?,
        })
    }

    /// Step 4: AEAD open into `out`. Fails with the opaque [`Error::Invalid`].
    pub(crate) fn decrypt<'p, const N: usize>(
        &self,
        key: &VerifierKey,
        audience: &[u8],
        out: &'p mut PlaintextBuf<N>,
    ) -> Result<&'p [u8], Error> {
        let plaintext = out.fill(self.ciphertext)?;
        let ok = with_aad(&self.header, audience, |aad| {
            key.encryption
                .cipher
                .decrypt_inout_detached(
                    self.nonce.into(),
                    aad,
                    (&mut *plaintext).into(),
                    self.tag.into(),
                )
                .is_ok()
        });
        if ok {
            Ok(plaintext)
        } else {
            Err(Error::Invalid)
        }
    }

    /// Step 5: Ed25519 under `verify_strict`'s rules (see
    /// [`crate::ed25519`]) over the signed message, assembled in `M` bytes of
    /// stack (see [`message_room`]). Fails with the opaque [`Error::Invalid`].
    pub(crate) fn verify_signature<const M: usize>(
        &self,
        key: &VerifierKey,
        audience: &[u8],
    ) -> Result<(), Error> {
        let ct_len = le64(self.ciphertext.len() + TAG_LEN);
        let aud_len = le64(audience.len());
        let parts: [&[u8]; 8] = [
            DS_SIG,
            &self.header,
            self.nonce,
            &ct_len,
            self.ciphertext,
            self.tag,
            &aud_len,
            audience,
        ];
        with_concat::<M, _>(&parts, |message| {
            key.verifying.verify(message, self.signature)
        })
    }
}

/// Seals serialized claims into a token under `key`. `write_claims` serializes
/// the claims into the slice it is given and returns how many bytes it wrote
/// ([`Error::TooLarge`] when they do not fit); it runs a second time, into
/// larger buffers, for claims that do not fit the small tier.
pub(crate) fn seal(
    key: &IssuerKey,
    audience: &[u8],
    nonce: &[u8; NONCE_LEN],
    max_len: usize,
    write_claims: impl Fn(&mut [u8]) -> Result<usize, Error>,
) -> Result<String, Error> {
    // The stack buffers are zeroed on every call: try small ones first.
    match seal_in::<SMALL_BODY, { message_room(SMALL_BODY) }>(
        key,
        audience,
        nonce,
        max_len,
        &write_claims,
    ) {
        Err(Error::TooLarge) => seal_in::<MAX_BODY, { message_room(MAX_BODY) }>(
            key,
            audience,
            nonce,
            max_len,
            &write_claims,
        ),
        sealed => sealed,
    }
}

/// [`seal`] with a body of at most `BODY` bytes and `MESSAGE` bytes of stack
/// for the signed message.
fn seal_in<const BODY: usize, const MESSAGE: usize>(
    key: &IssuerKey,
    audience: &[u8],
    nonce: &[u8; NONCE_LEN],
    max_len: usize,
    write_claims: &impl Fn(&mut [u8]) -> Result<usize, Error>,
) -> Result<String, Error> {
    let mut body = [0u8; BODY];
    let mut header = [VERSION, 0, 0, 0, 0];
    header[1..].copy_from_slice(&key.info.id.0.to_be_bytes());
    let ct_start = HEADER_LEN + NONCE_LEN;
    let room = body
        .get_mut(ct_start..BODY.saturating_sub(TAG_LEN + SIG_LEN))
        .ok_or(Error::TooLarge)?;
    let pt_len = match write_claims(room) {
        Ok(n) => n,
        Err(e) => {
            // The serializer may have written part of the claims before failing.
            room.zeroize();
            return Err(e);
        }
    };
    let ct_end = ct_start + pt_len;
    let body_len = ct_end + TAG_LEN + SIG_LEN;
    if PREFIX.len() + encoded_len(body_len) > max_len {
        body[ct_start..ct_end].zeroize();
        return Err(Error::TooLarge);
    }
    body[..HEADER_LEN].copy_from_slice(&header);
    body[HEADER_LEN..ct_start].copy_from_slice(nonce);

    let tag = with_aad(&header, audience, |aad| {
        key.encryption.cipher.encrypt_inout_detached(
            nonce.into(),
            aad,
            (&mut body[ct_start..ct_end]).into(),
        )
    });
    let tag = match tag {
        Ok(tag) => tag,
        Err(_) => {
            body[ct_start..ct_end].zeroize();
            return Err(Error::Data);
        }
    };
    body[ct_end..ct_end + TAG_LEN].copy_from_slice(&tag);

    // One contiguous message: `try_multipart_sign` over the seven parts
    // measured about 2% slower (SHA-512 runs twice over many small updates).
    let signature = {
        let sealed = &body[ct_start..ct_end + TAG_LEN];
        let ct_len = le64(sealed.len());
        let aud_len = le64(audience.len());
        let parts: [&[u8]; 7] = [DS_SIG, &header, nonce, &ct_len, sealed, &aud_len, audience];
        with_concat::<MESSAGE, _>(&parts, |message| key.signing.sign(message))
    };
    body[ct_end + TAG_LEN..body_len].copy_from_slice(&signature);
    encode(&body[..body_len])
}

/// `"tsr1." || base64url_nopad(body)`.
fn encode(body: &[u8]) -> Result<String, Error> {
    let mut out = vec![0u8; PREFIX.len() + encoded_len(body.len())];
    out[..PREFIX.len()].copy_from_slice(PREFIX.as_bytes());
    URL_SAFE_NO_PAD
        .encode_slice(body, &mut out[PREFIX.len()..])
        .map_err(|_| Error::TooLarge)?;
    String::from_utf8(out).map_err(|_| Error::Malformed)
}

/// Characters of unpadded base64 for `n` bytes.
const fn encoded_len(n: usize) -> usize {
    n / 3 * 4 + (n % 3 * 4).div_ceil(3)
}

/// A stack buffer of `N` bytes for decrypted claims that wipes the bytes it
/// held on drop.
pub(crate) struct PlaintextBuf<const N: usize> {
    bytes: [u8; N],
    used: usize,
}

impl<const N: usize> PlaintextBuf<N> {
    pub(crate) fn new() -> Self {
        PlaintextBuf {
            bytes: [0u8; N],
            used: 0,
        }
    }

    /// Wipes what the buffer held and copies `from` in;
    /// [`Error::TooLarge`] if it does not fit.
    pub(crate) fn fill(&mut self, from: &[u8]) -> Result<&mut [u8], Error> {
        self.bytes[..self.used].zeroize();
        self.used = 0;
        let dest = self.bytes.get_mut(..from.len()).ok_or(Error::TooLarge)?;
        dest.copy_from_slice(from);
        self.used = from.len();
        Ok(dest)
    }

    /// The bytes the last [`fill`](Self::fill) copied in.
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.used).unwrap_or_default()
    }
}

impl<const N: usize> Drop for PlaintextBuf<N> {
    fn drop(&mut self) {
        self.bytes[..self.used].zeroize();
    }
}

/// Runs `f` on the AEAD associated data: `DS_AEAD || header || le64(|aud|) || aud`.
fn with_aad<R>(header: &[u8; HEADER_LEN], audience: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let aud_len = le64(audience.len());
    with_concat::<AAD_ROOM, _>(&[DS_AEAD, header, &aud_len, audience], f)
}

/// Runs `f` on the concatenation of `parts`, on the stack when it fits in `N`
/// bytes (always, for the default limits), on the heap otherwise.
fn with_concat<const N: usize, R>(parts: &[&[u8]], f: impl FnOnce(&[u8]) -> R) -> R {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    if total <= N {
        let mut buf = [0u8; N];
        let mut at = 0;
        for part in parts {
            buf[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        f(&buf[..at])
    } else {
        f(&parts.concat())
    }
}

/// A length as the 8-byte little-endian prefix used in every signed field.
fn le64(n: usize) -> [u8; 8] {
    (n as u64).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};

    #[test]
    fn encoded_len_is_unpadded_base64_length() {
        for n in 0..=MAX_BODY {
            assert_eq!(encoded_len(n), Base64UrlUnpadded::encoded_len(&vec![0; n]));
        }
    }

    /// Bytes that `n` characters of unpadded base64 decode to (`n % 4 != 1`).
    fn decoded_len(n: usize) -> usize {
        n * 3 / 4
    }

    #[test]
    fn stack_buffers_hold_what_they_must_and_little_more() {
        // Every buffer is zeroed on every call, so each is sized to what it
        // holds: the longest token's body, with at most 4 bytes spare.
        let longest = decoded_len(MAX_TOKEN_LENGTH_LIMIT - PREFIX.len());
        assert!(
            longest <= MAX_BODY && MAX_BODY - longest <= 4,
            "{longest} {MAX_BODY}"
        );
        // SMALL_TOKEN is the longest token whose body fits the small tier:
        // every longer well-formed length needs more than SMALL_BODY bytes.
        assert!(decoded_len(SMALL_TOKEN - PREFIX.len()) <= SMALL_BODY);
        for n in SMALL_TOKEN + 1..SMALL_TOKEN + 5 {
            if (n - PREFIX.len()) % 4 != 1 {
                assert!(decoded_len(n - PREFIX.len()) > SMALL_BODY, "{n}");
            }
        }
        // The signed message of a body of either size with the longest
        // audience kept on the stack fits in message_room, with little spare.
        for body in [SMALL_BODY, MAX_BODY] {
            let ciphertext_and_tag = body - HEADER_LEN - NONCE_LEN - SIG_LEN;
            let needed = DS_SIG.len()
                + HEADER_LEN
                + NONCE_LEN
                + 8
                + ciphertext_and_tag
                + 8
                + INLINE_AUDIENCE;
            let room = message_room(body);
            assert!(
                needed <= room && room - needed <= 128,
                "{body}: {needed} {room}"
            );
        }
        // The same for the associated data.
        let needed = DS_AEAD.len() + HEADER_LEN + 8 + INLINE_AUDIENCE;
        assert!(
            needed <= AAD_ROOM && AAD_ROOM - needed <= 64,
            "{needed} {AAD_ROOM}"
        );
    }

    #[test]
    fn token_text_codec_agrees_with_base64ct() {
        // The token codec must accept exactly base64ct's canonical unpadded
        // base64url: same bytes out, same texts refused.
        let body: Vec<u8> = (0..=255u8).cycle().take(400).collect();
        for n in [0, 1, 2, 3, 109, 110, 111, 384, 400] {
            let text = encode(&body[..n]).expect("encodes");
            let encoded = text.strip_prefix(PREFIX).expect("prefix");
            assert_eq!(encoded, Base64UrlUnpadded::encode_string(&body[..n]));
            let mut buf = [0u8; 400];
            let len = URL_SAFE_NO_PAD
                .decode_slice(encoded, &mut buf)
                .expect("decodes");
            assert_eq!(&buf[..len], &body[..n]);
        }
        for bad in [
            "A", "AB=", "AB==", "AB", "A+", "A/", "AA A", "AB\n", "AQ", "AAB",
        ] {
            let mut buf = [0u8; 8];
            let ours = URL_SAFE_NO_PAD.decode_slice(bad, &mut buf).is_ok();
            let reference = Base64UrlUnpadded::decode(bad, &mut [0u8; 8]).is_ok();
            assert_eq!(ours, reference, "{bad:?}");
        }
        assert!(URL_SAFE_NO_PAD.decode_slice("AQ", &mut [0u8; 1]).is_ok());
        assert!(URL_SAFE_NO_PAD.decode_slice("AR", &mut [0u8; 1]).is_err());
    }
}
