//! Command-line parsing and dispatch: one module per command.

mod connect;
mod demo;
mod discover;
mod discovery;
mod doctor;
mod exporter;
mod metrics;
mod proof;
mod removed;
mod render;
mod same_server;
mod select;
mod sim;
mod sim_fleet;
mod sim_io;
mod sim_replay;
mod sim_tls;
mod sim_world;
mod timeline;
mod tls_state;
mod untrusted;
mod watch;
mod wire_hint;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mongo-topology: MongoDB topology discovery, monitoring and server selection, with a
/// loopback simulator of MongoDB deployments.
#[derive(Debug, Parser)]
#[command(name = "mongo-topology", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a simulated deployment on loopback until standard input closes or SIGINT/SIGTERM.
    Sim(Box<sim::SimArgs>),
    /// Discover a deployment from a connection string and print what a client sees of it.
    Discover(discover::DiscoverArgs),
    /// Discover a deployment, then show which server a read preference would choose, and why
    /// not each other server.
    Select(select::SelectArgs),
    /// Watch a client follow a simulated replica set through a narrated failover script.
    Demo(demo::DemoArgs),
    /// Check whether an application with this connection string will work: discovery,
    /// a probe of every server and reads and writes proven by doing, then findings with
    /// evidence, consequence and fix (rules in docs/doctor.md).
    Doctor(doctor::DoctorArgs),
    /// Follow a deployment live as a client sees it: a terminal view, NDJSON events
    /// (--json) or plain lines, and optionally Prometheus metrics.
    Watch(watch::WatchArgs),
    /// Monitor many deployments (a TOML file of them) and serve their Prometheus metrics,
    /// each labelled with its deployment; SIGHUP re-reads the file.
    Exporter(exporter::ExporterArgs),
    /// The failovers of a recording (watch --record): each stage, how long it took, the
    /// setting that bounds it and what would shorten it; as text, JSON, SVG or HTML.
    Timeline(timeline::TimelineArgs),
}

/// Parses the command line and runs the chosen command.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    // Kept until the command returns, so that buffered log lines are written at exit.
    let _log_writer = init_logging();
    match cli.command {
        Command::Sim(args) => sim::run(*args),
        Command::Discover(args) => discover::run(args),
        Command::Select(args) => select::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Exporter(args) => exporter::run(args),
        Command::Timeline(args) => timeline::run(args),
    }
}

/// `--help` and `--version` print in full (exit 0); a usage error prints its message and
/// clap's "did you mean" tips on one line (exit 1).
fn usage_error(error: &clap::Error) -> ExitCode {
    if !error.use_stderr() {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    // clap's message (possibly a few lines), a blank line, its tips ("a similar subcommand
    // exists: 'discover'", "to pass '--x' as a value, use '-- --x'"), the usage and a
    // pointer to --help: the message and the tips, on one line.
    let text = error.render().to_string();
    let mut message = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if line.is_empty() {
            continue;
        }
        if !message.is_empty() {
            // A line ending in ':' introduces what follows; otherwise a new sentence.
            message.push_str(if message.ends_with(':') { " " } else { "; " });
        }
        message.push_str(line);
    }
    // clap quotes the user's argument as given: shown through `display_untrusted`.
    eprintln!(
        "{} (see --help)",
        untrusted::display_untrusted(&message, untrusted::LINE_CHARS)
    );
    ExitCode::from(1)
}

/// Whether log lines may carry colour: only when standard error is a terminal and
/// `NO_COLOR` is unset or empty (<https://no-color.org>).
fn log_colour() -> bool {
    use std::io::IsTerminal as _;
    let no_colour = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    !no_colour && std::io::stderr().is_terminal()
}

/// The longest log field value written (in characters, after escaping).
const LOG_FIELD_CHARS: usize = 10_000;

/// How log fields are written: each value through [`untrusted::display_untrusted`], since
/// the engine logs what servers send (hello replies, error messages) and a log line must
/// not carry a server's escape sequences or newlines to the terminal.
fn log_fields() -> impl for<'writer> tracing_subscriber::fmt::FormatFields<'writer> {
    use tracing_subscriber::field::MakeExt as _;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let text = format!("{value:?}");
        let text = untrusted::display_untrusted(&text, LOG_FIELD_CHARS);
        if field.name() == "message" {
            write!(writer, "{text}")
        } else {
            write!(writer, "{field}={text}")
        }
    })
    .delimited(" ")
}

/// How many log lines may wait for standard error before new ones are dropped.
const LOG_LINES_BUFFERED: usize = 10_000;

/// Logs go to standard error; `RUST_LOG` selects the level (default: warn).
///
/// Lines are handed to a dedicated writer thread through a bounded buffer, and dropped when
/// the buffer is full: if nobody reads standard error, logging must not block serving.
/// The returned guard writes what is buffered (waiting at most about a second) when dropped.
fn init_logging() -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_LINES_BUFFERED)
        .thread_name("log-writer")
        .finish(std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(log_fields())
        .with_ansi(log_colour())
        .with_writer(writer)
        .try_init();
    guard
}
