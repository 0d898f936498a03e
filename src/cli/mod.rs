//! Command-line parsing and dispatch: one module per command.

mod sim;

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
    Sim(sim::SimArgs),
}

/// Parses the command line and runs the chosen command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Sim(args) => sim::run(args),
    }
}

/// Logs go to standard error; `RUST_LOG` selects the level (default: warn).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
