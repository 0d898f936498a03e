//! `mongo-topology sim --replay FILE [--speed X] [--from T] [--to T]`: serve a recording made
//! by `watch --record` (docs/recording.md) on loopback, one node per recorded address,
//! answering hello as the recorded servers did at the same time (polling and streaming
//! clients) and failing as they failed.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mongo_topology_sim::replay::{Replay, ReplayOptions, ReplayTime};
use tokio::io::AsyncReadExt;
use tokio::signal::unix::{signal, SignalKind};

use super::untrusted::{display_untrusted, LINE_CHARS};

/// The largest recording read: 1 GiB (a recording file is rotated far below this by default).
const MAX_RECORDING_BYTES: u64 = 1024 * 1024 * 1024;

/// The replay options of `sim`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// Serve this recording (from `watch --record`) instead of a simulated deployment: the
    /// first line on standard output is a connection string to it; the simulator exits when
    /// standard input closes or on SIGINT/SIGTERM.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Replay this many times faster than recorded (with --replay).
    #[arg(long, value_name = "X", default_value_t = 1.0, requires = "replay")]
    speed: f64,
    /// Start at this time of the recording, with the state it shows then: seconds from its
    /// start (`12.5`) or a wall-clock time as the recording writes them
    /// (`2026-12-07T05:49:57.559Z`) (with --replay).
    #[arg(long, value_name = "T", requires = "replay")]
    from: Option<ReplayTime>,
    /// Serve the recording up to this time only (same forms as --from); each node then keeps
    /// answering as at that time (with --replay).
    #[arg(long, value_name = "T", requires = "replay")]
    to: Option<ReplayTime>,
}

impl ReplayArgs {
    /// Whether a replay was asked for.
    pub(crate) fn requested(&self) -> bool {
        self.replay.is_some()
    }
}

/// Serves the recording until standard input closes or a termination signal arrives.
pub(crate) fn run(args: &ReplayArgs) -> ExitCode {
    let Some(path) = &args.replay else {
        return ExitCode::FAILURE;
    };
    let text = match read_recording(path) {
        Ok(text) => text,
        Err(message) => {
            eprintln!("error: {}", display_untrusted(&message, LINE_CHARS));
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let options = ReplayOptions {
        speed: args.speed,
        from: args.from.clone(),
        to: args.to.clone(),
    };
    let code = runtime.block_on(serve(&text, &options));
    // Standard input is read on a blocking thread that cannot be interrupted: do not wait.
    runtime.shutdown_background();
    code
}

fn read_recording(path: &PathBuf) -> Result<String, String> {
    let file = std::fs::File::open(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_RECORDING_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if u64::try_from(text.len()).unwrap_or(u64::MAX) > MAX_RECORDING_BYTES {
        return Err(format!(
            "{} is larger than {MAX_RECORDING_BYTES} bytes",
            path.display()
        ));
    }
    Ok(text)
}

async fn serve(text: &str, options: &ReplayOptions) -> ExitCode {
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        eprintln!("error: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    let replay = match Replay::start_with(text, options).await {
        Ok(replay) => replay,
        Err(error) => {
            eprintln!(
                "error: {}",
                display_untrusted(&error.to_string(), LINE_CHARS)
            );
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            display_untrusted(&replay.connection_string(), LINE_CHARS)
        );
        let _ = out.flush();
    }
    let mut stdin = tokio::io::stdin();
    let mut sink = [0u8; 1024];
    loop {
        tokio::select! {
            read = stdin.read(&mut sink) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    replay.shutdown().await;
    ExitCode::SUCCESS
}
