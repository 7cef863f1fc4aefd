//! `tessera`: keyset files, zero-downtime key rotation and token tools.
//!
//! Exit codes: 0 success, 1 token rejected, 2 usage or file error. Every
//! failure is one line on standard error; none carries key material.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod cli;
mod duration;
mod failure;
mod fleet;
mod io;
mod keysets;
mod revoke;
mod time;
mod tokens;

use std::io::Write;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;
use tessera::Keyset;

use crate::cli::{Cli, Command, FleetArgs, FleetCommand};
use crate::failure::Failure;
use crate::fleet::Feed;
use crate::revoke::{Destination, Target};
use crate::tokens::{IssueArgs, VerifyArgs};

fn main() -> ExitCode {
    quiet_panics();
    let result = match Cli::try_parse() {
        Ok(cli) => run(cli.command),
        Err(e) => match e.kind() {
            // Help and version exit 0; help shown for a missing subcommand, 2.
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
            _ => Err(Failure::from_clap(&e)),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let _ = writeln!(std::io::stderr(), "tessera: {failure}");
            failure.exit_code()
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Keygen { out, force } => keysets::keygen(&out, force),
        Command::Add { file } => keysets::add(&file),
        Command::Promote { file, key } => keysets::change_key(&file, key, Keyset::promote),
        Command::Rotate { file } => keysets::rotate(&file),
        Command::Disable { file, key } => keysets::change_key(&file, key, Keyset::disable),
        Command::Enable { file, key } => keysets::change_key(&file, key, Keyset::enable),
        Command::Retire { file, key } => keysets::change_key(&file, key, Keyset::retire),
        Command::Prune {
            file,
            max_lifetime,
            now,
        } => keysets::prune(&file, max_lifetime, now),
        Command::List { file, json } => keysets::list(&file, json),
        Command::ExportVerifier {
            file,
            out,
            force,
            fleet,
        } => keysets::export_verifier(&file, out.as_deref(), force, feed(&fleet).as_ref()),
        Command::Issue {
            keys,
            subject,
            data,
            idle,
            max_lifetime,
            audience,
            now,
        } => tokens::issue(&IssueArgs {
            keys: &keys,
            subject: &subject,
            data: data.as_deref(),
            idle,
            max_lifetime,
            audience: audience.as_deref(),
            now,
        }),
        Command::Verify {
            keys,
            audience,
            filter,
            json,
            now,
            token,
        } => tokens::verify(&VerifyArgs {
            keys: &keys,
            audience: audience.as_deref(),
            filter: filter.as_deref(),
            json,
            now,
            token: &token,
        }),
        Command::Inspect { token, json } => tokens::inspect(&token, json),
        Command::Revoke {
            filter,
            token,
            keys,
            audience,
            id,
            deadline,
            subject,
            before,
            max_lifetime,
            fleet,
            now,
        } => {
            let target = match (
                token.as_deref(),
                keys.as_deref(),
                id.as_deref(),
                deadline,
                subject.as_deref(),
            ) {
                (Some(token), Some(keys), None, None, None) => Target::Token {
                    token,
                    keys,
                    audience: audience.as_deref(),
                },
                (None, None, Some(hex), Some(deadline), None) => Target::Id { hex, deadline },
                (None, None, Some(hex), None, None) => Target::IdAlone { hex, max_lifetime },
                (None, None, None, None, Some(name)) => Target::Subject {
                    name,
                    before,
                    max_lifetime,
                },
                _ => {
                    return Err(Failure::usage(
                        "revoke needs the session: --token TOKEN --keys FILE [--audience A], \
                         or --id HEX [--deadline UNIX], or --subject NAME [--before UNIX]",
                    ))
                }
            };
            let to = Destination {
                filter: filter.as_deref(),
                feed: feed(&fleet),
            };
            revoke::revoke(&to, &target, now)
        }
        Command::Fleet {
            command:
                FleetCommand::Status {
                    redis,
                    prefix,
                    json,
                    now,
                },
        } => fleet::status(
            &Feed {
                url: &redis,
                prefix: &prefix,
            },
            json,
            now,
        ),
    }
}

/// The feed `--redis URL [--prefix P]` names, if any.
fn feed(args: &FleetArgs) -> Option<Feed<'_>> {
    args.redis.as_deref().map(|url| Feed {
        url,
        prefix: &args.prefix,
    })
}

/// A panic (which would be a bug: nothing here unwraps) prints one line and
/// exits with code 2, never a backtrace.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unexpected failure");
        let _ = writeln!(std::io::stderr(), "tessera: internal error: {what}");
        std::process::exit(2);
    }));
}
