//! Token commands: issue, verify, inspect.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use serde_json::{json, Value};
use tessera::{
    Error, Issuer, Policy, RevocationFilter, Session, SubjectRevocations, Verifier,
    DEFAULT_SUBJECT_CAPACITY, MAX_TOKEN_LENGTH_LIMIT,
};

use crate::failure::{explain, Failure};
use crate::io::{self, TokenArg};
use crate::revoke::subjects_file;
use crate::time::{now_or, utc, LAST};

/// What `issue` was asked for.
pub struct IssueArgs<'a> {
    pub keys: &'a Path,
    pub subject: &'a str,
    pub data: Option<&'a str>,
    pub idle: Option<Duration>,
    pub max_lifetime: Option<Duration>,
    pub audience: Option<&'a str>,
    pub now: Option<u64>,
}

/// The maximum lifetime of `Policy::default()`, which `issue` uses unless
/// given `--max-lifetime`.
const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// `issue`: prints the token. `--data` is stored as the JSON text itself, a
/// postcard `String` (see [`RawData`] for how `verify` reads it back); without
/// it the data is `()`, which encodes to no bytes.
pub fn issue(args: &IssueArgs<'_>) -> Result<(), Failure> {
    if let Some(Err(e)) = args.data.map(serde_json::from_str::<serde::de::IgnoredAny>) {
        return Err(Failure::usage(format!(
            "--data is not valid JSON (line {} column {})",
            e.line(),
            e.column()
        )));
    }
    let max_lifetime = args.max_lifetime.unwrap_or(DEFAULT_MAX_LIFETIME);
    if let Some(idle) = args.idle.filter(|idle| *idle > max_lifetime) {
        let which = if args.max_lifetime.is_some() {
            "--max-lifetime"
        } else {
            "the default --max-lifetime"
        };
        return Err(Failure::usage(format!(
            "--idle ({}s) is longer than {which} ({}s): a session cannot stay idle longer \
             than it may live",
            idle.as_secs(),
            max_lifetime.as_secs()
        )));
    }
    let now = now_or(args.now);
    if now
        .checked_add(max_lifetime.as_secs())
        .is_none_or(|deadline| deadline > LAST)
    {
        return Err(Failure::usage(format!(
            "the session's deadline, {} plus the maximum lifetime ({}s), would be after \
             9999-12-31T23:59:59Z: give a smaller --now or --max-lifetime",
            if args.now.is_some() {
                "--now"
            } else {
                "the current time"
            },
            max_lifetime.as_secs()
        )));
    }
    let mut policy = Policy::default()
        .max_lifetime(max_lifetime)
        .audience(args.audience.unwrap_or(""));
    if let Some(idle) = args.idle {
        policy = policy.idle_timeout(idle);
    }
    let issuer = Issuer::new(io::load_issuer(args.keys)?, policy);
    let issued = match args.data {
        Some(json) => issuer.issue_at(args.subject, &json, now),
        None => issuer.issue_at(args.subject, &(), now),
    };
    let token = issued.map_err(|e| match e {
        Error::TooLarge => {
            Failure::usage("the token would be too large for a cookie: shorten --subject or --data")
        }
        other => Failure::usage(format!("cannot issue: {other}")),
    })?;
    io::println(token)
}

/// A verifier for `keys` (either kind of keyset file) bound to `audience`,
/// consulting the revocation snapshot `filter` if one is given.
pub fn verifier(
    keys: &Path,
    audience: Option<&str>,
    filter: Option<&Path>,
) -> Result<Verifier, Failure> {
    let policy = Policy::default().audience(audience.unwrap_or(""));
    let verifier = Verifier::new(io::load_any(keys)?.into_verifier(), policy);
    match filter {
        None => Ok(verifier),
        Some(path) => {
            let filter = RevocationFilter::load(path).map_err(|e| Failure::file(path, &e))?;
            let verifier = verifier.with_revocations(Arc::new(filter));
            // Subject revocations (`revoke --subject`) live next to it.
            let subjects_path = subjects_file(path);
            match SubjectRevocations::load(&subjects_path, DEFAULT_SUBJECT_CAPACITY) {
                Ok(subjects) => Ok(verifier.with_subject_revocations(Arc::new(subjects))),
                Err(Error::File {
                    kind: std::io::ErrorKind::NotFound,
                    ..
                }) => Ok(verifier),
                Err(e) => Err(Failure::file(&subjects_path, &e)),
            }
        }
    }
}

/// What `verify` was asked for.
pub struct VerifyArgs<'a> {
    pub keys: &'a Path,
    pub audience: Option<&'a str>,
    pub filter: Option<&'a Path>,
    pub json: bool,
    pub now: Option<u64>,
    pub token: &'a str,
}

/// `verify`: exit 0 and the session if valid; exit 1 and the reason if not.
/// With `--json`, standard output gets a JSON object either way.
pub fn verify(args: &VerifyArgs<'_>) -> Result<(), Failure> {
    io::one_stdin(args.keys, args.token)?;
    let verifier = verifier(args.keys, args.audience, args.filter)?;
    let token = io::read_token(args.token)?;
    let now = now_or(args.now);
    match token
        .text()
        .and_then(|token| verifier.verify_at::<RawData>(token, now))
    {
        Ok(session) if args.json => io::println(session_json(&session)),
        Ok(session) => io::print(&session_text(&session)),
        Err(e) => {
            if args.json {
                io::println(json!({
                    "valid": false,
                    "error": error_code(&e),
                    "message": explain(&e),
                }))?;
            }
            Err(Failure::token(&e))
        }
    }
}

/// A stable, machine-readable name for each way a token can be rejected.
fn error_code(e: &Error) -> &'static str {
    match e {
        Error::Malformed => "malformed",
        Error::UnsupportedVersion => "unsupported_version",
        Error::UnknownKey => "unknown_key",
        Error::Invalid => "invalid",
        Error::Expired => "expired",
        Error::NotYetValid => "not_yet_valid",
        Error::Revoked => "revoked",
        Error::TooLarge => "too_large",
        Error::DataMismatch => "data_mismatch",
        _ => "other",
    }
}

fn session_json(s: &Session<RawData>) -> Value {
    json!({
        "valid": true,
        "subject": s.subject(),
        "session_id": s.id().to_hex(),
        "key_id": s.key_id().0,
        "issued_at": s.issued_at(),
        "expires_at": s.expires_at(),
        "deadline": s.deadline(),
        "data": s.data().as_json().unwrap_or(Value::Null),
        "data_hex": hex(&s.data().0),
    })
}

fn session_text(s: &Session<RawData>) -> String {
    let bytes = &s.data().0;
    let data = match s.data().as_json() {
        Some(value) => value.to_string(),
        None if bytes.is_empty() => "none (unit data: no bytes)".to_string(),
        None => format!("{} bytes (hex {})", bytes.len(), hex(bytes)),
    };
    format!(
        "valid\nsubject     {:?}\nsession id  {}\nkey id      {}\nissued at   {} ({})\n\
         expires at  {} ({})\ndeadline    {} ({})\ndata        {data}\n",
        s.subject(),
        s.id().to_hex(),
        s.key_id(),
        utc(s.issued_at()),
        s.issued_at(),
        utc(s.expires_at()),
        s.expires_at(),
        utc(s.deadline()),
        s.deadline(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The application data of any tessera token, as its raw postcard bytes.
///
/// Postcard is not self-describing, so this tool cannot know an
/// application's data type. It does not need to: the data is the last field
/// of the claims, and postcard encodes a tuple as its elements one after the
/// other with no length, and a `u8` as one byte. Reading a tuple of unbounded
/// length one `u8` at a time, until the input runs out, yields exactly the
/// data's bytes, so tokens of every application verify here.
pub struct RawData(pub Vec<u8>);

impl RawData {
    /// The data as JSON if it is what `tessera issue --data` stores (a
    /// postcard string holding JSON text), otherwise `None` (unit data, as
    /// `issue` without `--data` stores, or another application's type).
    fn as_json(&self) -> Option<Value> {
        match postcard::take_from_bytes::<String>(&self.0) {
            Ok((text, [])) => serde_json::from_str(&text).ok(),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for RawData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawData, D::Error> {
        struct Bytes;
        impl<'de> Visitor<'de> for Bytes {
            type Value = RawData;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("the rest of the claims")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawData, A::Error> {
                let mut bytes = Vec::new();
                // The first error is the end of the input.
                while let Ok(Some(byte)) = seq.next_element::<u8>() {
                    bytes.push(byte);
                }
                Ok(RawData(bytes))
            }
        }
        deserializer.deserialize_tuple(usize::MAX, Bytes)
    }
}

/// Bytes of a token body around the ciphertext (docs/FORMAT.md, token v1).
const HEADER_LEN: usize = 5;
const OVERHEAD: usize = HEADER_LEN + 24 + 16 + 64;

/// `inspect`: what can be read without keys, from the public token format.
pub fn inspect(token: &str, as_json: bool) -> Result<(), Failure> {
    // The length first, as the library checks it: the verdict on a token
    // too long is the same whether it came as an argument or on stdin.
    let too_long = || {
        Failure::rejected(format!(
            "{}: longer than {MAX_TOKEN_LENGTH_LIMIT} characters",
            Error::TooLarge
        ))
    };
    let token = match io::read_token(token)? {
        TokenArg::Text(token) if token.len() <= MAX_TOKEN_LENGTH_LIMIT => token,
        _ => return Err(too_long()),
    };
    let Some(encoded) = token.strip_prefix("tsr1.") else {
        return Err(Failure::rejected(
            "not a tessera token (no \"tsr1.\" prefix)",
        ));
    };
    let mut buf = [0u8; MAX_TOKEN_LENGTH_LIMIT / 4 * 3];
    let body = Base64UrlUnpadded::decode(encoded, &mut buf)
        .map_err(|_| Failure::rejected("not canonical unpadded base64url after \"tsr1.\""))?;
    let (Some(&version), Some(id)) = (body.first(), body.get(1..HEADER_LEN)) else {
        return Err(Failure::rejected("too short"));
    };
    if version != 1 {
        return Err(Failure::rejected(format!(
            "unsupported token version {version}"
        )));
    }
    let key_id = id.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    let Some(claims) = body.len().checked_sub(OVERHEAD) else {
        return Err(Failure::rejected("too short"));
    };
    if as_json {
        return io::println(json!({
            "version": version,
            "key_id": key_id,
            "length": token.len(),
            "body_bytes": body.len(),
            "ciphertext_bytes": claims,
        }));
    }
    io::print(&format!(
        "version     {version}\nkey id      {key_id}\nlength      {} characters ({} bytes decoded)\n\
         claims      {claims} bytes, encrypted\n",
        token.len(),
        body.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera::Keyset;

    #[test]
    fn raw_data_is_exactly_the_data_bytes_of_any_application_type() {
        let issuer = Issuer::new(Keyset::generate(), Policy::default());
        let verifier = issuer.verifier();
        let data = (7u32, vec!["a".to_string(), "bc".to_string()], Some(-3i64));
        let token = issuer.issue_at("app", &data, 1_800_000_000).unwrap();
        let session = verifier
            .verify_at::<RawData>(&token, 1_800_000_000)
            .unwrap();
        assert_eq!(session.subject(), "app");
        assert_eq!(session.data().0, postcard::to_allocvec(&data).unwrap());
        assert_eq!(session.data().as_json(), None);

        let token = issuer.issue_at("unit", &(), 1_800_000_000).unwrap();
        let session = verifier
            .verify_at::<RawData>(&token, 1_800_000_000)
            .unwrap();
        assert!(session.data().0.is_empty());

        let text = r#"{"a":[1,2]}"#.to_string();
        let token = issuer.issue_at("cli", &text, 1_800_000_000).unwrap();
        let session = verifier
            .verify_at::<RawData>(&token, 1_800_000_000)
            .unwrap();
        assert_eq!(
            session.data().as_json(),
            Some(serde_json::json!({"a": [1, 2]}))
        );
        // `--data null` is JSON null, told apart from unit data (no bytes).
        let token = issuer.issue_at("cli", &"null", 1_800_000_000).unwrap();
        let session = verifier
            .verify_at::<RawData>(&token, 1_800_000_000)
            .unwrap();
        assert_eq!(session.data().as_json(), Some(Value::Null));
    }

    #[test]
    fn the_default_max_lifetime_is_the_policy_default() {
        assert_eq!(
            Policy::default().max_lifetime(DEFAULT_MAX_LIFETIME),
            Policy::default()
        );
    }

    #[test]
    fn error_codes_are_distinct() {
        let errors = [
            Error::Malformed,
            Error::UnsupportedVersion,
            Error::UnknownKey,
            Error::Invalid,
            Error::Expired,
            Error::NotYetValid,
            Error::Revoked,
            Error::TooLarge,
            Error::DataMismatch,
        ];
        let mut codes: Vec<_> = errors.iter().map(error_code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        assert!(!codes.contains(&"other"));
    }
}
