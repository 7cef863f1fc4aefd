//! Reading and writing: keyset files, standard input and output (`-`).

use std::io::{self, Read, Write};
use std::path::Path;

use tessera::{Error, Keyset, VerifierKeyset, MAX_KEYSET_FILE_LEN, MAX_TOKEN_LENGTH_LIMIT};
use zeroize::Zeroizing;

use crate::failure::Failure;

/// Whether a FILE argument means standard input or output.
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Refuses two arguments that would both read standard input.
pub fn one_stdin(first: &Path, second: &str) -> Result<(), Failure> {
    if is_stdio(first) && second == "-" {
        return Err(Failure::usage(
            "only one of the keyset and the token can come from standard input",
        ));
    }
    Ok(())
}

/// Reads standard input, refusing more than `limit` bytes. The buffer is
/// allocated once, so that no copy of a secret is left by a reallocation.
fn read_stdin(limit: usize, what: &str) -> Result<Zeroizing<String>, Failure> {
    read_stdin_within(limit, what)?.ok_or_else(|| {
        Failure::usage(format!(
            "{what} on standard input is longer than {limit} bytes"
        ))
    })
}

/// Reads standard input as text; `None` if it holds more than `limit` bytes
/// (of which no more than `limit + 1` are read).
fn read_stdin_within(limit: usize, what: &str) -> Result<Option<Zeroizing<String>>, Failure> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(limit.saturating_add(1)));
    io::stdin()
        .lock()
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::usage(format!("cannot read {what} from standard input: {e}")))?;
    if bytes.len() > limit {
        return Ok(None);
    }
    match String::from_utf8(core::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Some(Zeroizing::new(text))),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Err(Failure::usage(format!(
                "{what} on standard input is not UTF-8 text"
            )))
        }
    }
}

/// A TOKEN argument, as read.
pub enum TokenArg {
    /// The token's text.
    Text(String),
    /// Standard input held more than any token and its surrounding
    /// whitespace can be: rejected as too large, exactly as a token that
    /// long given as an argument is.
    TooLarge,
}

impl TokenArg {
    /// The token's text, or [`Error::TooLarge`], the verdict the library
    /// gives a token longer than it accepts.
    pub fn text(&self) -> Result<&str, Error> {
        match self {
            TokenArg::Text(text) => Ok(text),
            TokenArg::TooLarge => Err(Error::TooLarge),
        }
    }
}

/// A TOKEN argument: the token itself, or `-` for one read from standard
/// input (surrounding whitespace, such as a final newline, is ignored).
pub fn read_token(arg: &str) -> Result<TokenArg, Failure> {
    if arg != "-" {
        return Ok(TokenArg::Text(arg.to_string()));
    }
    // Room for a token at the library's limit and generous whitespace; a
    // longer one is too large, however much of it is whitespace.
    let text = read_stdin_within(MAX_TOKEN_LENGTH_LIMIT * 2, "the token")?;
    Ok(text.map_or(TokenArg::TooLarge, |text| {
        TokenArg::Text(text.trim().to_string())
    }))
}

/// Either kind of keyset file.
pub enum AnyKeyset {
    /// An issuer keyset (signing keys).
    Issuer(Keyset),
    /// A verifier keyset.
    Verifier(VerifierKeyset),
}

impl AnyKeyset {
    /// The verifying half, whichever kind was read.
    pub fn into_verifier(self) -> VerifierKeyset {
        match self {
            AnyKeyset::Issuer(keys) => keys.verifier_keyset(),
            AnyKeyset::Verifier(keys) => keys,
        }
    }
}

/// Reads an issuer keyset from a file (refused if group or others can access
/// it) or from standard input.
pub fn load_issuer(path: &Path) -> Result<Keyset, Failure> {
    let result = if is_stdio(path) {
        Keyset::from_json(&read_stdin(MAX_KEYSET_FILE_LEN, "the keyset")?)
    } else {
        Keyset::load(path)
    };
    result.map_err(|e| Failure::file(path, &e))
}

/// Reads a verifier keyset, or an issuer keyset, from a file (either is
/// refused if group or others can access it) or from standard input.
pub fn load_any(path: &Path) -> Result<AnyKeyset, Failure> {
    let result = if is_stdio(path) {
        let text = read_stdin(MAX_KEYSET_FILE_LEN, "the keyset")?;
        match VerifierKeyset::from_json(&text) {
            Err(Error::IssuerKeyset) => Keyset::from_json(&text).map(AnyKeyset::Issuer),
            other => other.map(AnyKeyset::Verifier),
        }
    } else {
        match VerifierKeyset::load(path) {
            Err(Error::IssuerKeyset) => Keyset::load(path).map(AnyKeyset::Issuer),
            other => other.map(AnyKeyset::Verifier),
        }
    };
    result.map_err(|e| Failure::file(path, &e))
}

/// Loads the issuer keyset at `path`, applies `change`, and saves it
/// atomically, under the keyset's edit lock (`FILE.lock`) so that concurrent
/// commands never lose an update; nothing is written if `change` fails or
/// changes nothing.
pub fn update<T>(
    path: &Path,
    change: impl FnOnce(&mut Keyset) -> Result<T, Failure>,
) -> Result<T, Failure> {
    /// Why an edit stopped: the keyset file, or the change itself.
    enum Stop {
        File(Error),
        Change(Failure),
    }
    impl From<Error> for Stop {
        fn from(e: Error) -> Stop {
            Stop::File(e)
        }
    }
    if is_stdio(path) {
        return Err(Failure::usage(
            "a keyset cannot be updated in place on standard input; give its file",
        ));
    }
    Keyset::edit(path, |keys| change(keys).map_err(Stop::Change)).map_err(|stop| match stop {
        Stop::File(e) => Failure::file(path, &e),
        Stop::Change(failure) => failure,
    })
}

/// Writes a new keyset file with `save`, or `json` to standard output for
/// `-`. An existing file is replaced only with `force`.
pub fn write_new(
    out: &Path,
    force: bool,
    json: &str,
    save: impl FnOnce(&Path) -> Result<(), Error>,
) -> Result<(), Failure> {
    if is_stdio(out) {
        return print(json);
    }
    if !force && out.symlink_metadata().is_ok() {
        return Err(Failure::usage(format!(
            "{} already exists; use --force to replace it",
            out.display()
        )));
    }
    save(out).map_err(|e| Failure::file(out, &e))
}

/// Writes `text` to standard output.
pub fn print(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::usage(format!("cannot write to standard output: {e}")))
}

/// Writes `line` and a newline to standard error: what a command tells
/// people when its standard output is taken by data (`--out -`).
pub fn eprintln(line: impl std::fmt::Display) -> Result<(), Failure> {
    let mut err = io::stderr().lock();
    writeln!(err, "{line}")
        .and_then(|()| err.flush())
        .map_err(|e| Failure::usage(format!("cannot write to standard error: {e}")))
}

/// Writes `line` and a newline to standard output.
pub fn println(line: impl std::fmt::Display) -> Result<(), Failure> {
    print(&format!("{line}\n"))
}
