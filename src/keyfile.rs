//! Keyset files (feature `json`): versioned JSON with keys in base64url.
//!
//! Two kinds of file, told apart by their `format` field (docs/FORMAT.md has
//! the full description):
//!
//! - `tessera-issuer-keyset`: each key's Ed25519 signing key (the 32-byte
//!   seed), its verifying key and its XChaCha20-Poly1305 key. Secret.
//! - `tessera-verifier-keyset`: each key's verifying key and XChaCha20-Poly1305
//!   key; no signing secret. Ship it to verifiers.
//!
//! Writing is hand-rolled (a fixed layout, no escaping needed, into one buffer
//! sized up front so that no copy of a secret is left behind by a
//! reallocation); reading uses serde_json, borrowing every key string from the
//! input so that the only copies of secrets are the zeroizing ones made here.
//! Error messages name fields, key ids and positions, never input text.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use core::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::de::IgnoredAny;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::ed25519::{Ed25519Signer, StrictVerifyingKey};
use crate::files::{file_error, resolve_links};
use crate::keys::{
    EncryptionKey, IssuerKey, KeyId, KeyInfo, KeyState, Keyset, VerifierKey, VerifierKeyset,
};
use crate::Error;

/// The largest keyset file, in bytes, that is read or parsed (1 MiB: some
/// 2,500 keys). Larger input is refused before parsing.
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub const MAX_KEYSET_FILE_LEN: usize = 1 << 20;

/// The `format` of an issuer keyset file.
const ISSUER_FORMAT: &str = "tessera-issuer-keyset";
/// The `format` of a verifier keyset file.
const VERIFIER_FORMAT: &str = "tessera-verifier-keyset";
/// The file format version this build reads and writes.
const VERSION: u64 = 1;
/// Characters of unpadded base64url for 32 bytes.
const KEY_CHARS: usize = 43;

#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
impl Keyset {
    /// The keyset as an issuer keyset file (JSON, see docs/FORMAT.md). It holds
    /// every signing key: store it like a private key. Requires the `json`
    /// feature.
    pub fn to_json(&self) -> Zeroizing<String> {
        render(
            ISSUER_FORMAT,
            self.issuer_keys().iter().map(|k| {
                let material = [
                    ("signing_key", base64(k.signing.as_bytes())),
                    (
                        "verifying_key",
                        base64(k.signing.verifying_key().as_bytes()),
                    ),
                    ("encryption_key", base64(k.encryption.as_bytes())),
                ];
                (k.info, material)
            }),
        )
    }

    /// Parses an issuer keyset file. Every key is checked: lengths, canonical
    /// base64url, that each verifying key matches its signing key, unique ids
    /// and exactly one primary. Requires the `json` feature.
    ///
    /// ```
    /// use tessera::{Keyset, VerifierKeyset};
    ///
    /// let mut keys = Keyset::generate();
    /// keys.add();
    /// let file = keys.to_json(); // a Zeroizing<String>: wiped when dropped
    /// let back = Keyset::from_json(&file)?;
    /// assert_eq!(back.key_info(), keys.key_info());
    ///
    /// // Verifiers get the half without signing keys.
    /// let shipped = keys.verifier_keyset().to_json();
    /// assert!(!shipped.contains("signing_key"));
    /// let verifier_keys = VerifierKeyset::from_json(&shipped)?;
    /// assert_eq!(verifier_keys.key_ids(), keys.key_ids());
    /// # Ok::<(), tessera::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::KeysetFormat`] for input that is not a valid version-1 issuer
    /// keyset (including a verifier keyset, and input over
    /// [`MAX_KEYSET_FILE_LEN`] bytes); [`Error::WeakKey`] for a weak or
    /// non-canonical verifying key or one that does not match its signing key.
    pub fn from_json(json: &str) -> Result<Keyset, Error> {
        let keys = parse_file(json, ISSUER_FORMAT)?
            .iter()
            .map(|e| {
                let seed = e.signing_key.ok_or_else(|| {
                    format_error(format!("missing field `signing_key` in key {}", e.id))
                })?;
                let signing = Ed25519Signer::from_bytes(&*decode_key(seed, e.id, "signing_key")?);
                let public = e.verifying_key()?;
                StrictVerifyingKey::from_bytes(&public)?;
                if signing.verifying_key().as_bytes() != &public {
                    return Err(Error::WeakKey);
                }
                Ok(IssuerKey {
                    info: e.info(),
                    signing,
                    encryption: e.encryption_key()?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Keyset::from_parts(keys)
    }

    /// Reads an issuer keyset file, refusing (on Unix) one that its group or
    /// others may access, as ssh does. Requires the `json` feature.
    ///
    /// # Errors
    ///
    /// [`Error::InsecurePermissions`] for a file with any group or other
    /// permission bit set (fix: `chmod 600 FILE`), [`Error::File`] (naming
    /// the file, with the operating system's message) if it cannot be read;
    /// otherwise as [`from_json`](Self::from_json).
    pub fn load(path: impl AsRef<Path>) -> Result<Keyset, Error> {
        Keyset::from_json(&read_file(path.as_ref())?)
    }

    /// Writes the keyset file atomically (temporary file in the same folder,
    /// fsync, rename) with mode 0600, replacing any file at `path`. Requires
    /// the `json` feature.
    ///
    /// # Errors
    ///
    /// [`Error::File`] (naming the file, with the operating system's message)
    /// if it cannot be written; the previous file is then intact.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        crate::files::save(path.as_ref(), self.to_json().as_bytes())
    }

    /// Loads the issuer keyset file at `path`, applies `change`, and saves
    /// the result, holding an exclusive lock for the whole read-modify-write
    /// so that two editors (processes or threads) never lose each other's
    /// update. Nothing is written if `change` fails or leaves the keyset as
    /// it was. Requires the `json` feature.
    ///
    /// The lock is advisory and lives in `FILE.lock`, an empty file created
    /// next to the keyset (for a symbolic link, next to the file it points
    /// to) and left there: the keyset itself cannot carry the lock, since
    /// every save replaces it with a new file. Another editor holding the
    /// lock is waited for, up to 10 seconds. [`save`](Self::save) alone does
    /// not lock.
    ///
    /// ```
    /// use tessera::{Error, Keyset};
    ///
    /// # let dir = std::env::temp_dir().join(format!("tessera-edit-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("issuer.json");
    /// Keyset::generate().save(&path)?;
    /// let next = Keyset::edit(&path, |keys| Ok::<_, Error>(keys.add()))?;
    /// assert!(Keyset::load(&path)?.key_ids().contains(&next));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// What `change` returns; otherwise, converted into `E`:
    /// [`Error::File`] with kind [`WouldBlock`](std::io::ErrorKind::WouldBlock)
    /// if another editor held the lock for the whole wait, or naming the file
    /// that could not be read, locked or written; otherwise as
    /// [`load`](Self::load).
    pub fn edit<T, E: From<Error>>(
        path: impl AsRef<Path>,
        change: impl FnOnce(&mut Keyset) -> Result<T, E>,
    ) -> Result<T, E> {
        edit_with_wait(path.as_ref(), crate::files::LOCK_WAIT, change)
    }
}

/// [`Keyset::edit`], waiting at most `wait` for the lock.
fn edit_with_wait<T, E: From<Error>>(
    path: &Path,
    wait: Duration,
    change: impl FnOnce(&mut Keyset) -> Result<T, E>,
) -> Result<T, E> {
    let target = resolve_links(path).map_err(|e| file_error(path, &e))?;
    // A missing keyset is reported as such, without leaving a lock file.
    std::fs::metadata(&target).map_err(|e| file_error(&target, &e))?;
    let _lock = crate::files::lock_for_edit(&target, wait)?;
    let mut keys = Keyset::load(&target)?;
    let before = keys.key_info();
    let result = change(&mut keys)?;
    if keys.key_info() != before {
        keys.save(&target)?;
    }
    Ok(result)
}

#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
impl VerifierKeyset {
    /// The keyset as a verifier keyset file (JSON, see docs/FORMAT.md). It
    /// holds no signing key, but it does hold the decryption keys, which reveal
    /// what tokens say: keep it private. Requires the `json` feature.
    pub fn to_json(&self) -> Zeroizing<String> {
        render(
            VERIFIER_FORMAT,
            self.verifier_keys().iter().map(|k| {
                let material = [
                    ("verifying_key", base64(k.verifying.as_bytes())),
                    ("encryption_key", base64(k.encryption.as_bytes())),
                ];
                (k.info, material)
            }),
        )
    }

    /// Parses a verifier keyset file, checking every key (lengths, canonical
    /// base64url, sound Ed25519 keys), unique ids and exactly one primary.
    /// Requires the `json` feature.
    ///
    /// # Errors
    ///
    /// [`Error::IssuerKeyset`] for an issuer keyset (export its verifier half
    /// instead); [`Error::KeysetFormat`] for anything else that is not a valid
    /// version-1 verifier keyset, including input over [`MAX_KEYSET_FILE_LEN`]
    /// bytes; [`Error::WeakKey`] for a weak or non-canonical verifying key.
    pub fn from_json(json: &str) -> Result<VerifierKeyset, Error> {
        let keys = parse_file(json, VERIFIER_FORMAT)?
            .iter()
            .map(|e| {
                if e.signing_key.is_some() {
                    return Err(format_error(format!(
                        "key {}: a verifier keyset must not hold a signing key",
                        e.id
                    )));
                }
                Ok(VerifierKey {
                    info: e.info(),
                    verifying: StrictVerifyingKey::from_bytes(&e.verifying_key()?)?,
                    encryption: e.encryption_key()?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        VerifierKeyset::from_parts(keys)
    }

    /// Reads a verifier keyset file, refusing (on Unix) one that its group or
    /// others may access, as for an issuer keyset: it holds no signing key,
    /// but its decryption keys let whoever reads it read every token's
    /// session id, subject and data. Requires the `json` feature.
    ///
    /// # Errors
    ///
    /// [`Error::InsecurePermissions`] for a file with any group or other
    /// permission bit set (fix: `chmod 600 FILE`), [`Error::File`] (naming the file, with the operating system's message)
    /// if it cannot be read; otherwise as [`from_json`](Self::from_json).
    pub fn load(path: impl AsRef<Path>) -> Result<VerifierKeyset, Error> {
        VerifierKeyset::from_json(&read_file(path.as_ref())?)
    }

    /// Writes the keyset file atomically (temporary file in the same folder,
    /// fsync, rename) with mode 0600, replacing any file at `path`. Requires
    /// the `json` feature.
    ///
    /// # Errors
    ///
    /// [`Error::File`] (naming the file, with the operating system's message)
    /// if it cannot be written; the previous file is then intact.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        crate::files::save(path.as_ref(), self.to_json().as_bytes())
    }
}

/// What is read first, to report a wrong kind of file or an unsupported
/// version before any complaint about fields.
#[derive(Deserialize)]
struct Header<'a> {
    format: &'a str,
    version: u64,
}

/// A whole file; `format` and `version` were checked through [`Header`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysetFile<'a> {
    #[serde(rename = "format")]
    _format: IgnoredAny,
    #[serde(rename = "version")]
    _version: IgnoredAny,
    #[serde(borrow)]
    keys: Vec<Entry<'a>>,
}

/// One key, in either kind of file: a verifier keyset has no `signing_key`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry<'a> {
    id: u32,
    state: StateName,
    created_at: u64,
    #[serde(default)]
    demoted_at: Option<u64>,
    #[serde(default, borrow)]
    signing_key: Option<&'a str>,
    verifying_key: &'a str,
    encryption_key: &'a str,
}

impl Entry<'_> {
    fn info(&self) -> KeyInfo {
        KeyInfo {
            id: KeyId(self.id),
            state: match self.state {
                StateName::Primary => KeyState::Primary,
                StateName::Enabled => KeyState::Enabled,
                StateName::Disabled => KeyState::Disabled,
            },
            created_at: self.created_at,
            demoted_at: self.demoted_at,
        }
    }

    /// The Ed25519 public key bytes (not secret, so not zeroized).
    fn verifying_key(&self) -> Result<[u8; 32], Error> {
        decode_key(self.verifying_key, self.id, "verifying_key").map(|key| *key)
    }

    fn encryption_key(&self) -> Result<EncryptionKey, Error> {
        let bytes = decode_key(self.encryption_key, self.id, "encryption_key")?;
        Ok(EncryptionKey::from_bytes(&bytes))
    }
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum StateName {
    Primary,
    Enabled,
    Disabled,
}

/// Parses a whole file of the `expected` format and checks what does not
/// need key material: unique ids, exactly one primary.
fn parse_file<'a>(json: &'a str, expected: &str) -> Result<Vec<Entry<'a>>, Error> {
    check_header(json, expected)?;
    let file: KeysetFile<'a> = parse(json)?;
    check_metadata(&file.keys)?;
    Ok(file.keys)
}

/// Refuses oversized input, then checks the `format` and `version` fields.
fn check_header(json: &str, expected: &str) -> Result<(), Error> {
    if json.len() > MAX_KEYSET_FILE_LEN {
        return Err(too_large());
    }
    let header: Header<'_> = parse(json)?;
    match header.format {
        f if f == expected => {}
        ISSUER_FORMAT => return Err(Error::IssuerKeyset),
        VERIFIER_FORMAT => {
            return Err(format_error(
                "this is a verifier keyset: it holds no signing keys and cannot issue tokens",
            ))
        }
        _ => {
            return Err(format_error(format!(
                "not a tessera keyset (\"format\" must be \"{ISSUER_FORMAT}\" or \"{VERIFIER_FORMAT}\")"
            )))
        }
    }
    if header.version != VERSION {
        return Err(format_error(format!(
            "unsupported version {}; this build reads version {VERSION}",
            header.version
        )));
    }
    Ok(())
}

/// Unique ids and exactly one primary, with messages that say which key.
fn check_metadata(keys: &[Entry<'_>]) -> Result<(), Error> {
    let mut ids: Vec<u32> = keys.iter().map(|k| k.id).collect();
    let primaries = keys
        .iter()
        .filter(|k| k.state == StateName::Primary)
        .count();
    ids.sort_unstable();
    if let Some([id, _]) = ids.windows(2).find(|w| w.first() == w.get(1)) {
        return Err(format_error(format!("duplicate key id {id}")));
    }
    match primaries {
        1 => Ok(()),
        0 => Err(format_error(
            "no primary key (exactly one key must be primary)",
        )),
        n => Err(format_error(format!(
            "{n} primary keys (exactly one key must be primary)"
        ))),
    }
}

/// Decodes one 32-byte key from unpadded, canonical base64url into a
/// zeroizing buffer.
fn decode_key(text: &str, id: u32, field: &str) -> Result<Zeroizing<[u8; 32]>, Error> {
    let mut out = Zeroizing::new([0u8; 32]);
    let decoded_len = if text.len() == KEY_CHARS {
        Base64UrlUnpadded::decode(text, &mut *out).map_or(0, |bytes| bytes.len())
    } else {
        0
    };
    if decoded_len == out.len() {
        Ok(out)
    } else {
        Err(format_error(format!(
            "key {id}: {field} is not 32 bytes of unpadded base64url"
        )))
    }
}

/// 32 bytes as unpadded base64url, in a zeroizing stack buffer.
struct Base64Key(Zeroizing<[u8; KEY_CHARS]>);

fn base64(bytes: &[u8; 32]) -> Base64Key {
    let mut buf = Zeroizing::new([0u8; KEY_CHARS]);
    // The buffer is exactly `encoded_len(32)` long, so encoding cannot fail.
    let _ = Base64UrlUnpadded::encode(bytes, &mut *buf);
    Base64Key(buf)
}

impl Base64Key {
    fn as_str(&self) -> &str {
        // Base64url output is ASCII; an empty string is unreachable.
        core::str::from_utf8(&*self.0).unwrap_or_default()
    }
}

/// Upper bound on the rendered size of a keyset of `keys` keys: a fixed
/// header and footer, and per key its metadata at full width (ten-digit id,
/// twenty-digit times) and three key fields.
fn rendered_capacity(keys: usize) -> usize {
    const HEAD: usize = 128;
    const PER_KEY: usize = 200 + 3 * (32 + KEY_CHARS);
    HEAD.saturating_add(keys.saturating_mul(PER_KEY))
}

/// Writes a keyset file: fixed layout, keys ascending by id, trailing newline.
/// The buffer is sized up front so that it never reallocates (which would
/// leave a copy of the secrets behind).
fn render<const N: usize>(
    format: &str,
    keys: impl ExactSizeIterator<Item = (KeyInfo, [(&'static str, Base64Key); N])>,
) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(rendered_capacity(keys.len())));
    // Writing to a `String` cannot fail.
    let _ = write!(
        out,
        "{{\n  \"format\": \"{format}\",\n  \"version\": {VERSION},\n  \"keys\": ["
    );
    for (i, (info, material)) in keys.enumerate() {
        let state = match info.state {
            KeyState::Primary => "primary",
            KeyState::Enabled => "enabled",
            KeyState::Disabled => "disabled",
        };
        let demoted = match info.demoted_at {
            Some(at) => at.to_string(),
            None => "null".to_string(),
        };
        let _ = write!(
            out,
            "{}\n    {{\n      \"id\": {},\n      \"state\": \"{state}\",\n      \
             \"created_at\": {},\n      \"demoted_at\": {demoted}",
            if i == 0 { "" } else { "," },
            info.id,
            info.created_at,
        );
        for (name, value) in &material {
            let _ = write!(out, ",\n      \"{name}\": \"{}\"", value.as_str());
        }
        out.push_str("\n    }");
    }
    out.push_str("\n  ]\n}\n");
    out
}

fn parse<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|e| json_error(&e))
}

/// Describes a serde_json error by kind and position only: its message may
/// quote the input, which can be key material. "missing field" and
/// "duplicate field" messages name only this module's own field names, so
/// they are kept.
fn json_error(e: &serde_json::Error) -> Error {
    use serde_json::error::Category;
    let message = e.to_string();
    let what = match e.classify() {
        Category::Eof => "truncated JSON",
        Category::Syntax => "not valid JSON",
        Category::Data => {
            let known = ["missing field `", "duplicate field `"];
            match message.split(" at line ").next() {
                Some(m) if known.iter().any(|k| m.starts_with(k)) => m,
                _ => "unexpected field or value",
            }
        }
        Category::Io => "read error",
    };
    format_error(format!("{what} at line {} column {}", e.line(), e.column()))
}

fn format_error(why: impl Into<String>) -> Error {
    Error::KeysetFormat(why.into())
}

fn too_large() -> Error {
    format_error(format!("larger than {MAX_KEYSET_FILE_LEN} bytes"))
}

/// Reads a keyset file of at most [`MAX_KEYSET_FILE_LEN`] bytes into a
/// zeroizing buffer, first refusing a file that group or others may access:
/// both kinds of keyset hold secrets (signing keys; decryption keys).
fn read_file(path: &Path) -> Result<Zeroizing<String>, Error> {
    let io_error = |e: std::io::Error| file_error(path, &e);
    let file = File::open(path).map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    // Opening a folder succeeds on Unix; say what is wrong rather than
    // complaining about its permissions.
    if meta.is_dir() {
        return Err(io_error(std::io::ErrorKind::IsADirectory.into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(Error::InsecurePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let limit = MAX_KEYSET_FILE_LEN as u64;
    if meta.len() > limit {
        return Err(too_large());
    }
    // Room for the largest file and one byte more, so that reading to the end
    // never reallocates, even for a file that grows meanwhile or is not a
    // regular file (whose reported length is 0).
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_KEYSET_FILE_LEN + 1));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() > MAX_KEYSET_FILE_LEN {
        return Err(too_large());
    }
    match String::from_utf8(core::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Err(format_error("not UTF-8 text"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Issuer, Policy};
    use serde_json::{json, Value};

    const T0: u64 = 1_750_000_000;

    fn sample() -> Keyset {
        let mut keys = Keyset::generate();
        let waiting = keys.add();
        keys.rotate();
        keys.disable(waiting).unwrap();
        keys
    }

    fn value(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    fn format_message(result: Result<impl core::fmt::Debug, Error>) -> String {
        match result {
            Err(Error::KeysetFormat(why)) => why,
            other => panic!("expected a keyset format error, got {other:?}"),
        }
    }

    #[test]
    fn issuer_keyset_round_trips() {
        let keys = sample();
        let json = keys.to_json();
        let back = Keyset::from_json(&json).unwrap();
        assert_eq!(back.key_info(), keys.key_info());
        assert_eq!(back.primary(), keys.primary());
        assert_eq!(*back.to_json(), *json, "rendering is deterministic");
        let doc = value(&json);
        assert_eq!(doc["format"], "tessera-issuer-keyset");
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["keys"].as_array().unwrap().len(), 3);
        // The parsed keys sign and verify like the originals.
        let token = Issuer::new(back, Policy::default())
            .issue_at("alice", &(), T0)
            .unwrap();
        let session = Issuer::new(keys, Policy::default())
            .verifier()
            .verify_at::<()>(&token, T0)
            .unwrap();
        assert_eq!(session.subject(), "alice");
    }

    #[test]
    fn verifier_keyset_round_trips_without_signing_keys() {
        let keys = sample();
        let verifier = keys.verifier_keyset();
        let json = verifier.to_json();
        let back = VerifierKeyset::from_json(&json).unwrap();
        assert_eq!(back.key_info(), keys.key_info());
        assert_eq!(*back.to_json(), *json);
        assert_eq!(value(&json)["format"], "tessera-verifier-keyset");
        for key in value(&keys.to_json())["keys"].as_array().unwrap() {
            let secret = key["signing_key"].as_str().unwrap();
            assert!(
                !json.contains(secret),
                "signing key leaked into the verifier keyset"
            );
        }
        let token = Issuer::new(keys, Policy::default())
            .issue_at("bob", &(), T0)
            .unwrap();
        let verifier = crate::Verifier::new(back, Policy::default());
        assert_eq!(
            verifier.verify_at::<()>(&token, T0).unwrap().subject(),
            "bob"
        );
    }

    /// The worked example in docs/FORMAT.md is what this code reads and writes.
    #[test]
    fn format_document_examples_match_the_code() {
        let doc = include_str!("../docs/FORMAT.md");
        let start = doc.find("\n## Keyset files\n").unwrap();
        let section = &doc[start..];
        let section = &section[..section.find("\n## Revocation snapshots").unwrap()];
        let blocks: Vec<&str> = section
            .split("```json\n")
            .skip(1)
            .map(|b| &b[..b.find("```").unwrap()])
            .collect();
        assert_eq!(blocks.len(), 2);
        let keys = Keyset::from_json(blocks[0]).unwrap();
        assert_eq!(*keys.to_json(), blocks[0]);
        assert_eq!(*keys.verifier_keyset().to_json(), blocks[1]);
        assert_eq!(keys.primary(), KeyId(1_024_981_735));
        let verifier = VerifierKeyset::from_json(blocks[1]).unwrap();
        assert_eq!(verifier.key_info(), keys.key_info());
        let mut pruned = keys.clone();
        let lifetime = core::time::Duration::from_secs(12 * 3600);
        assert!(pruned.prune(lifetime, 1_760_046_800).is_empty());
        assert_eq!(pruned.prune(lifetime, 1_760_046_801).len(), 1);
    }

    #[test]
    fn rendered_size_stays_within_the_preallocated_buffer() {
        let keys = (0..64u32)
            .map(|i| IssuerKey {
                info: KeyInfo {
                    id: KeyId(u32::MAX - i),
                    state: if i == 0 {
                        KeyState::Primary
                    } else {
                        KeyState::Disabled
                    },
                    created_at: u64::MAX,
                    demoted_at: Some(u64::MAX),
                },
                signing: Ed25519Signer::from_bytes(&[7; 32]),
                encryption: EncryptionKey::from_bytes(&[9; 32]),
            })
            .collect();
        let keys = Keyset::from_parts(keys).unwrap();
        let json = keys.to_json();
        assert!(json.len() <= rendered_capacity(64));
        assert_eq!(json.capacity(), rendered_capacity(64), "no reallocation");
        // The bound itself: 128 bytes, plus 200 of metadata and three fields
        // of up to 32 bytes of name and punctuation and 43 of key per key.
        assert_eq!(rendered_capacity(0), 128);
        assert_eq!(rendered_capacity(1), 128 + 425);
        assert_eq!(rendered_capacity(64), 128 + 64 * 425);
        assert_eq!(rendered_capacity(usize::MAX), usize::MAX);
        assert_eq!(
            Keyset::from_json(&json).unwrap().key_info(),
            keys.key_info()
        );
    }

    /// Applies `edit` to the first key of `keys`' issuer file.
    fn edited(keys: &Keyset, edit: impl FnOnce(&mut Value)) -> String {
        let mut doc = value(&keys.to_json());
        edit(&mut doc);
        doc.to_string()
    }

    #[test]
    fn weak_and_mismatched_keys_are_rejected() {
        let keys = Keyset::generate();
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let identity = base64(&identity).as_str().to_string();
        let mut verifier = value(&keys.verifier_keyset().to_json());
        verifier["keys"][0]["verifying_key"] = json!(identity);
        assert_eq!(
            VerifierKeyset::from_json(&verifier.to_string()).err(),
            Some(Error::WeakKey)
        );
        let other = value(&Keyset::generate().to_json())["keys"][0]["verifying_key"].clone();
        let mismatched = edited(&keys, |doc| doc["keys"][0]["verifying_key"] = other);
        assert_eq!(Keyset::from_json(&mismatched).err(), Some(Error::WeakKey));
        let weak = edited(&keys, |doc| {
            doc["keys"][0]["verifying_key"] = json!(identity)
        });
        assert_eq!(Keyset::from_json(&weak).err(), Some(Error::WeakKey));
    }

    #[test]
    fn keys_of_the_wrong_length_or_encoding_are_rejected() {
        let keys = Keyset::generate();
        let good = value(&keys.to_json())["keys"][0]["encryption_key"]
            .as_str()
            .unwrap()
            .to_string();
        let last = good.chars().last().unwrap();
        // 43 characters carry 258 bits: the last character's low 2 bits must be zero.
        let non_canonical_last = if last == 'B' { 'C' } else { 'B' };
        let bad = [
            good[..42].to_string(),                         // 31.5 bytes
            format!("{good}A"),                             // 33 bytes
            format!("{good}="),                             // padding
            good.replace(last, "").to_string() + "+",       // standard alphabet
            format!("{}{non_canonical_last}", &good[..42]), // non-canonical bits
            String::new(),
            "A".repeat(44 * 3),
        ];
        for text in bad {
            let json = edited(&keys, |doc| doc["keys"][0]["encryption_key"] = json!(text));
            let why = format_message(Keyset::from_json(&json));
            assert!(why.contains("encryption_key is not 32 bytes"), "{why}");
        }
        let json = edited(&keys, |doc| {
            doc["keys"][0]["signing_key"] = json!(good[..42])
        });
        assert!(format_message(Keyset::from_json(&json)).contains("signing_key"));
    }

    #[test]
    fn versions_formats_and_kinds_are_checked() {
        let keys = Keyset::generate();
        let v2 = edited(&keys, |doc| doc["version"] = json!(2));
        assert!(format_message(Keyset::from_json(&v2)).contains("unsupported version 2"));
        let other = edited(&keys, |doc| doc["format"] = json!("jwks"));
        assert!(format_message(Keyset::from_json(&other)).contains("not a tessera keyset"));
        let no_format = edited(&keys, |doc| {
            doc.as_object_mut().unwrap().remove("format");
        });
        assert!(format_message(Keyset::from_json(&no_format)).contains("missing field `format`"));
        assert_eq!(
            VerifierKeyset::from_json(&keys.to_json()).err(),
            Some(Error::IssuerKeyset)
        );
        let verifier = keys.verifier_keyset().to_json();
        assert!(format_message(Keyset::from_json(&verifier)).contains("verifier keyset"));
        let mut smuggled = value(&verifier);
        smuggled["keys"][0]["signing_key"] =
            value(&keys.to_json())["keys"][0]["signing_key"].clone();
        let why = format_message(VerifierKeyset::from_json(&smuggled.to_string()));
        assert!(why.contains("must not hold a signing key"), "{why}");
        let unknown = edited(&keys, |doc| doc["keys"][0]["comment"] = json!("hi"));
        assert!(format_message(Keyset::from_json(&unknown)).contains("unexpected field"));
        let missing = edited(&keys, |doc| {
            doc["keys"][0].as_object_mut().unwrap().remove("state");
        });
        assert!(format_message(Keyset::from_json(&missing)).contains("missing field `state`"));
    }

    #[test]
    fn duplicate_ids_and_primary_count_are_checked() {
        let mut keys = Keyset::generate();
        keys.add();
        let dup = edited(&keys, |doc| {
            doc["keys"][1]["id"] = doc["keys"][0]["id"].clone()
        });
        assert!(format_message(Keyset::from_json(&dup)).contains("duplicate key id"));
        let none = edited(&keys, |doc| {
            for key in doc["keys"].as_array_mut().unwrap() {
                key["state"] = json!("enabled");
            }
        });
        assert!(format_message(Keyset::from_json(&none)).contains("no primary key"));
        let two = edited(&keys, |doc| {
            for key in doc["keys"].as_array_mut().unwrap() {
                key["state"] = json!("primary");
            }
        });
        assert!(format_message(Keyset::from_json(&two)).contains("2 primary keys"));
        let empty = edited(&keys, |doc| doc["keys"] = json!([]));
        assert!(format_message(Keyset::from_json(&empty)).contains("no primary key"));
        let verifier = value(&keys.verifier_keyset().to_json());
        let mut dup = verifier.clone();
        dup["keys"][1]["id"] = dup["keys"][0]["id"].clone();
        assert!(format_message(VerifierKeyset::from_json(&dup.to_string())).contains("duplicate"));
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let json = format!("{}{}", keys_json(), " ".repeat(MAX_KEYSET_FILE_LEN));
        assert!(format_message(Keyset::from_json(&json)).contains("larger than"));
        assert!(format_message(VerifierKeyset::from_json(&json)).contains("larger than"));
    }

    fn keys_json() -> String {
        Keyset::generate().to_json().to_string()
    }

    #[test]
    fn truncated_or_corrupt_files_are_errors_that_quote_no_key_material() {
        let keys = sample();
        let json = keys.to_json();
        let secrets: Vec<String> = value(&json)["keys"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|k| [k["signing_key"].clone(), k["encryption_key"].clone()])
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        for len in 0..json.trim_end().len() {
            let err = Keyset::from_json(&json[..len]).unwrap_err();
            assert!(matches!(err, Error::KeysetFormat(_)), "len {len}: {err:?}");
        }
        assert!(format_message(Keyset::from_json(&json[..json.len() / 2])).contains("truncated"));
        // A secret pasted into the wrong place must not be echoed back.
        let secret = secrets[0].clone();
        for edit in [
            json!({"state": secret}),
            json!({"id": secret}),
            json!({ secret.clone(): 1 }),
        ] {
            let doc = edited(&keys, |doc| {
                for (field, v) in edit.as_object().unwrap() {
                    doc["keys"][0][field] = v.clone();
                }
            });
            let message = Keyset::from_json(&doc).unwrap_err().to_string();
            for s in &secrets {
                assert!(!message.contains(s.as_str()), "{message}");
            }
        }
        let garbage = json.replace("\"keys\"", "\"keys\" x");
        assert!(format_message(Keyset::from_json(&garbage)).contains("not valid JSON"));
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tessera-keyfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn save_and_load_files() {
        let dir = scratch("files");
        let keys = sample();
        let path = dir.join("keys.json");
        keys.save(&path).unwrap();
        assert_eq!(Keyset::load(&path).unwrap().key_info(), keys.key_info());
        let vpath = dir.join("verifier.json");
        keys.verifier_keyset().save(&vpath).unwrap();
        assert_eq!(
            VerifierKeyset::load(&vpath).unwrap().key_info(),
            keys.key_info()
        );
        assert_eq!(VerifierKeyset::load(&path).err(), Some(Error::IssuerKeyset));
        let missing = dir.join("missing.json");
        assert_eq!(
            Keyset::load(&missing).err(),
            Some(Error::File {
                path: missing.clone(),
                kind: std::io::ErrorKind::NotFound,
                message: File::open(&missing).unwrap_err().to_string(),
            })
        );
        assert_eq!(
            VerifierKeyset::load(&dir).err(),
            Some(Error::File {
                path: dir.clone(),
                kind: std::io::ErrorKind::IsADirectory,
                message: "is a directory".to_string(),
            })
        );
        let big = dir.join("big.json");
        crate::files::save(&big, &vec![b' '; MAX_KEYSET_FILE_LEN + 1]).unwrap();
        assert!(format_message(VerifierKeyset::load(&big)).contains("larger than"));
        // Exactly at the limit is read (and then found not to be a keyset).
        crate::files::save(&big, &vec![b' '; MAX_KEYSET_FILE_LEN]).unwrap();
        let why = format_message(VerifierKeyset::load(&big));
        assert!(why.contains("truncated JSON"), "{why}");
        let binary = dir.join("binary.json");
        crate::files::save(&binary, &[0xff, 0xfe]).unwrap();
        assert!(format_message(Keyset::load(&binary)).contains("UTF-8"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What an operator reads: the file's name, then the operating system's
    /// own message.
    #[test]
    fn io_errors_name_the_file_and_keep_the_os_message() {
        let dir = scratch("io-errors");
        let missing = dir.join("missing.json");
        let os_message = File::open(&missing).unwrap_err().to_string();
        let expected = format!("{}: {os_message}", missing.display());
        assert_eq!(Keyset::load(&missing).unwrap_err().to_string(), expected);
        assert_eq!(
            VerifierKeyset::load(&missing).unwrap_err().to_string(),
            expected
        );
        // A path under a regular file cannot be created.
        let file = dir.join("file");
        std::fs::write(&file, b"").unwrap();
        let nested = file.join("keys.json");
        let os_message = File::create(&nested).unwrap_err().to_string();
        let expected = format!("{}: {os_message}", nested.display());
        assert_eq!(
            Keyset::generate().save(&nested).unwrap_err().to_string(),
            expected
        );
        assert_eq!(
            Keyset::generate()
                .verifier_keyset()
                .save(&nested)
                .unwrap_err()
                .to_string(),
            expected
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn save_through_a_symbolic_link_replaces_its_target() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = scratch("link");
        std::fs::create_dir_all(dir.join("real")).unwrap();
        let real = dir.join("real").join("issuer.json");
        let link = dir.join("link.json");
        Keyset::generate().save(&real).unwrap();
        symlink("real/issuer.json", &link).unwrap();
        let mut keys = Keyset::load(&link).unwrap();
        let added = keys.add();
        keys.save(&link).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(Keyset::load(&real).unwrap().key_info(), keys.key_info());
        assert!(Keyset::load(&real).unwrap().key_ids().contains(&added));
        let mode = std::fs::metadata(&real).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // An edit through the link locks next to the target, so that editors
        // using the link and the real name exclude each other.
        let edited = Keyset::edit(&link, |keys| Ok::<_, Error>(keys.add())).unwrap();
        assert!(Keyset::load(&real).unwrap().key_ids().contains(&edited));
        assert!(dir.join("real").join("issuer.json.lock").is_file());
        assert!(!dir.join("link.json.lock").exists());
        let vreal = dir.join("real").join("verifier.json");
        let vlink = dir.join("verifier.json");
        symlink(&vreal, &vlink).unwrap();
        keys.verifier_keyset().save(&vlink).unwrap();
        assert!(std::fs::symlink_metadata(&vlink)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            VerifierKeyset::load(&vreal).unwrap().key_info(),
            keys.key_info()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn edit_saves_what_changed_under_the_lock() {
        let dir = scratch("edit");
        let path = dir.join("keys.json");
        let keys = Keyset::generate();
        keys.save(&path).unwrap();
        let added = Keyset::edit(&path, |keys| Ok::<_, Error>(keys.add())).unwrap();
        let now = Keyset::load(&path).unwrap();
        assert_eq!(now.key_ids().len(), 2);
        assert!(now.key_ids().contains(&added));
        assert_eq!(now.primary(), keys.primary());
        // A failed change writes nothing and its error comes back as is.
        let before = std::fs::read(&path).unwrap();
        let err = Keyset::edit(&path, |keys| {
            keys.add();
            keys.retire(keys.primary())
        });
        assert_eq!(err, Err(Error::PrimaryKey));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // A change that changes nothing does not rewrite the file (a save
        // would put a new file, with a new inode, in its place).
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let inode = |p: &Path| std::fs::metadata(p).unwrap().ino();
            let first = inode(&path);
            let unchanged = Keyset::edit(&path, |keys| keys.promote(keys.primary()));
            assert_eq!(unchanged, Ok(()));
            assert_eq!(inode(&path), first);
            Keyset::edit(&path, |keys| Ok::<_, Error>(keys.add())).unwrap();
            assert_ne!(inode(&path), first);
        }
        let before = std::fs::read(&path).unwrap();
        // Another editor holds the lock: a clear error, nothing written.
        let lock = crate::files::lock_for_edit(&path, Duration::ZERO).unwrap();
        let busy = edit_with_wait(&path, Duration::ZERO, |keys| Ok::<_, Error>(keys.add()));
        assert!(
            matches!(&busy, Err(Error::File { path: p, kind: std::io::ErrorKind::WouldBlock, .. }) if *p == path),
            "{busy:?}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
        drop(lock);
        // A missing keyset is an error naming it, and leaves no lock file.
        let missing = dir.join("missing.json");
        let err = Keyset::edit(&missing, |keys| Ok::<_, Error>(keys.add())).unwrap_err();
        assert_eq!(
            err,
            Error::File {
                path: missing.clone(),
                kind: std::io::ErrorKind::NotFound,
                message: File::open(&missing).unwrap_err().to_string(),
            }
        );
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["keys.json", "keys.json.lock"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_edits_from_threads_lose_no_update() {
        let dir = scratch("edit-threads");
        let path = dir.join("keys.json");
        Keyset::generate().save(&path).unwrap();
        let added: Vec<KeyId> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| Keyset::edit(&path, |keys| Ok::<_, Error>(keys.add()))))
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap().unwrap())
                .collect()
        });
        let held = Keyset::load(&path).unwrap().key_ids();
        assert_eq!(held.len(), 9);
        for id in added {
            assert!(held.contains(&id), "key {id} lost");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn secret_keysets_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("modes");
        let keys = Keyset::generate();
        let path = dir.join("keys.json");
        keys.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        for shared in [0o644, 0o640, 0o604, 0o620] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(shared)).unwrap();
            let err = Keyset::load(&path).unwrap_err();
            assert_eq!(
                err,
                Error::InsecurePermissions {
                    path: path.clone(),
                    mode: shared
                }
            );
            let message = err.to_string();
            assert!(message.contains(&format!("{:04o}", shared)), "{message}");
            assert!(
                message.contains(&format!("chmod 600 {}", path.display())),
                "{message}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(Keyset::load(&path).is_ok());
        // Verifier keysets hold the decryption keys: just as private.
        let vpath = dir.join("verifier.json");
        keys.verifier_keyset().save(&vpath).unwrap();
        let mode = std::fs::metadata(&vpath).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        for shared in [0o644, 0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o440] {
            std::fs::set_permissions(&vpath, std::fs::Permissions::from_mode(shared)).unwrap();
            let err = VerifierKeyset::load(&vpath).unwrap_err();
            let message = err.to_string();
            assert_eq!(
                err,
                Error::InsecurePermissions {
                    path: vpath.clone(),
                    mode: shared
                }
            );
            assert!(
                message.contains(&format!("chmod 600 {}", vpath.display())),
                "{message}"
            );
            assert!(!message.contains("signing"), "{message}");
        }
        std::fs::set_permissions(&vpath, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(VerifierKeyset::load(&vpath).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failed_save_leaves_the_previous_file_intact() {
        let dir = scratch("failed-save");
        let path = dir.join("keys.json");
        let keys = Keyset::generate();
        keys.save(&path).unwrap();
        let before = std::fs::read(&path).unwrap();
        // A path whose parent is a file cannot be written, even by root.
        let nested = path.join("nested.json");
        assert!(matches!(
            Keyset::generate().save(&nested),
            Err(Error::File { path, kind: std::io::ErrorKind::NotADirectory, .. })
                if path == nested
        ));
        // Renaming over a non-empty folder fails after the temporary file is written.
        let taken = dir.join("taken");
        std::fs::create_dir_all(taken.join("inner")).unwrap();
        assert!(matches!(
            Keyset::generate().save(&taken),
            Err(Error::File { path, .. }) if path == taken
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            2,
            "no temporary files left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
