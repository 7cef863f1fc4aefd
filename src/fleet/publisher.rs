//! The publishing side: appends revocations to the stream, publishes
//! verifier keysets, trims, writes snapshots and reports the feed's status.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Value;

use super::event::{EntryId, Event};
use super::snapshot::{self, MAX_FLEET_SNAPSHOT_LEN};
use super::{redis_error, FleetConfig, CONNECT_TIMEOUT};
use crate::keys::KeyId;
use crate::os::unix_now;
use crate::subjects::MAX_SUBJECT_LEN;
use crate::MAX_KEYSET_FILE_LEN;
use crate::{Error, RevocationFilter, SessionId, SubjectRevocations, VerifierKeyset};

/// How long a command may wait for Redis before failing.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Replaces the stored snapshot only with a newer one: two writers never
/// move it backwards. KEYS[1] the snapshot hash; ARGV: position ms, seq,
/// written-at, container.
const WRITE_SNAPSHOT: &str = r"
local ms = redis.call('HGET', KEYS[1], 'ms')
local seq = redis.call('HGET', KEYS[1], 'seq')
if ms and seq then
  local a, b = tonumber(ms), tonumber(seq)
  local c, d = tonumber(ARGV[1]), tonumber(ARGV[2])
  if a > c or (a == c and b >= d) then return 0 end
end
redis.call('HSET', KEYS[1], 'ms', ARGV[1], 'seq', ARGV[2], 'at', ARGV[3], 'data', ARGV[4])
return 1
";

/// Reads a value only if it is at most a bound, in one atomic step (no
/// writer can grow it between the length check and the read, so the reply
/// is never larger than the bound). KEYS[1] the key; ARGV[1] the bound,
/// ARGV[2] a hash field (empty for a string key). Replies nil when absent,
/// the integer -1 when too large, else the value.
const READ_BOUNDED: &str = r"
local len
if ARGV[2] == '' then
  len = redis.call('STRLEN', KEYS[1])
else
  len = redis.call('HSTRLEN', KEYS[1], ARGV[2])
end
if len == 0 then return false end
if len > tonumber(ARGV[1]) then return -1 end
if ARGV[2] == '' then
  return redis.call('GET', KEYS[1])
end
return redis.call('HGET', KEYS[1], ARGV[2])
";

/// What [`read_bounded`] found.
enum Bounded {
    Absent,
    TooLarge,
    Value(Vec<u8>),
}

/// Reads the string `key` (or its hash `field`) if it is at most `max`
/// bytes (see [`READ_BOUNDED`]).
///
/// Redis write access is already trusted further than this bound: whoever
/// can write the feed's keys can publish a keyset and so mint sessions. The
/// bound keeps a mistake (or a value from another program under the prefix)
/// from making a server allocate without limit; it holds even against a
/// concurrent writer because the check and the read are one script. The
/// reply is also checked here, in case Redis is not the one answering.
async fn read_bounded<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
    field: &str,
    max: usize,
) -> Result<Bounded, Error> {
    let reply: Value = redis::cmd("EVAL")
        .arg(READ_BOUNDED)
        .arg(1)
        .arg(key)
        .arg(max)
        .arg(field)
        .query_async(conn)
        .await
        .map_err(|e| redis_error(&e))?;
    match reply {
        // Lua's false: nil in RESP2, a boolean in RESP3.
        Value::Nil | Value::Boolean(false) => Ok(Bounded::Absent),
        Value::Int(_) => Ok(Bounded::TooLarge),
        Value::BulkString(data) if data.len() <= max => Ok(Bounded::Value(data)),
        Value::BulkString(_) => Ok(Bounded::TooLarge),
        _ => Err(Error::Fleet("unexpected reply to a bounded read".into())),
    }
}

/// Appends to the feed. One per process is enough: it holds one
/// multiplexed connection that reconnects by itself (cheap to clone, safe to
/// share).
///
/// Every publishing method returns only once Redis has acknowledged the
/// entry (it is then in Redis's memory; whether it survives a Redis restart
/// depends on Redis's persistence settings).
#[derive(Clone)]
pub struct Publisher {
    config: FleetConfig,
    conn: ConnectionManager,
}

impl core::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Publisher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What `tessera fleet status` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetStatus {
    /// Entries in the stream.
    pub stream_len: u64,
    /// The oldest entry, if any.
    pub first: Option<EntryId>,
    /// The newest entry, if any.
    pub last: Option<EntryId>,
    /// The stored snapshot, if any.
    pub snapshot: Option<SnapshotInfo>,
    /// Key ids of the published verifier keyset, if one is published.
    pub keyset: Option<Vec<KeyId>>,
}

/// The stored snapshot's metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Every entry up to and including this one is in it.
    pub position: EntryId,
    /// When it was written (unix seconds).
    pub written_at: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

impl Publisher {
    /// Connects to the feed's Redis.
    ///
    /// # Errors
    ///
    /// [`Error::Fleet`] if the URL is invalid or Redis cannot be reached.
    pub async fn connect(config: FleetConfig) -> Result<Publisher, Error> {
        let client = config.client()?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(RESPONSE_TIMEOUT)
            .set_number_of_retries(2)
            .set_max_delay(250);
        let conn = ConnectionManager::new_with_config(client, manager)
            .await
            .map_err(|e| redis_error(&e))?;
        Ok(Publisher { config, conn })
    }

    /// The feed this publisher writes to.
    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    /// Revokes one session (and its renewals) on every follower.
    ///
    /// # Errors
    ///
    /// [`Error::FleetTooFarAhead`] for a deadline later than any session of
    /// the fleet can have (more than the maximum lifetime plus the largest
    /// leeway from now); [`Error::Fleet`] if Redis did not acknowledge the
    /// entry.
    pub async fn revoke_session(&self, id: SessionId, deadline: u64) -> Result<EntryId, Error> {
        self.publish_one(Event::Session { id, deadline }).await
    }

    /// Logs `subject` out everywhere: its sessions issued strictly before
    /// `before` are rejected by every follower.
    ///
    /// # Errors
    ///
    /// [`Error::SubjectTooLong`]; [`Error::FleetTooFarAhead`] for a cutoff
    /// more than the largest leeway in the future (it would outlive the
    /// stream's window); [`Error::Fleet`] if Redis did not acknowledge the
    /// entry.
    pub async fn revoke_subject(&self, subject: &str, before: u64) -> Result<EntryId, Error> {
        self.publish_one(Event::Subject {
            subject: subject.to_owned(),
            before,
        })
        .await
    }

    /// Publishes `keys` as the fleet's verifier keyset and tells followers,
    /// atomically (`MULTI`: the key and the notice are written together).
    /// Followers that follow keys swap it in with
    /// [`LiveVerifier::set_keys`](crate::LiveVerifier::set_keys).
    ///
    /// The keyset holds decryption keys: see docs/fleet.md on protecting
    /// Redis.
    ///
    /// # Errors
    ///
    /// [`Error::Fleet`] if Redis did not acknowledge it.
    pub async fn publish_keyset(&self, keys: &VerifierKeyset) -> Result<EntryId, Error> {
        let json = keys.to_json();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(self.config.keyset_key())
            .arg(json.as_bytes())
            .ignore();
        self.add_xadd(&mut pipe, &Event::Keyset, None, unix_now());
        let (id,): (String,) = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| redis_error(&e))?;
        id.parse()
    }

    async fn publish_one(&self, event: Event) -> Result<EntryId, Error> {
        let ids = self.publish(std::slice::from_ref(&event)).await?;
        ids.into_iter()
            .next()
            .ok_or_else(|| Error::Fleet("no entry id in the reply".into()))
    }

    /// Appends `events` in one round trip (a pipeline), in order, with ids
    /// from Redis's clock, trimming entries older than the window as it goes.
    /// Returns their ids.
    ///
    /// # Errors
    ///
    /// As [`publish_at`](Self::publish_at).
    pub async fn publish(&self, events: &[Event]) -> Result<Vec<EntryId>, Error> {
        self.publish_with(events, None, unix_now()).await
    }

    /// [`publish`](Self::publish) as if the time were `now` (unix seconds):
    /// the entries get ids of that millisecond-time, and trimming uses it.
    /// For tests and replays; `now` must not be before the stream's newest
    /// entry.
    ///
    /// # Errors
    ///
    /// [`Error::SubjectTooLong`]; [`Error::FleetTooFarAhead`] for a subject
    /// cutoff more than the largest leeway after `now` or a session deadline
    /// more than the maximum lifetime plus the largest leeway after `now`
    /// (nothing is published then); [`Error::Fleet`] for an id not after the
    /// newest entry,
    /// or if Redis did not acknowledge every entry (some may have been added:
    /// publishing the same revocation again is harmless).
    pub async fn publish_at(&self, events: &[Event], now: u64) -> Result<Vec<EntryId>, Error> {
        self.publish_with(events, Some(now), now).await
    }

    async fn publish_with(
        &self,
        events: &[Event],
        id_time: Option<u64>,
        now: u64,
    ) -> Result<Vec<EntryId>, Error> {
        for event in events {
            match event {
                Event::Subject { subject, before } => {
                    if subject.len() > MAX_SUBJECT_LEN {
                        return Err(Error::SubjectTooLong);
                    }
                    if *before > FleetConfig::latest_cutoff(now) {
                        return Err(Error::FleetTooFarAhead);
                    }
                }
                Event::Session { deadline, .. } => {
                    if *deadline > self.config.latest_deadline(now) {
                        return Err(Error::FleetTooFarAhead);
                    }
                }
                Event::Keyset => {}
            }
        }
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for event in events {
            self.add_xadd(&mut pipe, event, id_time, now);
        }
        let ids: Vec<String> = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| redis_error(&e))?;
        ids.iter().map(|id| id.parse()).collect()
    }

    /// `XADD <stream> MINID ~ <now - window> <id> <fields...>`.
    fn add_xadd(&self, pipe: &mut redis::Pipeline, event: &Event, id_time: Option<u64>, now: u64) {
        let min = now
            .saturating_mul(1000)
            .saturating_sub(self.config.window_ms());
        let cmd = pipe
            .cmd("XADD")
            .arg(self.config.stream_key())
            .arg("MINID")
            .arg("~")
            .arg(min);
        match id_time {
            Some(t) => cmd.arg(format!("{}-*", t.saturating_mul(1000))),
            None => cmd.arg("*"),
        };
        for (name, value) in event.fields() {
            cmd.arg(name).arg(value);
        }
    }

    /// Trims entries older than the window before `now` (unix seconds):
    /// `XTRIM MINID ~`. Publishing trims as it goes; this is for a feed that
    /// has gone quiet. Returns the number of entries removed.
    ///
    /// # Errors
    ///
    /// [`Error::Fleet`] if Redis fails.
    pub async fn trim(&self, now: u64) -> Result<u64, Error> {
        let min = now
            .saturating_mul(1000)
            .saturating_sub(self.config.window_ms());
        redis::cmd("XTRIM")
            .arg(self.config.stream_key())
            .arg("MINID")
            .arg("~")
            .arg(min)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| redis_error(&e))
    }

    /// Stores a snapshot of `filter` and `subjects` covering every entry up
    /// to `position`, unless a newer one is stored. Returns whether it was
    /// stored. Followers write these themselves
    /// ([`FollowerConfig::snapshot_every`](super::FollowerConfig::snapshot_every),
    /// [`FollowerHandle::write_snapshot`](super::FollowerHandle::write_snapshot)),
    /// since only a follower knows which entries its state covers.
    ///
    /// Encoding takes milliseconds of CPU for a large filter, on the calling
    /// task (the followers encode on a blocking thread).
    ///
    /// # Errors
    ///
    /// [`Error::Fleet`] if Redis fails.
    pub async fn write_snapshot(
        &self,
        position: EntryId,
        written_at: u64,
        filter: &RevocationFilter,
        subjects: &SubjectRevocations,
    ) -> Result<bool, Error> {
        let data = snapshot::encode(position, written_at, filter, subjects);
        store_snapshot(
            &mut self.conn.clone(),
            &self.config,
            position,
            written_at,
            data,
        )
        .await
    }

    /// The stream's length and ends, the stored snapshot's position, age and
    /// size, and the published keyset's key ids.
    ///
    /// # Errors
    ///
    /// [`Error::Fleet`] if Redis fails or the published keyset is invalid.
    pub async fn status(&self) -> Result<FleetStatus, Error> {
        let mut conn = self.conn.clone();
        let stream = self.config.stream_key();
        let snapshot = self.config.snapshot_key();
        let keyset = self.config.keyset_key();
        let (stream_len, first, last, snap, data_len, keyset_len): StatusReply = redis::pipe()
            .cmd("XLEN")
            .arg(&stream)
            .cmd("XRANGE")
            .arg(&stream)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .cmd("XREVRANGE")
            .arg(&stream)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .cmd("HMGET")
            .arg(&snapshot)
            .arg("ms")
            .arg("seq")
            .arg("at")
            .cmd("HSTRLEN")
            .arg(&snapshot)
            .arg("data")
            .cmd("STRLEN")
            .arg(&keyset)
            .query_async(&mut conn)
            .await
            .map_err(|e| redis_error(&e))?;
        let snapshot = match snap {
            (Some(ms), Some(seq), Some(at)) => Some(SnapshotInfo {
                position: EntryId { ms, seq },
                written_at: at,
                bytes: data_len,
            }),
            _ => None,
        };
        let keyset = if keyset_len == 0 {
            None
        } else {
            Some(
                fetch_keyset(&mut conn, &self.config)
                    .await?
                    .parse()?
                    .key_ids(),
            )
        };
        Ok(FleetStatus {
            stream_len,
            first: first_id(&first),
            last: first_id(&last),
            snapshot,
            keyset,
        })
    }

    /// Deletes the feed's keys (stream, snapshot, keyset). For tests and for
    /// retiring a feed.
    ///
    /// # Errors
    ///
    /// [`Error::Fleet`] if Redis fails.
    pub async fn delete_feed(&self) -> Result<(), Error> {
        redis::cmd("DEL")
            .arg(self.config.stream_key())
            .arg(self.config.snapshot_key())
            .arg(self.config.keyset_key())
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(|e| redis_error(&e))
    }
}

/// XLEN, first and last entry, snapshot ms/seq/at, snapshot size, keyset size.
type StatusReply = (
    u64,
    Value,
    Value,
    (Option<u64>, Option<u64>, Option<u64>),
    u64,
    u64,
);

/// The id of the first entry of an `XRANGE` reply.
fn first_id(reply: &Value) -> Option<EntryId> {
    let Value::Array(entries) = reply else {
        return None;
    };
    let Some(Value::Array(entry)) = entries.first() else {
        return None;
    };
    match entry.first() {
        Some(Value::BulkString(id)) => core::str::from_utf8(id).ok()?.parse().ok(),
        _ => None,
    }
}

/// Stores `data`, a snapshot encoded by [`snapshot::encode`] for
/// `position` and `written_at`, unless a newer one is stored (see
/// [`Publisher::write_snapshot`]).
///
/// # Errors
///
/// [`Error::Fleet`] if Redis fails.
pub(crate) async fn store_snapshot<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    config: &FleetConfig,
    position: EntryId,
    written_at: u64,
    data: Vec<u8>,
) -> Result<bool, Error> {
    let stored: i64 = redis::cmd("EVAL")
        .arg(WRITE_SNAPSHOT)
        .arg(1)
        .arg(config.snapshot_key())
        .arg(position.ms)
        .arg(position.seq)
        .arg(written_at)
        .arg(data)
        .query_async(conn)
        .await
        .map_err(|e| redis_error(&e))?;
    Ok(stored == 1)
}

/// The published verifier keyset as read from Redis, not yet parsed.
pub(crate) enum Published {
    /// No keyset is published.
    Nothing,
    /// Larger than a keyset file may be: not read.
    TooLarge,
    /// The keyset's JSON (secret: zeroized on drop).
    Json(zeroize::Zeroizing<Vec<u8>>),
}

impl Published {
    /// Parses it.
    ///
    /// # Errors
    ///
    /// [`Error::Fleet`] when nothing is published; [`Error::KeysetFormat`]
    /// for a keyset too large or invalid.
    pub(crate) fn parse(&self) -> Result<VerifierKeyset, Error> {
        match self {
            Published::Nothing => Err(Error::Fleet("no verifier keyset is published".into())),
            Published::TooLarge => Err(Error::KeysetFormat(
                "published keyset larger than a keyset file may be".into(),
            )),
            Published::Json(json) => {
                let text = core::str::from_utf8(json)
                    .map_err(|_| Error::KeysetFormat("published keyset is not UTF-8".into()))?;
                VerifierKeyset::from_json(text)
            }
        }
    }
}

/// Reads the published verifier keyset, refusing to read one larger than a
/// keyset file may be.
///
/// # Errors
///
/// [`Error::Fleet`] only if Redis fails.
pub(crate) async fn fetch_keyset<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    config: &FleetConfig,
) -> Result<Published, Error> {
    Ok(
        match read_bounded(conn, &config.keyset_key(), "", MAX_KEYSET_FILE_LEN).await? {
            Bounded::Absent => Published::Nothing,
            Bounded::TooLarge => Published::TooLarge,
            Bounded::Value(json) => Published::Json(zeroize::Zeroizing::new(json)),
        },
    )
}

/// Reads the stored snapshot container, refusing one past the size bound.
///
/// # Errors
///
/// [`Error::Fleet`] if Redis fails; [`Error::CorruptSnapshot`] if it is too
/// large. `Ok(None)` when none is stored.
pub(crate) async fn load_snapshot<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    config: &FleetConfig,
) -> Result<Option<Vec<u8>>, Error> {
    match read_bounded(conn, &config.snapshot_key(), "data", MAX_FLEET_SNAPSHOT_LEN).await? {
        Bounded::Absent => Ok(None),
        Bounded::TooLarge => Err(Error::CorruptSnapshot),
        Bounded::Value(data) => Ok(Some(data)),
    }
}
