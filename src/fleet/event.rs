//! What travels on the stream: entry ids and the three kinds of entries,
//! with their field encoding and a bounded parser for untrusted entries.

use core::fmt;
use core::str::FromStr;

use redis::Value;

use crate::subjects::MAX_SUBJECT_LEN;
use crate::{Error, SessionId};

/// The position of an entry in the stream: Redis's `<ms>-<seq>` id.
///
/// Ordered as Redis orders them. `EntryId::ZERO` is before every entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId {
    /// Milliseconds part: the Redis server's clock (or the time given to
    /// [`Publisher::publish_at`](super::Publisher::publish_at)) when the
    /// entry was added.
    pub ms: u64,
    /// Sequence number among entries of the same millisecond.
    pub seq: u64,
}

impl EntryId {
    /// Before every entry: reading after it reads the whole stream.
    pub const ZERO: EntryId = EntryId { ms: 0, seq: 0 };
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl FromStr for EntryId {
    type Err = Error;

    /// Parses `<ms>-<seq>` (both decimal `u64`).
    fn from_str(s: &str) -> Result<EntryId, Error> {
        let bad = || Error::Fleet("malformed stream entry id".into());
        let (ms, seq) = s.split_once('-').ok_or_else(bad)?;
        Ok(EntryId {
            ms: ms.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

/// One entry of the revocation feed.
#[derive(Clone, PartialEq, Eq)]
pub enum Event {
    /// Revoke one session (and its renewals) until its deadline.
    Session {
        /// The session id.
        id: SessionId,
        /// The session's deadline (unix seconds).
        deadline: u64,
    },
    /// Log a subject out everywhere: its sessions issued before `before`.
    Subject {
        /// The subject.
        subject: String,
        /// The cutoff (unix seconds, exclusive).
        before: u64,
    },
    /// A new verifier keyset was published: followers load it.
    Keyset,
}

impl fmt::Debug for Event {
    /// Session ids are secrets and subjects identify users: neither is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Session { deadline, .. } => f
                .debug_struct("Session")
                .field("deadline", deadline)
                .finish_non_exhaustive(),
            Event::Subject { before, .. } => f
                .debug_struct("Subject")
                .field("before", before)
                .finish_non_exhaustive(),
            Event::Keyset => f.write_str("Keyset"),
        }
    }
}

/// Field names of stream entries (docs/fleet.md).
pub(crate) const KIND: &str = "kind";
const ID: &str = "id";
const DEADLINE: &str = "deadline";
const SUBJECT: &str = "subject";
const BEFORE: &str = "before";

impl Event {
    /// The entry's fields, in order, as `XADD` takes them.
    pub(crate) fn fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Event::Session { id, deadline } => vec![
                (KIND, "session".into()),
                (ID, id.to_hex()),
                (DEADLINE, deadline.to_string()),
            ],
            Event::Subject { subject, before } => vec![
                (KIND, "subject".into()),
                (SUBJECT, subject.clone()),
                (BEFORE, before.to_string()),
            ],
            Event::Keyset => vec![(KIND, "keyset".into())],
        }
    }

    /// Parses an entry's field list (`[name, value, name, value, ...]` as
    /// Redis sends it). Unknown extra fields are ignored, so that later
    /// versions may add some; a missing, repeated or out-of-range field is an
    /// error.
    pub(crate) fn parse(fields: &[Value]) -> Result<Event, &'static str> {
        let mut kind = None;
        let mut values: [Option<&[u8]>; 4] = [None; 4];
        if !fields.len().is_multiple_of(2) || fields.len() > 32 {
            return Err("odd or too many fields");
        }
        for pair in fields.chunks_exact(2) {
            let [name, value] = pair else {
                return Err("odd or too many fields");
            };
            let (Some(name), Some(value)) = (bytes(name), bytes(value)) else {
                return Err("field is not a string");
            };
            let slot = match name {
                b"kind" => &mut kind,
                b"id" => &mut values[0],
                b"deadline" => &mut values[1],
                b"subject" => &mut values[2],
                b"before" => &mut values[3],
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err("repeated field");
            }
        }
        let [id, deadline, subject, before] = values;
        match kind.ok_or("no kind")? {
            b"session" => {
                let id = text(id.ok_or("no id")?)?;
                let id = SessionId::from_hex(id).map_err(|_| "id is not 32 hex digits")?;
                let deadline = number(deadline.ok_or("no deadline")?)?;
                Ok(Event::Session { id, deadline })
            }
            b"subject" => {
                let subject = subject.ok_or("no subject")?;
                if subject.len() > MAX_SUBJECT_LEN {
                    return Err("subject too long");
                }
                let subject = text(subject)?.to_owned();
                let before = number(before.ok_or("no cutoff")?)?;
                Ok(Event::Subject { subject, before })
            }
            b"keyset" => Ok(Event::Keyset),
            _ => Err("unknown kind"),
        }
    }
}

/// The bytes of a string reply.
fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn text(b: &[u8]) -> Result<&str, &'static str> {
    core::str::from_utf8(b).map_err(|_| "not UTF-8")
}

/// A decimal `u64` of at most 20 digits, nothing else.
fn number(b: &[u8]) -> Result<u64, &'static str> {
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return Err("not a decimal number");
    }
    text(b)?.parse().map_err(|_| "number out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(fields: &[(&str, &[u8])]) -> Vec<Value> {
        fields
            .iter()
            .flat_map(|(k, v)| {
                [
                    Value::BulkString(k.as_bytes().to_vec()),
                    Value::BulkString(v.to_vec()),
                ]
            })
            .collect()
    }

    #[test]
    fn events_round_trip_through_their_fields() {
        let events = [
            Event::Session {
                id: SessionId([9; 16]),
                deadline: 1_750_000_000,
            },
            Event::Subject {
                subject: "alice@example.com".into(),
                before: 17,
            },
            Event::Keyset,
        ];
        for e in events {
            let fields = e.fields();
            let wire: Vec<_> = fields
                .iter()
                .map(|(k, v)| (*k, v.as_bytes()))
                .collect::<Vec<_>>();
            assert_eq!(Event::parse(&super::tests::wire(&wire)), Ok(e));
        }
    }

    #[test]
    fn malformed_entries_are_errors() {
        let hex = "00".repeat(16);
        let bad: &[&[(&str, &[u8])]] = &[
            &[],
            &[("kind", b"nope")],
            &[("kind", b"session"), ("id", hex.as_bytes())],
            &[("kind", b"session"), ("id", b"zz"), ("deadline", b"1")],
            &[
                ("kind", b"session"),
                ("id", hex.as_bytes()),
                ("deadline", b"-1"),
            ],
            &[
                ("kind", b"session"),
                ("id", hex.as_bytes()),
                ("deadline", b"+1"),
            ],
            &[
                ("kind", b"session"),
                ("id", hex.as_bytes()),
                ("deadline", b"99999999999999999999"),
            ],
            &[("kind", b"subject"), ("subject", b"\xff"), ("before", b"1")],
            &[("kind", b"subject"), ("before", b"1")],
            &[("kind", b"keyset"), ("kind", b"keyset")],
        ];
        for fields in bad {
            assert!(Event::parse(&wire(fields)).is_err(), "{fields:?}");
        }
        let long = vec![b'a'; MAX_SUBJECT_LEN + 1];
        let fields = wire(&[("kind", b"subject"), ("subject", &long), ("before", b"1")]);
        assert_eq!(Event::parse(&fields), Err("subject too long"));
        let odd = vec![Value::BulkString(b"kind".to_vec())];
        assert!(Event::parse(&odd).is_err());
        let not_string = vec![Value::BulkString(b"kind".to_vec()), Value::Int(1)];
        assert!(Event::parse(&not_string).is_err());
        // Unknown extra fields are ignored.
        let extra = wire(&[("kind", b"keyset"), ("note", b"x")]);
        assert_eq!(Event::parse(&extra), Ok(Event::Keyset));
    }

    #[test]
    fn entry_ids_parse_and_order() {
        let a: EntryId = "5-2".parse().unwrap();
        assert_eq!(a, EntryId { ms: 5, seq: 2 });
        assert_eq!(a.to_string(), "5-2");
        assert!(a < "5-10".parse().unwrap());
        assert!(a < "6-0".parse().unwrap());
        for bad in ["", "5", "5-", "-1", "a-1", "1-2-3"] {
            assert!(bad.parse::<EntryId>().is_err(), "{bad}");
        }
    }
}
