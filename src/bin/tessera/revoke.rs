//! `revoke`: add a session, or a subject ("log out everywhere"), to a
//! revocation snapshot file, to the fleet's Redis feed, or both.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tessera::{
    Error, RevocationFilter, SessionId, SubjectRevocations, DEFAULT_REVOCATION_CAPACITY,
    DEFAULT_REVOCATION_FP_RATE, DEFAULT_SUBJECT_CAPACITY, MAX_LEEWAY,
};

use crate::failure::Failure;
use crate::fleet::{self, Feed};
use crate::io;
use crate::time::{now_or, utc};
use crate::tokens::{verifier, RawData};

/// The maximum lifetime `revoke --id` and `--subject` assume without
/// `--max-lifetime`: the library's default policy's (and `issue`'s).
const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Which sessions to revoke.
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
    /// Every session of a subject issued before `before` (default now).
    Subject {
        name: &'a str,
        before: Option<u64>,
        max_lifetime: Option<Duration>,
    },
}

/// Where the revocation goes: a snapshot file, the fleet's feed, or both.
pub struct Destination<'a> {
    pub filter: Option<&'a Path>,
    pub feed: Option<Feed<'a>>,
}

/// The file subject revocations are kept in, next to the snapshot `filter`:
/// `FILE.subjects`.
pub fn subjects_file(filter: &Path) -> PathBuf {
    let mut name = filter.as_os_str().to_owned();
    name.push(".subjects");
    PathBuf::from(name)
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

/// Revokes `target` in the snapshot at `to.filter` (a new one if the file
/// does not exist; passed revocations are dropped; saved atomically) and/or
/// publishes it to `to.feed`.
pub fn revoke(to: &Destination<'_>, target: &Target<'_>, now: Option<u64>) -> Result<(), Failure> {
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
        Target::Subject {
            name,
            before,
            max_lifetime,
        } => return revoke_subject(to, name, before.unwrap_or(now), *max_lifetime, now),
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
    let mut hours = None;
    if let Some(filter) = to.filter {
        let snapshot = match RevocationFilter::load(filter) {
            Ok(snapshot) => snapshot,
            Err(Error::File {
                kind: std::io::ErrorKind::NotFound,
                ..
            }) => RevocationFilter::new(DEFAULT_REVOCATION_CAPACITY, DEFAULT_REVOCATION_FP_RATE),
            Err(e) => return Err(Failure::file(filter, &e)),
        };
        hours = Some(
            snapshot
                .revoke_deadlines(id, deadlines.clone())
                .map_err(Failure::usage)?,
        );
        snapshot.prune(now);
        snapshot
            .save(filter)
            .map_err(|e| Failure::file(filter, &e))?;
    }
    if let Some(feed) = &to.feed {
        let entry = fleet::revoke_session(feed, id, deadlines)?;
        io::println(format_args!("published as stream entry {entry}"))?;
    }
    if let Target::Id { .. } = target {
        // The deadline came from the operator, not from a verified token: say
        // what a wrong one means.
        io::println(format_args!(
            "revoked session {} if its deadline is in the hour of {} \
             (another deadline is not covered; without --deadline, --id covers any)",
            id.to_hex(),
            utc(latest)
        ))
    } else if earliest == latest {
        io::println(format_args!(
            "revoked session {} until {}",
            id.to_hex(),
            utc(latest)
        ))
    } else {
        let hours = hours.map_or_else(String::new, |h| format!(" ({h} deadline hours)"));
        io::println(format_args!(
            "revoked session {} for any deadline from {} to {}{hours}",
            id.to_hex(),
            utc(earliest),
            utc(latest)
        ))
    }
}

/// `revoke --subject NAME [--before UNIX]`.
fn revoke_subject(
    to: &Destination<'_>,
    name: &str,
    before: u64,
    max_lifetime: Option<Duration>,
    now: u64,
) -> Result<(), Failure> {
    if let Some(filter) = to.filter {
        let path = subjects_file(filter);
        let subjects = match SubjectRevocations::load(&path, DEFAULT_SUBJECT_CAPACITY) {
            Ok(subjects) => subjects,
            Err(Error::File {
                kind: std::io::ErrorKind::NotFound,
                ..
            }) => SubjectRevocations::new(DEFAULT_SUBJECT_CAPACITY),
            Err(e) => return Err(Failure::file(&path, &e)),
        };
        // The verifier's own rule for how long to keep it (default lifetime 12 h).
        let max_lifetime = max_lifetime.unwrap_or(DEFAULT_MAX_LIFETIME);
        let forget_after = SubjectRevocations::forget_after(before, max_lifetime);
        subjects
            .revoke(name, before, forget_after)
            .map_err(|e| Failure::usage(format!("--subject: {e}")))?;
        subjects.prune(now);
        subjects.save(&path).map_err(|e| Failure::file(&path, &e))?;
    }
    if let Some(feed) = &to.feed {
        let entry = fleet::revoke_subject(feed, name, before)?;
        io::println(format_args!("published as stream entry {entry}"))?;
    }
    io::println(format_args!(
        "revoked every session of subject {name:?} issued before {}",
        utc(before)
    ))
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

    #[test]
    fn subject_revocations_live_beside_the_snapshot() {
        assert_eq!(
            subjects_file(Path::new("/var/lib/app/revoked.bin")),
            PathBuf::from("/var/lib/app/revoked.bin.subjects")
        );
    }
}
