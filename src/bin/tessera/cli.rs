//! The command line, as clap derive types. Every subcommand's first doc line
//! is its one-line description in `tessera --help`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::duration::parse_duration;
use crate::time::parse_now;

/// Shown after `--help`: what scripts need to know.
const AFTER_HELP: &str = "\
Exit codes:
  0  success (for verify: the token is valid)
  1  token rejected (verify, inspect, revoke --token)
  2  usage error, a file that cannot be read, written or parsed, or Redis
     unreachable or refusing (--redis, fleet)

Durations are a number and a unit: 90s, 30m, 12h, 7d.
Where noted, FILE or TOKEN `-` means standard input or standard output.
Zero-downtime rotation: add, ship export-verifier's output to every verifier,
promote, wait the maximum lifetime, prune. See the README for the runbook.";

/// Keyset files, zero-downtime key rotation and token tools for tessera
/// sessions.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a new issuer keyset with one primary key; prints its id
    Keygen {
        /// Where to write the keyset (mode 0600); `-` for standard output
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace an existing file
        #[arg(long)]
        force: bool,
    },
    /// Add a key that verifies but does not sign yet; prints its id
    Add {
        /// The issuer keyset to update
        file: PathBuf,
    },
    /// Make a key the primary: it signs new tokens
    Promote {
        /// The issuer keyset to update
        file: PathBuf,
        /// The key id
        #[arg(long, value_name = "ID")]
        key: u32,
    },
    /// Add a key and promote it at once (single process only); prints its id
    Rotate {
        /// The issuer keyset to update
        file: PathBuf,
    },
    /// Disable a key: it is kept but its tokens stop verifying
    Disable {
        /// The issuer keyset to update
        file: PathBuf,
        /// The key id
        #[arg(long, value_name = "ID")]
        key: u32,
    },
    /// Enable a disabled key again
    Enable {
        /// The issuer keyset to update
        file: PathBuf,
        /// The key id
        #[arg(long, value_name = "ID")]
        key: u32,
    },
    /// Remove a key for good: its tokens stop verifying at once
    Retire {
        /// The issuer keyset to update
        file: PathBuf,
        /// The key id (not the primary)
        #[arg(long, value_name = "ID")]
        key: u32,
    },
    /// Retire every key whose tokens have all passed their deadline; prints what it removed
    #[command(
        long_about = "Retire every key whose tokens have all passed their deadline; prints \
what it removed.\n\nA key is retired once it stopped being primary more than \
--max-lifetime plus one hour (the largest leeway) ago. Keys that were never primary are \
kept: they are usually added keys waiting to be promoted."
    )]
    Prune {
        /// The issuer keyset to update
        file: PathBuf,
        /// The longest maximum lifetime of any session, plus the time your
        /// fleet takes to pick up a new keyset
        #[arg(long, value_name = "DUR", value_parser = parse_duration)]
        max_lifetime: Duration,
        /// Act as if the time were UNIX seconds (for testing and scripting)
        #[arg(long, value_name = "UNIX", value_parser = parse_now)]
        now: Option<u64>,
    },
    /// Show key ids, states and times of a keyset (never key material)
    List {
        /// An issuer or verifier keyset; `-` for standard input
        file: PathBuf,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// Write the verifier keyset (no signing keys) to ship to verifiers
    #[command(
        long_about = "Write the verifier keyset (no signing keys) to ship to verifiers.\n\n\
With --redis, also (or, without --out, only) publish it to the fleet's Redis: every \
follower that follows keys swaps it in. It holds decryption keys: see docs/fleet.md on \
protecting Redis."
    )]
    ExportVerifier {
        /// The issuer keyset; `-` for standard input
        file: PathBuf,
        /// Where to write it (mode 0600); `-` for standard output
        #[arg(long, value_name = "FILE", required_unless_present = "redis")]
        out: Option<PathBuf>,
        /// Replace an existing file
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Issue a token signed by the primary key; prints it
    #[command(long_about = "Issue a token signed by the primary key; prints it.\n\n\
--data must be JSON. The token carries its text as a string (the data type of tokens \
issued here is a postcard `String`), and `verify` parses it back. Without --data the \
token carries unit data `()`, no bytes at all. Applications choose their own data types.\n\n\
--idle may not be longer than the maximum lifetime, and the session's deadline (now plus \
the maximum lifetime) may not be after the year 9999.")]
    Issue {
        /// The issuer keyset; `-` for standard input
        #[arg(long, value_name = "FILE")]
        keys: PathBuf,
        /// Who the session belongs to
        #[arg(long)]
        subject: String,
        /// Application data, as JSON
        #[arg(long, value_name = "JSON")]
        data: Option<String>,
        /// Idle timeout, at most the maximum lifetime (default 30m, or the
        /// maximum lifetime if that is shorter)
        #[arg(long, value_name = "DUR", value_parser = parse_duration)]
        idle: Option<Duration>,
        /// Absolute maximum lifetime (default 12h)
        #[arg(long, value_name = "DUR", value_parser = parse_duration)]
        max_lifetime: Option<Duration>,
        /// Bind the token to this audience
        #[arg(long)]
        audience: Option<String>,
        /// Act as if the time were UNIX seconds (for testing and scripting)
        #[arg(long, value_name = "UNIX", value_parser = parse_now)]
        now: Option<u64>,
    },
    /// Verify a token: exit 0 if valid, 1 with the reason if not
    Verify {
        /// An issuer or verifier keyset; `-` for standard input
        #[arg(long, value_name = "FILE")]
        keys: PathBuf,
        /// The audience the token must be bound to
        #[arg(long)]
        audience: Option<String>,
        /// Also reject sessions revoked in this snapshot file
        #[arg(long, value_name = "FILE")]
        filter: Option<PathBuf>,
        /// Print JSON for scripts (on standard output, valid or not)
        #[arg(long)]
        json: bool,
        /// Act as if the time were UNIX seconds (for testing and scripting)
        #[arg(long, value_name = "UNIX", value_parser = parse_now)]
        now: Option<u64>,
        /// The token; `-` for standard input
        token: String,
    },
    /// Show a token's version, key id and length (no claims without keys)
    Inspect {
        /// The token; `-` for standard input
        token: String,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// Revoke a session, or every session of a subject, in a snapshot file or through Redis
    #[command(long_about = "Revoke a session, or every session of a subject, in a \
revocation snapshot file (created if missing) or through the fleet's Redis, or both.\n\n\
By token (verified with --keys), by id and exact deadline, or by id alone: then the id is \
revoked for every deadline a session alive now can have, from now minus the largest leeway \
(1h) to now plus --max-lifetime plus 1h, one entry per hour of deadlines (15 for a 12h \
lifetime).\n\n\
--subject NAME logs a subject out everywhere: its sessions issued before --before (default \
now) are rejected. In a file, subject revocations are kept in a sibling file, FILE.subjects, \
which `verify --filter FILE` reads too.\n\n\
With --redis, the revocation is published to the fleet's stream and the command returns \
once Redis has acknowledged it.")]
    Revoke {
        /// The revocation snapshot to update atomically
        #[arg(long, value_name = "FILE", required_unless_present = "redis")]
        filter: Option<PathBuf>,
        /// A currently valid token of the session; `-` for standard input
        #[arg(long, requires = "keys")]
        token: Option<String>,
        /// The keyset to verify --token with (issuer or verifier)
        #[arg(long, value_name = "FILE", requires = "token")]
        keys: Option<PathBuf>,
        /// The audience --token is bound to
        #[arg(long, requires = "token")]
        audience: Option<String>,
        /// The session id (32 hex digits, as `verify` prints it). Without
        /// --deadline, revoked for every deadline the session can have
        #[arg(long, value_name = "HEX", conflicts_with = "token")]
        id: Option<String>,
        /// The session's exact deadline (UNIX seconds, as `verify` prints it)
        #[arg(long, value_name = "UNIX", requires = "id")]
        deadline: Option<u64>,
        /// With --id alone: the longest maximum lifetime your issuers give
        /// sessions (default 12h). With --subject and --filter: how long the
        /// file keeps the revocation (that lifetime plus 1h after --before)
        #[arg(
            long,
            value_name = "DUR",
            value_parser = parse_duration,
            conflicts_with_all = ["deadline", "token"]
        )]
        max_lifetime: Option<Duration>,
        /// Log this subject out everywhere instead of one session
        #[arg(long, value_name = "NAME", conflicts_with_all = ["token", "id"])]
        subject: Option<String>,
        /// With --subject: reject its sessions issued before this time (default now)
        #[arg(long, value_name = "UNIX", requires = "subject", value_parser = parse_now)]
        before: Option<u64>,
        #[command(flatten)]
        fleet: FleetArgs,
        /// Act as if the time were UNIX seconds (for testing and scripting)
        #[arg(long, value_name = "UNIX", value_parser = parse_now)]
        now: Option<u64>,
    },
    /// The fleet's Redis feed (builds with the `fleet-cli` feature)
    Fleet {
        /// What to do.
        #[command(subcommand)]
        command: FleetCommand,
    },
}

/// `fleet` subcommands.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Show the stream's length, the snapshot's age and position, and the published key ids
    Status {
        /// The fleet's Redis, redis://[user:password@]host:port[/db]
        #[arg(long, value_name = "URL")]
        redis: String,
        /// The fleet's key prefix
        #[arg(long, value_name = "PREFIX", default_value = "tessera")]
        prefix: String,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
        /// Act as if the time were UNIX seconds (for the snapshot's age)
        #[arg(long, value_name = "UNIX", value_parser = parse_now)]
        now: Option<u64>,
    },
}

/// Where the fleet's feed is, for commands that publish to it.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Publish to the fleet's Redis, redis://[user:password@]host:port[/db]
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// The fleet's key prefix
    #[arg(
        long,
        value_name = "PREFIX",
        default_value = "tessera",
        requires = "redis"
    )]
    pub prefix: String,
}
