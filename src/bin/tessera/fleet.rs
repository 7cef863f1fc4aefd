//! `--redis` on `export-verifier` and `revoke`, and `fleet status`: the
//! fleet's Redis feed. Built with the `fleet-cli` feature; without it these
//! options fail with a usage error that says so, and the binary carries no
//! tokio or Redis client.

use std::ops::RangeInclusive;

use tessera::{SessionId, VerifierKeyset};

use crate::failure::Failure;

/// Where the feed is.
pub struct Feed<'a> {
    // Read only by the `fleet-cli` build; the plain `cli` build refuses first.
    #[cfg_attr(not(feature = "fleet-cli"), allow(dead_code))]
    pub url: &'a str,
    pub prefix: &'a str,
}

#[cfg(feature = "fleet-cli")]
mod enabled {
    use std::future::Future;
    use std::ops::RangeInclusive;

    use serde_json::json;

    use tessera::fleet::{Event, FleetConfig, FleetStatus, Publisher};
    use tessera::{SessionId, VerifierKeyset};

    use super::Feed;
    use crate::failure::Failure;
    use crate::io;
    use crate::time::{now_or, utc};

    /// Runs `job` with a publisher on a single-threaded runtime.
    fn with_publisher<T, F, Fut>(feed: &Feed<'_>, job: F) -> Result<T, Failure>
    where
        F: FnOnce(Publisher) -> Fut,
        Fut: Future<Output = Result<T, tessera::Error>>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))?;
        let config = FleetConfig::new(feed.url, feed.prefix);
        runtime
            .block_on(async move { job(Publisher::connect(config).await?).await })
            .map_err(|e| Failure::usage(format!("redis (prefix {}): {e}", feed.prefix)))
    }

    pub fn revoke_session(
        feed: &Feed<'_>,
        id: SessionId,
        deadlines: RangeInclusive<u64>,
    ) -> Result<String, Failure> {
        let events = session_events(id, deadlines);
        let ids = with_publisher(feed, |p| async move { p.publish(&events).await })?;
        match (ids.first(), ids.last()) {
            (Some(first), Some(last)) if first == last => Ok(first.to_string()),
            (Some(first), Some(last)) => Ok(format!("{first} to {last} ({} entries)", ids.len())),
            _ => Err(Failure::usage("nothing to publish")),
        }
    }

    /// One entry per hour of deadlines in `deadlines` (a session entry lands
    /// in the filter generation of its deadline's hour), as
    /// `RevocationFilter::revoke_deadlines` does in a file.
    fn session_events(id: SessionId, deadlines: RangeInclusive<u64>) -> Vec<Event> {
        let (earliest, latest) = deadlines.into_inner();
        let mut events = Vec::new();
        let mut deadline = earliest;
        while deadline <= latest {
            events.push(Event::Session { id, deadline });
            // The next hour's first second, if any is left.
            match (deadline / 3600)
                .checked_add(1)
                .and_then(|h| h.checked_mul(3600))
            {
                Some(next) => deadline = next,
                None => break,
            }
        }
        events
    }

    pub fn revoke_subject(feed: &Feed<'_>, subject: &str, before: u64) -> Result<String, Failure> {
        let subject = subject.to_owned();
        with_publisher(
            feed,
            |p| async move { p.revoke_subject(&subject, before).await },
        )
        .map(|entry| entry.to_string())
    }

    pub fn publish_keyset(feed: &Feed<'_>, keys: &VerifierKeyset) -> Result<String, Failure> {
        let keys = keys.clone();
        with_publisher(feed, |p| async move { p.publish_keyset(&keys).await })
            .map(|entry| entry.to_string())
    }

    pub fn status(feed: &Feed<'_>, as_json: bool, now: Option<u64>) -> Result<(), Failure> {
        let status: FleetStatus = with_publisher(feed, |p| async move { p.status().await })?;
        let now = now_or(now);
        let id = |e: Option<tessera::fleet::EntryId>| e.map(|e| e.to_string());
        let key_ids: Option<Vec<u32>> = status
            .keyset
            .as_ref()
            .map(|ids| ids.iter().map(|k| k.0).collect());
        if as_json {
            let snapshot = status.snapshot.map(|s| {
                json!({
                    "position": s.position.to_string(),
                    "written_at": s.written_at,
                    "age_secs": now.saturating_sub(s.written_at),
                    "bytes": s.bytes,
                })
            });
            return io::println(json!({
                "prefix": feed.prefix,
                "stream": {
                    "length": status.stream_len,
                    "first": id(status.first),
                    "last": id(status.last),
                },
                "snapshot": snapshot,
                "keyset": key_ids.map(|ids| json!({ "key_ids": ids })),
            }));
        }
        let mut text = format!(
            "stream    {}:stream, {} entries",
            feed.prefix, status.stream_len
        );
        if let (Some(first), Some(last)) = (status.first, status.last) {
            text.push_str(&format!(
                " ({first} at {} to {last} at {})",
                utc(first.ms / 1000),
                utc(last.ms / 1000)
            ));
        }
        text.push('\n');
        match status.snapshot {
            Some(s) => text.push_str(&format!(
                "snapshot  covers up to {}, written {} ({} s ago), {} bytes\n",
                s.position,
                utc(s.written_at),
                now.saturating_sub(s.written_at),
                s.bytes
            )),
            None => text.push_str("snapshot  none (new followers replay the whole stream)\n"),
        }
        match key_ids {
            Some(ids) => {
                let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
                text.push_str(&format!("keyset    key ids {}\n", ids.join(", ")));
            }
            None => text.push_str("keyset    none published\n"),
        }
        io::print(&text)
    }
}

#[cfg(not(feature = "fleet-cli"))]
mod enabled {
    use std::ops::RangeInclusive;

    use tessera::{SessionId, VerifierKeyset};

    use super::Feed;
    use crate::failure::Failure;

    fn unsupported() -> Failure {
        Failure::usage(
            "this tessera was built without Redis support; rebuild it with \
             `--features fleet-cli` to use --redis and `fleet`",
        )
    }

    pub fn revoke_session(
        _: &Feed<'_>,
        _: SessionId,
        _: RangeInclusive<u64>,
    ) -> Result<String, Failure> {
        Err(unsupported())
    }

    pub fn revoke_subject(_: &Feed<'_>, _: &str, _: u64) -> Result<String, Failure> {
        Err(unsupported())
    }

    pub fn publish_keyset(_: &Feed<'_>, _: &VerifierKeyset) -> Result<String, Failure> {
        Err(unsupported())
    }

    pub fn status(_: &Feed<'_>, _: bool, _: Option<u64>) -> Result<(), Failure> {
        Err(unsupported())
    }
}

/// Publishes a session revocation for every deadline in `deadlines` (one
/// entry per deadline hour); returns the stream entry ids.
pub fn revoke_session(
    feed: &Feed<'_>,
    id: SessionId,
    deadlines: RangeInclusive<u64>,
) -> Result<String, Failure> {
    enabled::revoke_session(feed, id, deadlines)
}

/// Publishes a subject revocation; returns the stream entry's id.
pub fn revoke_subject(feed: &Feed<'_>, subject: &str, before: u64) -> Result<String, Failure> {
    enabled::revoke_subject(feed, subject, before)
}

/// Publishes a verifier keyset; returns the notification's entry id.
pub fn publish_keyset(feed: &Feed<'_>, keys: &VerifierKeyset) -> Result<String, Failure> {
    enabled::publish_keyset(feed, keys)
}

/// `fleet status`.
pub fn status(feed: &Feed<'_>, as_json: bool, now: Option<u64>) -> Result<(), Failure> {
    enabled::status(feed, as_json, now)
}
