//! `mongo-topology doctor`: discovery, direct probes of every server and the verdicts
//! proven by doing, then rules that name every trap found, each with its evidence, its
//! consequence for the application and the fix.
//!
//! `observe` gathers the [`observations::Observations`]; each rule in `rules` is a pure
//! function of them; `render` prints the findings.

mod finding;
mod observations;
mod observe;
mod render;
mod rules;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::connect;
use super::discover::{failure, Failure};
use finding::Severity;

const EXAMPLES: &str = "\
Examples:
  mongo-topology doctor 'mongodb://db1.example.net:27017/?replicaSet=rs0'
  MONGODB_URI='mongodb+srv://cluster0.example.net/' mongo-topology doctor --json
  mongo-topology doctor --fail-on warning \"$MONGODB_URI\"     # in a CI pipeline

Each finding has a stable rule id (e.g. names.set-name-mismatch), explained with the fix in
docs/doctor.md. Exit status: 0 without error findings (without warnings either with
--fail-on warning), 2 otherwise, 1 on a usage or connection string error, 130 on Ctrl-C.";

/// Which findings make the exit status 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Errors only (the default).
    Error,
    /// Warnings and errors.
    Warning,
}

/// `mongo-topology doctor`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct DoctorArgs {
    #[command(flatten)]
    uri: connect::UriSource,
    /// Print one JSON object (with a `findings` array) instead of text.
    #[arg(long)]
    json: bool,
    /// Exit 2 on findings of this severity or worse.
    #[arg(long, value_enum, default_value = "error", value_name = "SEVERITY")]
    fail_on: FailOn,
    /// How long the whole run may take, in milliseconds (default: connectTimeoutMS plus
    /// 750 ms, so a server that never answers is given up by its own connect timeout).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// Send the DNS queries of a mongodb+srv string to this name server instead of the
    /// system's resolver.
    #[arg(long, value_name = "IP:PORT")]
    dns_server: Option<SocketAddr>,
}

/// Runs `doctor`.
pub fn run(args: DoctorArgs) -> ExitCode {
    let text = match args.uri.text() {
        Ok(text) => text,
        Err(message) => return failure(Failure::Usage(message)),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return failure(Failure::Usage(format!(
                "cannot start the async runtime: {error}"
            )))
        }
    };
    let timeout = args.timeout_ms.map(Duration::from_millis);
    let observed = runtime.block_on(async {
        let mut interrupt = tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::interrupt(),
        )
        .map_err(|error| Failure::Usage(format!("cannot install a signal handler: {error}")))?;
        tokio::select! {
            observed = observe::observe(&text, args.dns_server, timeout) => observed,
            _ = interrupt.recv() => Err(Failure::Interrupted),
        }
    });
    let observations = match observed {
        Ok(observations) => observations,
        Err(error) => return failure(error),
    };
    let findings = rules::run_all(&observations);
    if args.json {
        println!("{}", render::json(&observations, &findings));
    } else {
        print!("{}", render::text(&observations, &findings));
    }
    let threshold = match args.fail_on {
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
    };
    if findings.iter().any(|finding| finding.severity >= threshold) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
