//! `revoke`: add a session to a revocation snapshot file.

use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use tessera::{
    Error, RevocationFilter, SessionId, DEFAULT_REVOCATION_CAPACITY, DEFAULT_REVOCATION_FP_RATE,
    MAX_LEEWAY,
};

use crate::failure::Failure;
use crate::io;
use crate::time::{now_or, utc};
use crate::tokens::{verifier, RawData};

/// The maximum lifetime `revoke --id` assumes without `--max-lifetime`: the
/// library's default policy's (and `issue`'s).
const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Which session to revoke.
pub enum Target<'a> {
    /// A currently valid token, verified with a keyset.
    Token {
        token: &'a str,
        keys: &'a Path,
        audience: Option<&'a str>,
    },
    /// A session id and its exact deadline.
    Id { hex: &'a str, deadline: u64 },
    /// A session id alone: revoked for every deadline a session alive now
    /// can have, given the longest maximum lifetime of its issuers.
    IdAlone {
        hex: &'a str,
        max_lifetime: Option<Duration>,
    },
}

fn parse_id(hex: &str) -> Result<SessionId, Failure> {
    SessionId::from_hex(hex).map_err(|_| Failure::usage("--id must be 32 hex digits"))
}

/// The deadlines a session alive at `now` can have when sessions live at
/// most `max_lifetime`: from `now` minus the largest leeway (a deadline just
/// passed that a verifier still accepts) to `now` plus the lifetime plus the
/// largest leeway (a session issued by a clock that is ahead).
pub fn deadlines_alive_at(now: u64, max_lifetime: Duration) -> RangeInclusive<u64> {
    let leeway = MAX_LEEWAY.as_secs();
    now.saturating_sub(leeway)
        ..=now
            .saturating_add(leeway)
            .saturating_add(max_lifetime.as_secs())
}

/// Revokes `target` in the snapshot at `filter` (a new one if the file does
/// not exist), drops revocations that have passed, and saves it atomically.
pub fn revoke(filter: &Path, target: &Target<'_>, now: Option<u64>) -> Result<(), Failure> {
    let now = now_or(now);
    let (id, deadlines) = match target {
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
            (session.id(), session.deadline()..=session.deadline())
        }
        Target::Id { hex, deadline } => (parse_id(hex)?, *deadline..=*deadline),
        Target::IdAlone { hex, max_lifetime } => (
            parse_id(hex)?,
            deadlines_alive_at(now, max_lifetime.unwrap_or(DEFAULT_MAX_LIFETIME)),
        ),
    };
    let (earliest, latest) = (*deadlines.start(), *deadlines.end());
    if latest.saturating_add(MAX_LEEWAY.as_secs()) < now {
        // A revocation that cannot match is an error, never a success.
        return Err(Failure::usage(format_args!(
            "session {} passed its deadline at {}: no verifier accepts it, nothing revoked \
             (without --deadline, --id revokes it whatever its deadline)",
            id.to_hex(),
            utc(latest)
        )));
    }
    let snapshot = match RevocationFilter::load(filter) {
        Ok(snapshot) => snapshot,
        Err(Error::Io(std::io::ErrorKind::NotFound)) => {
            RevocationFilter::new(DEFAULT_REVOCATION_CAPACITY, DEFAULT_REVOCATION_FP_RATE)
        }
        Err(e) => return Err(Failure::file(filter, &e)),
    };
    let hours = snapshot
        .revoke_deadlines(id, deadlines)
        .map_err(Failure::usage)?;
    snapshot.prune(now);
    snapshot
        .save(filter)
        .map_err(|e| Failure::file(filter, &e))?;
    if earliest == latest {
        io::println(format_args!(
            "revoked session {} until {}",
            id.to_hex(),
            utc(latest)
        ))
    } else {
        io::println(format_args!(
            "revoked session {} for any deadline from {} to {} ({hours} deadline hours)",
            id.to_hex(),
            utc(earliest),
            utc(latest)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_alive_now_has_its_deadline_in_the_window() {
        assert_eq!(
            deadlines_alive_at(100_000, Duration::from_secs(7200)),
            96_400..=110_800
        );
        assert_eq!(deadlines_alive_at(10, Duration::ZERO), 0..=3610);
        assert_eq!(
            deadlines_alive_at(u64::MAX - 5, Duration::from_secs(60)),
            u64::MAX - 3605..=u64::MAX
        );
    }
}
