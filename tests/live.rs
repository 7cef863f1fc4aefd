//! A server that runs while keys rotate: `LiveVerifier` and `LiveIssuer`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::thread;

use tessera::{Error, Issuer, KeyId, Keyset, LiveIssuer, LiveVerifier, Policy};

/// Key id of a token, read through a verifier that knows every key.
fn key_id_of(verifier: &LiveVerifier, token: &str) -> KeyId {
    verifier.verify::<()>(token).unwrap().key_id()
}

/// Rotates a thousand times while two threads verify without pause. Each
/// rotation is the fleet's two steps: verifiers learn the new key (old + new),
/// the issuer is switched to it, then the old key is retired (new only).
///
/// The verifying threads check, on every pass, every token in `must_accept`:
/// tokens valid under every keyset installed while they are in the list (the
/// token of the key that both neighbouring keysets hold). A token is added
/// only after the keyset with its key is in place, and removed before the
/// keyset without it goes in; the lock makes "removed" mean no thread is still
/// checking it.
#[test]
fn verification_never_fails_across_a_thousand_rotations() {
    const ROTATIONS: usize = 1_000;
    let policy = Policy::default();
    let mut master = Keyset::generate();
    let issuer = LiveIssuer::new(Issuer::new(master.clone(), policy.clone()));
    let live = LiveVerifier::new(issuer.current().verifier());
    let first = issuer.current().issue("user-0", &()).unwrap();
    let must_accept = Arc::new(RwLock::new(vec![first.clone()]));
    let stop = Arc::new(AtomicBool::new(false));
    let verified = Arc::new(AtomicUsize::new(0));

    let checkers: Vec<_> = (0..2)
        .map(|_| {
            let (live, must_accept) = (live.clone(), Arc::clone(&must_accept));
            let (stop, verified) = (Arc::clone(&stop), Arc::clone(&verified));
            thread::spawn(move || {
                let mut mine = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let tokens = must_accept.read().unwrap();
                    for token in tokens.iter() {
                        if let Err(e) = live.verify::<()>(token) {
                            panic!("a token valid under both keysets was rejected: {e}");
                        }
                        mine += 1;
                    }
                }
                verified.fetch_add(mine, Ordering::Relaxed);
                mine
            })
        })
        .collect();

    let mut old_token = first;
    let mut old_id = master.primary();
    for round in 0..ROTATIONS {
        // 1. Verifiers learn the new key (old + new).
        let new_id = master.add();
        live.set_keys(master.verifier_keyset());
        // 2. The issuer signs with it: tokens issued right after carry it.
        master.promote(new_id).unwrap();
        issuer.set_keys(master.clone());
        let new_token = issuer
            .current()
            .issue(&format!("user-{round}"), &())
            .unwrap();
        assert_eq!(key_id_of(&live, &new_token), new_id);
        must_accept.write().unwrap().push(new_token.clone());
        // 3. The old key's tokens are withdrawn, then the key is retired (new only).
        must_accept.write().unwrap().retain(|t| *t != old_token);
        master.retire(old_id).unwrap();
        live.set_keys(master.verifier_keyset());
        assert_eq!(
            live.verify::<()>(&old_token).err(),
            Some(Error::UnknownKey),
            "a retired key's token verified after the swap that dropped it"
        );
        assert_eq!(live.current().key_ids(), vec![new_id]);
        old_token = new_token;
        old_id = new_id;
    }
    stop.store(true, Ordering::Relaxed);
    let per_thread: Vec<usize> = checkers.into_iter().map(|h| h.join().unwrap()).collect();
    println!(
        "{ROTATIONS} rotations ({} key swaps), {} verifications by the checking threads {per_thread:?}",
        2 * ROTATIONS,
        verified.load(Ordering::Relaxed)
    );
    assert!(
        per_thread.iter().all(|&n| n > 0),
        "a checking thread never ran: {per_thread:?}"
    );
}

#[test]
fn revocations_survive_key_swaps() {
    let mut keys = Keyset::generate();
    let issuer = Issuer::new(keys.clone(), Policy::default());
    let live = LiveVerifier::new(issuer.verifier());
    let token = issuer.issue("alice", &()).unwrap();
    let session = live.verify::<()>(&token).unwrap();
    live.revoke(&session);
    keys.add();
    live.set_keys(keys.verifier_keyset());
    assert_eq!(live.verify::<()>(&token).err(), Some(Error::Revoked));
    assert!(live
        .current()
        .revocations()
        .is_revoked(session.id(), session.deadline()));
}

#[cfg(feature = "json")]
mod files {
    use super::*;
    use std::path::PathBuf;
    use tessera::VerifierKeyset;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tessera-live-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn verifier_reload_swaps_only_on_change_and_keeps_keys_on_bad_files() {
        let dir = scratch("verifier");
        let path = dir.join("verifier.json");
        let mut keys = Keyset::generate();
        let issuer = Issuer::new(keys.clone(), Policy::default());
        let live = LiveVerifier::new(issuer.verifier());
        let old_token = issuer.issue("alice", &()).unwrap();

        keys.verifier_keyset().save(&path).unwrap();
        assert_eq!(live.reload_keys(&path), Ok(false), "same keys: no swap");

        let next = keys.add();
        keys.verifier_keyset().save(&path).unwrap();
        assert_eq!(live.reload_keys(&path), Ok(true));
        assert_eq!(live.reload_keys(&path), Ok(false));
        keys.promote(next).unwrap();
        let new_token = Issuer::new(keys.clone(), Policy::default())
            .issue("bob", &())
            .unwrap();
        assert_eq!(live.verify::<()>(&new_token).unwrap().key_id(), next);

        // A half-written file, an issuer keyset and a missing file are errors
        // and leave the keys in place.
        let good = std::fs::read_to_string(&path).unwrap();
        let half = dir.join("half.json");
        std::fs::write(&half, &good[..good.len() / 2]).unwrap();
        set_private(&half);
        assert!(matches!(
            live.reload_keys(&half),
            Err(Error::KeysetFormat(_))
        ));
        let issuer_file = dir.join("issuer.json");
        keys.save(&issuer_file).unwrap();
        assert_eq!(live.reload_keys(&issuer_file), Err(Error::IssuerKeyset));
        assert!(live.reload_keys(dir.join("missing.json")).is_err());
        assert!(live.verify::<()>(&old_token).is_ok());
        assert!(live.verify::<()>(&new_token).is_ok());

        // Retiring the old key in the file reaches the running verifier.
        let old = keys.key_ids().into_iter().find(|&id| id != next).unwrap();
        keys.retire(old).unwrap();
        keys.verifier_keyset().save(&path).unwrap();
        assert_eq!(live.reload_keys(&path), Ok(true));
        assert_eq!(live.verify::<()>(&old_token).err(), Some(Error::UnknownKey));
        assert_eq!(VerifierKeyset::load(&path).unwrap().key_ids(), vec![next]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn issuer_reload_signs_with_the_promoted_key_and_never_loses_its_primary() {
        let dir = scratch("issuer");
        let path = dir.join("issuer.json");
        let mut keys = Keyset::generate();
        let first = keys.primary();
        keys.save(&path).unwrap();
        let live = LiveIssuer::new(Issuer::new(keys.clone(), Policy::default()));
        let everything = LiveVerifier::new(live.current().verifier());
        assert_eq!(live.reload_keys(&path), Ok(false));

        // Operator: `tessera add`, ship, then `tessera promote` on the file.
        let next = keys.add();
        everything.set_keys(keys.verifier_keyset());
        keys.promote(next).unwrap();
        keys.save(&path).unwrap();
        assert_eq!(live.reload_keys(&path), Ok(true));
        let token = live.current().issue("alice", &()).unwrap();
        assert_eq!(everything.verify::<()>(&token).unwrap().key_id(), next);

        // A verifier keyset (no signing keys) or garbage is refused; the
        // issuer keeps signing with its primary.
        let verifier_file = dir.join("verifier.json");
        keys.verifier_keyset().save(&verifier_file).unwrap();
        assert!(live.reload_keys(&verifier_file).is_err());
        let garbage = dir.join("garbage.json");
        std::fs::write(&garbage, "{\"version\":").unwrap();
        set_private(&garbage);
        assert!(live.reload_keys(&garbage).is_err());
        let token = live.current().issue("bob", &()).unwrap();
        assert_eq!(everything.verify::<()>(&token).unwrap().key_id(), next);
        assert_ne!(first, next);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn set_private(path: &std::path::Path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let _ = path;
    }
}
