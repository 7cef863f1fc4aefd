//! How a command fails: one line on standard error and an exit code.

use std::fmt;
use std::path::Path;
use std::process::ExitCode;

/// A failed command. The message is one line and never holds key material:
/// it is built from fixed text, file names, key ids and `tessera::Error`s,
/// which carry no secrets.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// Exit code 1: the token was rejected.
    pub fn rejected(message: impl fmt::Display) -> Failure {
        Failure {
            code: 1,
            message: format!("token rejected: {message}"),
        }
    }

    /// Exit code 1: the library rejected the token; the message says what
    /// commonly causes it (see [`explain`]).
    pub fn token(error: &tessera::Error) -> Failure {
        Failure::rejected(explain(error))
    }

    /// Exit code 2: a usage error or a file that cannot be read, written or parsed.
    pub fn usage(message: impl fmt::Display) -> Failure {
        Failure {
            code: 2,
            message: message.to_string(),
        }
    }

    /// A usage error from clap, on one line: its message and any tip, without
    /// the usage summary (`--help` has it).
    pub fn from_clap(error: &clap::Error) -> Failure {
        let rendered = error.render().to_string();
        let parts: Vec<String> = rendered
            .split("\n\n")
            .map(str::trim)
            .filter(|p| {
                !p.is_empty() && !p.starts_with("Usage:") && !p.starts_with("For more information")
            })
            .map(|p| {
                let p = p.strip_prefix("error: ").unwrap_or(p);
                p.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect();
        Failure::usage(format!("{} (try --help)", parts.join("; ")))
    }

    /// A file error, prefixed with the file's name unless the error names it.
    pub fn file(path: &Path, error: &tessera::Error) -> Failure {
        match error {
            tessera::Error::InsecurePermissions { .. } | tessera::Error::File { .. } => {
                Failure::usage(error)
            }
            _ => Failure::usage(format!("{}: {error}", path.display())),
        }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever the parts contained.
        f.write_str(&self.message.replace(['\n', '\r'], " "))
    }
}

/// A rejection's message, with what commonly causes it where the error alone
/// reads like an attack but is usually a configuration mistake.
pub fn explain(error: &tessera::Error) -> String {
    match error {
        tessera::Error::Invalid => format!(
            "{error}: forged or damaged, issued under another keyset, or issued for an \
             audience (pass the same --audience)"
        ),
        tessera::Error::UnknownKey => format!(
            "{error}: the key was retired or disabled, or the token was issued under another \
             keyset"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_and_unknown_key_say_what_commonly_causes_them() {
        let invalid = explain(&tessera::Error::Invalid);
        for cause in ["invalid token", "forged", "another keyset", "--audience"] {
            assert!(invalid.contains(cause), "{invalid}");
        }
        assert!(explain(&tessera::Error::UnknownKey).contains("retired"));
        assert_eq!(explain(&tessera::Error::Expired), "session expired");
        let line = Failure::token(&tessera::Error::Invalid).to_string();
        assert!(
            line.starts_with("token rejected: invalid token: "),
            "{line}"
        );
    }
}
