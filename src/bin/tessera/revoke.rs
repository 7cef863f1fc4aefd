//! `revoke`: add a session to a revocation snapshot file.

use std::path::Path;

use tessera::{
    Error, RevocationFilter, SessionId, DEFAULT_REVOCATION_CAPACITY, DEFAULT_REVOCATION_FP_RATE,
    MAX_LEEWAY,
};

use crate::failure::Failure;
use crate::io;
use crate::time::{now_or, utc};
use crate::tokens::{verifier, RawData};

/// Which session to revoke.
pub enum Target<'a> {
    /// A currently valid token, verified with a keyset.
    Token {
        token: &'a str,
        keys: &'a Path,
        audience: Option<&'a str>,
    },
    /// A session id and its deadline.
    Id { hex: &'a str, deadline: u64 },
}

/// Revokes `target` in the snapshot at `filter` (a new one if the file does
/// not exist), drops revocations that have passed, and saves it atomically.
pub fn revoke(filter: &Path, target: &Target<'_>, now: Option<u64>) -> Result<(), Failure> {
    let now = now_or(now);
    let (id, deadline) = match target {
        Target::Token {
            token,
            keys,
            audience,
        } => {
            io::one_stdin(keys, token)?;
            let token = io::read_token(token)?;
            let verifier = verifier(keys, *audience, None)?;
            let session = token
                .text()
                .and_then(|token| verifier.verify_at::<RawData>(token, now))
                .map_err(|e| Failure::token(&e))?;
            (session.id(), session.deadline())
        }
        Target::Id { hex, deadline } => {
            let id = SessionId::from_hex(hex)
                .map_err(|_| Failure::usage("--id must be 32 hex digits"))?;
            (id, *deadline)
        }
    };
    if deadline.saturating_add(MAX_LEEWAY.as_secs()) < now {
        return io::println(format_args!(
            "session {} passed its deadline at {}: no verifier accepts it, nothing to revoke",
            id.to_hex(),
            utc(deadline)
        ));
    }
    let snapshot = match RevocationFilter::load(filter) {
        Ok(snapshot) => snapshot,
        Err(Error::Io(std::io::ErrorKind::NotFound)) => {
            RevocationFilter::new(DEFAULT_REVOCATION_CAPACITY, DEFAULT_REVOCATION_FP_RATE)
        }
        Err(e) => return Err(Failure::file(filter, &e)),
    };
    snapshot.revoke(id, deadline);
    snapshot.prune(now);
    snapshot
        .save(filter)
        .map_err(|e| Failure::file(filter, &e))?;
    io::println(format_args!(
        "revoked session {} until {}",
        id.to_hex(),
        utc(deadline)
    ))
}
