//! Key types and keysets: the issuing half ([`Keyset`]) and the verifying half
//! ([`VerifierKeyset`]), and rotation.
//!
//! Each key id names a *pair* of keys: an Ed25519 signing key (only the issuer
//! holds it) and a 256-bit XChaCha20-Poly1305 key (issuer and verifiers hold it).
//! Rotation follows Tink: [`Keyset::add`] a key that verifies but does not sign,
//! ship the verifier keyset, then [`Keyset::promote`] it. Secret bytes live only
//! in types that zeroize on drop, and `Debug` prints key ids, never key bytes.

use core::fmt;
use std::time::Duration;

use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use zeroize::Zeroizing;

use crate::ed25519::{Ed25519Signer, StrictVerifyingKey};
use crate::os::{os_random_or_panic, unix_now, MAX_LEEWAY};
use crate::Error;

/// Names one key pair in a keyset; it travels in every token's header.
///
/// Key ids are drawn at random, like Tink's, so that keysets merged or
/// generated on different machines do not collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The life-cycle state of one key in a keyset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Signs new tokens and verifies. Exactly one key is primary.
    Primary,
    /// Verifies tokens but does not sign.
    Enabled,
    /// Kept in the keyset but neither signs nor verifies.
    Disabled,
}

/// Metadata about one key: never key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's id.
    pub id: KeyId,
    /// Its state.
    pub state: KeyState,
    /// When it was created (unix seconds).
    pub created_at: u64,
    /// When it last stopped being the primary (unix seconds), if it ever was.
    /// A key may be retired once every token it signed has passed its
    /// deadline, i.e. after `demoted_at + max_lifetime + leeway`.
    pub demoted_at: Option<u64>,
}

/// A 256-bit XChaCha20-Poly1305 key with its ready-to-use cipher. Both halves
/// zeroize on drop (the cipher through chacha20poly1305's `zeroize` feature).
///
/// Both live on the heap, each at one address for the key's whole life:
/// moving the key (as a `Vec` of keys does when it grows, shifts or sorts)
/// moves only pointers, so no unzeroized copy is left in memory the vector
/// freed or reused. The key bytes are written straight into their heap
/// buffer.
pub(crate) struct EncryptionKey {
    bytes: Box<Zeroizing<[u8; 32]>>,
    pub(crate) cipher: Box<XChaCha20Poly1305>,
}

impl EncryptionKey {
    /// A key holding a copy of `bytes`, written straight into its heap buffer.
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut boxed = Box::new(Zeroizing::new([0u8; 32]));
        boxed.copy_from_slice(bytes);
        EncryptionKey::with_bytes(boxed)
    }

    fn generate() -> Self {
        let mut bytes = Box::new(Zeroizing::new([0u8; 32]));
        os_random_or_panic(bytes.as_mut_slice());
        EncryptionKey::with_bytes(bytes)
    }

    fn with_bytes(bytes: Box<Zeroizing<[u8; 32]>>) -> Self {
        let cipher = Box::new(XChaCha20Poly1305::new((&**bytes).into()));
        EncryptionKey { bytes, cipher }
    }

    /// Where the key bytes and the cipher (which holds its own copy of them)
    /// live, for tests that check they never move.
    #[cfg(test)]
    pub(crate) fn secret_addresses(&self) -> [usize; 2] {
        [
            self.bytes.as_ptr() as usize,
            core::ptr::from_ref::<XChaCha20Poly1305>(&self.cipher) as usize,
        ]
    }

    /// The raw key bytes, for explicit export only.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl Clone for EncryptionKey {
    /// A copy in new heap buffers, written in place.
    fn clone(&self) -> Self {
        EncryptionKey::from_bytes(self.as_bytes())
    }
}

/// One key pair on the issuing side.
#[derive(Clone)]
pub(crate) struct IssuerKey {
    pub(crate) info: KeyInfo,
    pub(crate) signing: Ed25519Signer,
    pub(crate) encryption: EncryptionKey,
}

impl IssuerKey {
    fn generate(id: KeyId, state: KeyState) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        os_random_or_panic(seed.as_mut());
        IssuerKey {
            info: KeyInfo {
                id,
                state,
                created_at: unix_now(),
                demoted_at: None,
            },
            signing: Ed25519Signer::from_bytes(&seed),
            encryption: EncryptionKey::generate(),
        }
    }
}

/// One key on the verifying side: the Ed25519 public key and the decryption key.
#[derive(Clone)]
pub(crate) struct VerifierKey {
    pub(crate) info: KeyInfo,
    pub(crate) verifying: StrictVerifyingKey,
    pub(crate) encryption: EncryptionKey,
}

/// The issuing side's keyset: Ed25519 signing keys and encryption keys, with
/// exactly one primary that signs new tokens.
///
/// ```
/// use tessera::Keyset;
///
/// let mut keys = Keyset::generate();
/// let first = keys.primary();
/// let next = keys.add();            // verifies, does not sign yet
/// keys.promote(next)?;              // now it signs
/// keys.retire(first)?;              // tokens under `first` stop verifying
/// assert_eq!(keys.key_ids(), vec![next]);
/// # Ok::<(), tessera::Error>(())
/// ```
#[derive(Clone)]
pub struct Keyset {
    /// Sorted by id; ids are unique.
    keys: Vec<IssuerKey>,
    primary: KeyId,
}

impl Keyset {
    /// A keyset with one fresh primary key drawn from the OS random number generator.
    ///
    /// # Panics
    ///
    /// Panics if the operating system's random number generator fails, as key
    /// generation in every mainstream crypto library does: there is no safe
    /// fallback.
    pub fn generate() -> Keyset {
        let id = KeyId(random_key_id());
        Keyset {
            keys: vec![IssuerKey::generate(id, KeyState::Primary)],
            primary: id,
        }
    }

    /// Adds a fresh key that verifies but does not sign, and returns its id.
    /// Ship the [`VerifierKeyset`] to every verifier, then [`promote`](Self::promote) it.
    ///
    /// # Panics
    ///
    /// Panics if the operating system's random number generator fails,
    /// including if it draws 64 ids in a row that are already
    /// in use (a stuck generator), rather than looping forever.
    pub fn add(&mut self) -> KeyId {
        for _ in 0..ADD_ATTEMPTS {
            let id = KeyId(random_key_id());
            if self.position(id).is_none() {
                self.insert(IssuerKey::generate(id, KeyState::Enabled));
                return id;
            }
        }
        panic!(
            "the OS random number generator drew {ADD_ATTEMPTS} key ids in a row that are in use"
        );
    }

    /// Makes `id` the primary: new tokens are signed with it. The former primary
    /// keeps verifying and records when it stopped being primary.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKey`] if `id` is not in the keyset; [`Error::DisabledKey`]
    /// if it is disabled (verifiers would reject what it signs:
    /// [`enable`](Self::enable) it and ship the verifier keyset first).
    pub fn promote(&mut self, id: KeyId) -> Result<(), Error> {
        let new = self.position(id).ok_or(Error::UnknownKey)?;
        if id == self.primary {
            return Ok(());
        }
        if self.keys[new].info.state == KeyState::Disabled {
            return Err(Error::DisabledKey);
        }
        let now = unix_now();
        if let Some(old) = self.position(self.primary) {
            self.keys[old].info.state = KeyState::Enabled;
            self.keys[old].info.demoted_at = Some(now);
        }
        self.keys[new].info.state = KeyState::Primary;
        self.primary = id;
        Ok(())
    }

    /// Adds a key and promotes it at once; older keys keep verifying. In a fleet,
    /// prefer [`add`](Self::add), ship the verifier keyset, then [`promote`](Self::promote).
    ///
    /// # Panics
    ///
    /// Panics if the operating system's random number generator fails.
    pub fn rotate(&mut self) -> KeyId {
        let id = self.add();
        // `id` was just added, so promotion cannot fail.
        let _ = self.promote(id);
        id
    }

    /// Removes key `id`: tokens signed with it stop verifying at once. Retire a
    /// key only after every token it signed has passed its deadline.
    ///
    /// # Errors
    ///
    /// [`Error::PrimaryKey`] if `id` is the primary; [`Error::UnknownKey`] if it
    /// is not in the keyset.
    pub fn retire(&mut self, id: KeyId) -> Result<(), Error> {
        if id == self.primary {
            return Err(Error::PrimaryKey);
        }
        let at = self.position(id).ok_or(Error::UnknownKey)?;
        self.keys.remove(at);
        Ok(())
    }

    /// Disables key `id`: it stays in the keyset but tokens signed with it stop
    /// verifying (once verifiers have the new verifier keyset), until it is
    /// [`enable`](Self::enable)d again. Disabling a disabled key does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::PrimaryKey`] if `id` is the primary; [`Error::UnknownKey`] if it
    /// is not in the keyset.
    pub fn disable(&mut self, id: KeyId) -> Result<(), Error> {
        self.set_state(id, KeyState::Disabled)
    }

    /// Enables a disabled key `id` again: it verifies, and may be promoted.
    /// Enabling an enabled key or the primary does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKey`] if `id` is not in the keyset.
    pub fn enable(&mut self, id: KeyId) -> Result<(), Error> {
        self.set_state(id, KeyState::Enabled)
    }

    /// Retires every key whose tokens have all passed their deadline, as of
    /// `now` (unix seconds), and returns what it removed.
    ///
    /// A key qualifies when it is not the primary and stopped being primary
    /// more than `max_lifetime` + [`MAX_LEEWAY`] ago: the last token it signed
    /// had its deadline at most `max_lifetime` after that, and no verifier
    /// accepts a token more than the leeway past its deadline. Keys that were
    /// never primary signed nothing, but they are kept: they are usually keys
    /// [`add`](Self::add)ed and shipped, waiting to be promoted.
    ///
    /// `max_lifetime` must be the longest maximum lifetime any issuer used with
    /// this keyset, plus the time your fleet takes to pick up a new keyset (an
    /// issuer still holding the old file signs with the old primary).
    pub fn prune(&mut self, max_lifetime: Duration, now: u64) -> Vec<KeyInfo> {
        let wait = max_lifetime.as_secs().saturating_add(MAX_LEEWAY.as_secs());
        let primary = self.primary;
        let expired = |info: &KeyInfo| {
            info.id != primary
                && info
                    .demoted_at
                    .is_some_and(|at| at.saturating_add(wait) < now)
        };
        let removed = self
            .keys
            .iter()
            .map(|k| k.info)
            .filter(|info| expired(info))
            .collect();
        self.keys.retain(|k| !expired(&k.info));
        removed
    }

    /// The id of the key that signs new tokens.
    pub fn primary(&self) -> KeyId {
        self.primary
    }

    /// Every key id in the keyset, ascending.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.keys.iter().map(|k| k.info.id).collect()
    }

    /// Metadata of every key (state, creation and demotion times), ascending by id.
    pub fn key_info(&self) -> Vec<KeyInfo> {
        self.keys.iter().map(|k| k.info).collect()
    }

    /// The verifying half: Ed25519 public keys and the decryption keys. It holds
    /// no signing secret and cannot issue tokens.
    pub fn verifier_keyset(&self) -> VerifierKeyset {
        VerifierKeyset {
            keys: self
                .keys
                .iter()
                .map(|k| VerifierKey {
                    info: k.info,
                    verifying: k.signing.verifying_key(),
                    encryption: k.encryption.clone(),
                })
                .collect(),
        }
    }

    /// Builds a keyset from raw parts, checking every invariant: unique ids,
    /// exactly one primary (the one named), sound Ed25519 keys.
    #[cfg_attr(not(any(feature = "test-util", feature = "json")), allow(dead_code))]
    pub(crate) fn from_parts(keys: Vec<IssuerKey>) -> Result<Keyset, Error> {
        let mut primary = None;
        for key in &keys {
            StrictVerifyingKey::from_bytes(key.signing.verifying_key().as_bytes())?;
            if key.info.state == KeyState::Primary {
                if primary.is_some() {
                    return Err(Error::PrimaryKey);
                }
                primary = Some(key.info.id);
            }
        }
        let primary = primary.ok_or(Error::PrimaryKey)?;
        let mut set = Keyset {
            keys: Vec::with_capacity(keys.len()),
            primary,
        };
        for key in keys {
            if set.position(key.info.id).is_some() {
                return Err(Error::UnknownKey);
            }
            set.insert(key);
        }
        Ok(set)
    }

    /// Every key pair, ascending by id.
    #[cfg(feature = "json")]
    pub(crate) fn issuer_keys(&self) -> &[IssuerKey] {
        &self.keys
    }

    /// The primary key pair.
    pub(crate) fn primary_key(&self) -> Option<&IssuerKey> {
        self.position(self.primary).and_then(|i| self.keys.get(i))
    }

    fn position(&self, id: KeyId) -> Option<usize> {
        self.keys.binary_search_by_key(&id, |k| k.info.id).ok()
    }

    /// Moves a non-primary key between [`KeyState::Enabled`] and
    /// [`KeyState::Disabled`]; the primary may only be "enabled" (a no-op).
    fn set_state(&mut self, id: KeyId, state: KeyState) -> Result<(), Error> {
        let at = self.position(id).ok_or(Error::UnknownKey)?;
        if id == self.primary {
            return match state {
                KeyState::Disabled => Err(Error::PrimaryKey),
                _ => Ok(()),
            };
        }
        self.keys[at].info.state = state;
        Ok(())
    }

    fn insert(&mut self, key: IssuerKey) {
        let at = self
            .keys
            .binary_search_by_key(&key.info.id, |k| k.info.id)
            .unwrap_or_else(|at| at);
        self.keys.insert(at, key);
    }
}

impl fmt::Debug for Keyset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyset")
            .field("primary", &self.primary)
            .field("keys", &self.key_ids())
            .finish_non_exhaustive()
    }
}

/// The verifying half of a keyset: Ed25519 public keys and XChaCha20-Poly1305
/// decryption keys. It cannot issue tokens. Disabled keys are kept but do not
/// verify.
#[derive(Clone)]
pub struct VerifierKeyset {
    /// Sorted by id; ids are unique.
    keys: Vec<VerifierKey>,
}

impl VerifierKeyset {
    /// Every key id in the keyset, ascending.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.keys.iter().map(|k| k.info.id).collect()
    }

    /// Metadata of every key, ascending by id.
    pub fn key_info(&self) -> Vec<KeyInfo> {
        self.keys.iter().map(|k| k.info).collect()
    }

    /// Every key, ascending by id.
    #[cfg(feature = "json")]
    pub(crate) fn verifier_keys(&self) -> &[VerifierKey] {
        &self.keys
    }

    /// The key that verifies tokens under `id`, if it exists and is not disabled.
    pub(crate) fn lookup(&self, id: KeyId) -> Option<&VerifierKey> {
        self.keys
            .iter()
            .find(|k| k.info.id == id && k.info.state != KeyState::Disabled)
    }

    /// Builds a verifier keyset from raw parts, rejecting duplicate ids.
    #[cfg_attr(not(feature = "json"), allow(dead_code))]
    pub(crate) fn from_parts(mut keys: Vec<VerifierKey>) -> Result<VerifierKeyset, Error> {
        keys.sort_by_key(|k| k.info.id);
        if keys.windows(2).any(|w| w[0].info.id == w[1].info.id) {
            return Err(Error::UnknownKey);
        }
        Ok(VerifierKeyset { keys })
    }
}

impl fmt::Debug for VerifierKeyset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierKeyset")
            .field("keys", &self.key_ids())
            .finish_non_exhaustive()
    }
}

/// How many fresh ids [`Keyset::add`] (or non-zero ids [`random_key_id`])
/// are drawn before concluding the random number generator is stuck, so that
/// a stuck one panics instead of looping forever. Ids are random `u32`s: with
/// a healthy generator even one collision is rare.
const ADD_ATTEMPTS: usize = 64;

/// A random non-zero key id (zero is kept free as an obviously-unset value).
fn random_key_id() -> u32 {
    for _ in 0..ADD_ATTEMPTS {
        let mut bytes = [0u8; 4];
        os_random_or_panic(&mut bytes);
        let id = u32::from_be_bytes(bytes);
        if id != 0 {
            return id;
        }
    }
    panic!("the OS random number generator drew {ADD_ATTEMPTS} zero key ids in a row");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_life_cycle() {
        let mut keys = Keyset::generate();
        let first = keys.primary();
        let second = keys.add();
        assert_eq!(keys.primary(), first, "add must not promote");
        assert_eq!(keys.key_ids().len(), 2);
        keys.promote(second).unwrap();
        assert_eq!(keys.primary(), second);
        let info = keys.key_info();
        let old = info.iter().find(|k| k.id == first).unwrap();
        assert_eq!(old.state, KeyState::Enabled);
        assert!(old.demoted_at.is_some());
        assert_eq!(keys.retire(second), Err(Error::PrimaryKey));
        keys.retire(first).unwrap();
        assert_eq!(keys.retire(first), Err(Error::UnknownKey));
        assert_eq!(keys.promote(first), Err(Error::UnknownKey));
        let third = keys.rotate();
        assert_eq!(keys.primary(), third);
        let mut ids = vec![second, third];
        ids.sort();
        assert_eq!(keys.key_ids(), ids);
    }

    #[test]
    fn disable_enable_and_promotion_of_disabled_keys() {
        let mut keys = Keyset::generate();
        let first = keys.primary();
        let second = keys.add();
        let state = |keys: &Keyset, id| keys.key_info().iter().find(|k| k.id == id).unwrap().state;
        assert_eq!(keys.disable(first), Err(Error::PrimaryKey));
        assert_eq!(keys.disable(KeyId(0)), Err(Error::UnknownKey));
        assert_eq!(keys.enable(KeyId(0)), Err(Error::UnknownKey));
        keys.disable(second).unwrap();
        keys.disable(second).unwrap();
        assert_eq!(state(&keys, second), KeyState::Disabled);
        assert_eq!(keys.promote(second), Err(Error::DisabledKey));
        assert_eq!(keys.primary(), first);
        keys.enable(first).unwrap();
        assert_eq!(state(&keys, first), KeyState::Primary);
        keys.enable(second).unwrap();
        assert_eq!(state(&keys, second), KeyState::Enabled);
        keys.promote(second).unwrap();
        assert_eq!(keys.primary(), second);
    }

    #[test]
    fn prune_retires_only_keys_demoted_long_enough_ago() {
        let mut keys = Keyset::generate();
        let old = keys.primary();
        let waiting = keys.add(); // never primary: must be kept
        let current = keys.rotate();
        let demoted = keys
            .key_info()
            .iter()
            .find(|k| k.id == old)
            .unwrap()
            .demoted_at
            .unwrap();
        let lifetime = Duration::from_secs(12 * 3600);
        let edge = demoted + 12 * 3600 + MAX_LEEWAY.as_secs();
        assert!(keys.prune(lifetime, edge).is_empty());
        assert_eq!(keys.key_ids().len(), 3);
        let removed = keys.prune(lifetime, edge + 1);
        assert_eq!(removed.iter().map(|k| k.id).collect::<Vec<_>>(), vec![old]);
        assert_eq!(removed[0].demoted_at, Some(demoted));
        let mut left = vec![waiting, current];
        left.sort();
        assert_eq!(keys.key_ids(), left);
        assert!(
            keys.prune(lifetime, u64::MAX).is_empty(),
            "primary and never-primary keys stay"
        );
    }

    #[test]
    fn debug_never_prints_key_material() {
        let keys = Keyset::generate();
        let secret = *keys.keys[0].signing.as_bytes();
        let enc = *keys.keys[0].encryption.as_bytes();
        for text in [
            format!("{keys:?}"),
            format!("{keys:#?}"),
            format!("{:?}", keys.verifier_keyset()),
        ] {
            assert!(text.contains(&keys.primary().0.to_string()));
            for needle in [
                hex(&secret),
                hex(&enc),
                format!("{secret:?}"),
                format!("{enc:?}"),
            ] {
                assert!(!text.contains(&needle), "{text} leaks key bytes");
            }
        }
    }

    /// The heap addresses of a key's four secrets: seed, expanded signing
    /// key, encryption key bytes, cipher.
    fn issuer_secrets(key: &IssuerKey) -> [usize; 4] {
        let [seed, expanded] = key.signing.secret_addresses();
        let [bytes, cipher] = key.encryption.secret_addresses();
        [seed, expanded, bytes, cipher]
    }

    /// Moving keys around (a `Vec` growing, `remove` and `retain` shifting
    /// what follows) must not move their secrets, or the old place keeps an
    /// unzeroized copy: each key's secrets stay at the address they were
    /// created at until the key is dropped.
    #[test]
    fn secret_material_never_moves() {
        use std::collections::{HashMap, HashSet};
        let mut keys = Keyset::generate();
        let mut homes: HashMap<KeyId, [usize; 4]> = HashMap::new();
        let mut clones = Vec::new();
        let mut check = |keys: &Keyset, clones: &[Keyset]| {
            for key in &keys.keys {
                let now = issuer_secrets(key);
                let home = *homes.entry(key.info.id).or_insert(now);
                assert_eq!(now, home, "key {}'s secrets moved", key.info.id);
            }
            // No two live keys (in the keyset or its clones) share memory.
            let all: Vec<usize> = [keys]
                .into_iter()
                .chain(clones)
                .flat_map(|k| k.keys.iter().flat_map(issuer_secrets))
                .collect();
            assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());
        };
        for round in 0..120 {
            match round % 6 {
                0 | 1 => {
                    keys.add();
                }
                2 => {
                    keys.rotate();
                }
                3 => {
                    // The lowest id that is not the primary: `remove` shifts
                    // every key after it.
                    let id = keys.key_ids().into_iter().find(|&id| id != keys.primary());
                    keys.retire(id.unwrap()).unwrap();
                }
                4 => clones.push(keys.clone()),
                _ => {
                    let first = keys.keys[0].info.id;
                    let _ = keys.disable(first);
                    let _ = keys.enable(first);
                }
            }
            check(&keys, &clones);
        }
        assert!(keys.keys.len() > 30, "the Vec grew several times");
        // `prune` removes with `retain`.
        let before = keys.key_ids().len();
        keys.prune(Duration::ZERO, u64::MAX);
        assert!(keys.key_ids().len() < before);
        check(&keys, &clones);
        // A keyset moved into an issuer, or dropped clones, move nothing.
        clones.truncate(1);
        let issuer = crate::Issuer::new(keys, crate::Policy::default());
        drop(issuer);
        // The verifying half has its own copies of the decryption keys, which
        // do not move either.
        let keys = clones.pop().unwrap();
        let verifier = keys.verifier_keyset();
        let homes: Vec<[usize; 2]> = verifier
            .keys
            .iter()
            .map(|k| k.encryption.secret_addresses())
            .collect();
        let copy = verifier.clone();
        let moved = Box::new(verifier);
        for (key, home) in moved.keys.iter().zip(&homes) {
            assert_eq!(key.encryption.secret_addresses(), *home);
        }
        for (key, home) in copy.keys.iter().zip(&homes) {
            assert_ne!(key.encryption.secret_addresses(), *home);
        }
        for (key, issuer_key) in moved.keys.iter().zip(&keys.keys) {
            assert_ne!(
                key.encryption.secret_addresses(),
                issuer_key.encryption.secret_addresses()
            );
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
