//! Token commands: issue, verify, inspect.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use serde_json::{json, Value};
use tessera::{Error, Issuer, Policy, RevocationFilter, Session, Verifier, MAX_TOKEN_LENGTH_LIMIT};

use crate::failure::Failure;
use crate::io;
use crate::time::{now_or, utc};

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

/// `issue`: prints the token. The data is stored as the JSON text itself, a
/// postcard `String` (see [`RawData`] for how `verify` reads it back).
pub fn issue(args: &IssueArgs<'_>) -> Result<(), Failure> {
    let data = args.data.unwrap_or("null");
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(data) {
        return Err(Failure::usage(format!(
            "--data is not valid JSON (line {} column {})",
            e.line(),
            e.column()
        )));
    }
    let mut policy = Policy::default();
    if let Some(idle) = args.idle {
        policy = policy.idle_timeout(idle);
    }
    if let Some(max) = args.max_lifetime {
        policy = policy.max_lifetime(max);
    }
    if let Some(audience) = args.audience {
        policy = policy.audience(audience);
    }
    let issuer = Issuer::new(io::load_issuer(args.keys)?, policy);
    let token = issuer
        .issue_at(args.subject, &data, now_or(args.now))
        .map_err(|e| match e {
            Error::TooLarge => Failure::usage(
                "the token would be too large for a cookie: shorten --subject or --data",
            ),
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
            Ok(verifier.with_revocations(Arc::new(filter)))
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
    match verifier.verify_at::<RawData>(&token, now_or(args.now)) {
        Ok(session) if args.json => io::println(session_json(&session)),
        Ok(session) => io::print(&session_text(&session)),
        Err(e) => {
            if args.json {
                io::println(json!({
                    "valid": false,
                    "error": error_code(&e),
                    "message": e.to_string(),
                }))?;
            }
            Err(Failure::rejected(e))
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
        "data": s.data().as_json(),
        "data_hex": hex(&s.data().0),
    })
}

fn session_text(s: &Session<RawData>) -> String {
    let data = match s.data().as_json() {
        Value::Null if !s.data().0.is_empty() => {
            format!("{} bytes (hex {})", s.data().0.len(), hex(&s.data().0))
        }
        value => value.to_string(),
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
    /// The data as JSON if it is what `tessera issue` stores (a postcard
    /// string holding JSON text), otherwise `null`.
    fn as_json(&self) -> Value {
        match postcard::take_from_bytes::<String>(&self.0) {
            Ok((text, [])) => serde_json::from_str(&text).unwrap_or(Value::Null),
            _ => Value::Null,
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
    let token = io::read_token(token)?;
    let Some(encoded) = token.strip_prefix("tsr1.") else {
        return Err(Failure::rejected(
            "not a tessera token (no \"tsr1.\" prefix)",
        ));
    };
    if token.len() > MAX_TOKEN_LENGTH_LIMIT {
        return Err(Failure::rejected(format!(
            "longer than {MAX_TOKEN_LENGTH_LIMIT} characters"
        )));
    }
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
        assert_eq!(session.data().as_json(), Value::Null);

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
        assert_eq!(session.data().as_json(), serde_json::json!({"a": [1, 2]}));
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
        ];
        let mut codes: Vec<_> = errors.iter().map(error_code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        assert!(!codes.contains(&"other"));
    }
}
