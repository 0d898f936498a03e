//! `mongo-topology watch`: follows a deployment as a client sees it, until `--duration`,
//! `q`, Ctrl-C or SIGTERM. Three views of the same [`timeline::Record`]s: NDJSON
//! (`--json`), an interactive terminal view (stdout a terminal), plain text lines
//! (otherwise); optionally Prometheus metrics over HTTP (`--metrics-addr`).

mod help;
mod metrics;
mod output;
mod recording;
mod state;
mod text;
mod timeline;
#[cfg(test)]
mod timeline_tests;
mod tui;
#[cfg(test)]
mod tui_tests;

pub(crate) use text::rfc3339;

use std::io::{self, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Args;
use mongo_topology::{Cluster, ClusterSettings, EventRecvError};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant;

use self::help::WATCH_HELP;
use self::metrics::Metrics;
use self::output::{Output, Sent, FLUSH_GRACE};
use self::state::WatchState;
use self::timeline::{Record, Timeline, What};
use super::connect::{self, ResolveError};
use super::untrusted::{display_untrusted, LINE_CHARS};

/// The longest `--duration` accepted: 100 years (365.25 days each). Larger values are refused
/// so that the deadline (`started + duration`) can never overflow the clock.
const MAX_DURATION: Duration = Duration::from_secs(3_155_760_000);
/// How often the RTT trend is sampled, the metrics refreshed and the view redrawn.
const TICK: Duration = Duration::from_millis(500);
/// How long closing the client may take before the watch exits anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Options of the `watch` command.
#[derive(Debug, Args)]
#[command(after_help = WATCH_HELP)]
pub struct WatchArgs {
    /// The connection string: as an argument, with --uri-file, or in MONGODB_URI.
    #[command(flatten)]
    uri: connect::UriSource,
    /// Print NDJSON, one event per line, instead of a view for people.
    #[arg(long)]
    json: bool,
    /// Stop by itself after this many seconds (exit 0). At most 3155760000 (100 years): a
    /// larger value is refused as a usage error.
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Serve Prometheus metrics at http://HOST:PORT/metrics while watching.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// Send the DNS queries of a mongodb+srv string (and of host names) to this name
    /// server instead of the system's resolver.
    #[arg(long, value_name = "IP:PORT")]
    dns_server: Option<std::net::SocketAddr>,
    /// Give up after this many milliseconds when the mongodb+srv lookups (SRV and TXT) of
    /// the start have not finished (exit 2). Later rescans are bounded by the engine.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    timeout_ms: u64,
    #[command(flatten)]
    recording: recording::RecordArgs,
}

/// Why the watch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Duration,
    Quit,
    OutputClosed,
    Interrupted,
    Terminated,
    ClientClosed,
}

impl End {
    fn exit_code(self) -> ExitCode {
        match self {
            End::Interrupted => ExitCode::from(130),
            End::Terminated => ExitCode::from(143),
            _ => ExitCode::SUCCESS,
        }
    }
}

/// Where records go.
enum View {
    Json,
    Plain,
    Tui(tui::Screen),
}

impl View {
    /// The line `record` prints (without its newline); `None` when this view prints no line
    /// for it (the terminal view redraws from the state instead).
    fn line(&self, record: &Record) -> Option<String> {
        match self {
            View::Json => Some(text::json_line(record)),
            View::Plain if text::for_people(&record.what) => Some(text::plain_line(record)),
            View::Plain | View::Tui(_) => None,
        }
    }

    fn tick(&mut self, state: &WatchState) -> io::Result<()> {
        match self {
            View::Tui(screen) => screen.draw(state),
            _ => Ok(()),
        }
    }
}

/// Whether colours may be used: stdout is a terminal and NO_COLOR is unset or empty.
pub fn colour_allowed() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {}", display_untrusted(message, LINE_CHARS));
    ExitCode::from(1)
}

/// Runs `watch`; see [`WATCH_HELP`] for the exit codes.
pub fn run(args: WatchArgs) -> ExitCode {
    let text = match args.uri.text() {
        Ok(text) => text,
        Err(message) => return usage_error(&message),
    };
    let duration = match args.duration {
        None => None,
        Some(secs) if secs > MAX_DURATION.as_secs_f64() => {
            return usage_error(&format!(
                "--duration must be at most {} seconds (100 years)",
                MAX_DURATION.as_secs()
            ))
        }
        Some(secs) => match Duration::try_from_secs_f64(secs) {
            Ok(duration) => Some(duration),
            Err(_) => return usage_error("--duration must be a number of seconds, 0 or more"),
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return usage_error(&format!("cannot start the async runtime: {error}")),
    };
    let code = runtime.block_on(async {
        let lookups = tokio::time::timeout(
            Duration::from_millis(args.timeout_ms),
            connect::resolve(&text, args.dns_server),
        );
        let Ok(resolved) = lookups.await else {
            eprintln!(
                "error: cannot resolve the seed list: the DNS lookups did not finish within \
                 --timeout-ms ({} ms)",
                args.timeout_ms
            );
            return ExitCode::from(2);
        };
        let resolved = match resolved {
            Ok(resolved) => resolved,
            Err(ResolveError::Usage(message)) => return usage_error(&message),
            Err(ResolveError::SeedList(message)) => {
                eprintln!("error: {}", display_untrusted(&message, LINE_CHARS));
                return ExitCode::from(2);
            }
        };
        if let Some(srv) = &resolved.settings.srv {
            let records: Vec<String> = resolved
                .srv_records
                .iter()
                .map(connect::srv_record_text)
                .collect();
            eprintln!(
                "SRV records of {}: {}",
                srv.query_name(),
                records.join(", ")
            );
        }
        let mut settings = resolved.settings;
        // Watching only monitors: no pool connection, so no authentication attempt.
        settings.warm_up = false;
        match watch(&args, resolved.uri.to_string(), settings, duration).await {
            Ok(end) => end.exit_code(),
            Err(message) => usage_error(&message),
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

/// The signal handlers, installed before the client starts.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

async fn watch(
    args: &WatchArgs,
    uri: String,
    settings: ClusterSettings,
    duration: Option<Duration>,
) -> Result<End, String> {
    let mut signals = Signals {
        interrupt: signal(SignalKind::interrupt())
            .map_err(|error| format!("cannot install signal handlers: {error}"))?,
        terminate: signal(SignalKind::terminate())
            .map_err(|error| format!("cannot install signal handlers: {error}"))?,
    };
    let metrics = match &args.metrics_addr {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|error| format!("cannot listen on {address} for metrics: {error}"))?;
            if let Ok(local) = listener.local_addr() {
                eprintln!("metrics: http://{local}/metrics");
            }
            let metrics = Arc::new(Metrics::new());
            tokio::spawn(metrics::serve(listener, metrics.clone()));
            Some(metrics)
        }
        None => None,
    };
    // Every stdout write from here on goes through this writer (see `output`), its queue
    // sized so that the lines of discovery's burst fit whole.
    let queue_chunks = output::queue_chunks_for_seeds(settings.topology.seeds.len());
    let output = Output::start(queue_chunks)
        .map_err(|error| format!("cannot start writing the output: {error}"))?;
    let (mut view, keys) = if args.json {
        (View::Json, None)
    } else if io::stdout().is_terminal() {
        let (screen, keys) = tui::Screen::start(colour_allowed(), output.queue())
            .map_err(|error| format!("cannot use the terminal: {error}"))?;
        (View::Tui(screen), Some(keys))
    } else {
        (View::Plain, None)
    };
    let started = Instant::now();
    let mut timeline = Timeline::new(started, SystemTime::now());
    let (cluster, mut events) = args.recording.start_cluster(settings, &uri)?;
    let mut state = WatchState::new(uri, cluster.topology());
    let mut watch = Watch {
        view: &mut view,
        state: &mut state,
        timeline: &mut timeline,
        metrics: metrics.as_deref(),
        output: &output,
        missed: 0,
    };
    let end = watch
        .follow(&cluster, &mut events, &mut signals, keys, duration, started)
        .await;
    // Closing emits the last events (servers closed, topology closed): show them too.
    let _ = tokio::time::timeout(CLOSE_GRACE, cluster.close()).await;
    if end != End::OutputClosed {
        let drain = async {
            while let Ok(event) = events.recv().await {
                for record in watch.timeline.on_event(&event) {
                    if watch.show(record).is_err() {
                        return;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
        let _ = watch.report_missed();
    }
    drop(view);
    // Recorded, with an incident: its timeline (the terminal view is gone by now).
    if end != End::OutputClosed {
        for line in args.recording.final_timeline(args.json) {
            let mut bytes = line.into_bytes();
            bytes.push(b'\n');
            if output.queue().send_patiently(bytes, FLUSH_GRACE) == Sent::Closed {
                break;
            }
        }
    }
    // A reader that stalled gets what is queued for at most FLUSH_GRACE, then the exit.
    output.finish(FLUSH_GRACE);
    Ok(end)
}

/// The running watch: where records go and what they update.
struct Watch<'a> {
    view: &'a mut View,
    state: &'a mut WatchState,
    timeline: &'a mut Timeline,
    metrics: Option<&'a Metrics>,
    /// The writer of every stdout byte.
    output: &'a Output,
    /// Lines the output queue dropped (its reader was not keeping up) and no
    /// `events_missed` line has reported yet.
    missed: u64,
}

impl Watch<'_> {
    fn show(&mut self, record: Record) -> io::Result<()> {
        if let Some(metrics) = self.metrics {
            metrics.count(&record);
        }
        self.state.push_record(record.clone());
        if let View::Tui(screen) = self.view {
            return screen.draw(self.state);
        }
        let Some(line) = self.view.line(&record) else {
            return Ok(());
        };
        self.report_missed()?;
        if self.send_line(line)? == Sent::Dropped {
            self.missed = self.missed.saturating_add(1);
        }
        Ok(())
    }

    /// Reports the lines the output queue dropped as one `events_missed` line, once the
    /// queue has room for it (until then they keep being counted).
    fn report_missed(&mut self) -> io::Result<()> {
        if self.missed == 0 {
            return Ok(());
        }
        let count = self.missed;
        let record = self
            .timeline
            .record(Instant::now(), What::EventsMissed { count });
        let Some(line) = self.view.line(&record) else {
            return Ok(());
        };
        if self.send_line(line)? == Sent::Queued {
            self.missed = 0;
        }
        Ok(())
    }

    /// Queues one line without waiting; an error once the writer has stopped.
    fn send_line(&mut self, line: String) -> io::Result<Sent> {
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        match self.output.send(bytes) {
            Sent::Closed => Err(io::ErrorKind::BrokenPipe.into()),
            sent => Ok(sent),
        }
    }

    /// Shows events until the watch should end, and says why.
    async fn follow(
        &mut self,
        cluster: &Cluster,
        events: &mut mongo_topology::EventSubscriber,
        signals: &mut Signals,
        mut keys: Option<mpsc::Receiver<tui::Key>>,
        duration: Option<Duration>,
        started: Instant,
    ) -> End {
        // `--duration` is bounded by MAX_DURATION; past the clock's range it is forever.
        let deadline = duration.and_then(|duration| started.checked_add(duration));
        let mut tick = tokio::time::interval(TICK);
        let reader_gone = stdout_closed();
        tokio::pin!(reader_gone);
        loop {
            let shown = tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => {
                        if let mongo_topology::EventKind::Sdam(
                            mongo_topology::sdam::SdamEvent::TopologyDescriptionChanged { new, .. },
                        ) = &event.kind
                        {
                            self.state.topology = new.clone();
                            if let Some(metrics) = self.metrics {
                                metrics.update(new);
                            }
                        }
                        let mut outcome = Ok(());
                        for record in self.timeline.on_event(&event) {
                            outcome = outcome.and_then(|()| self.show(record));
                        }
                        outcome
                    }
                    Err(EventRecvError::Missed(count)) => {
                        let record = self.timeline.record(Instant::now(), What::EventsMissed { count });
                        self.state.topology = cluster.topology();
                        self.show(record)
                    }
                    Err(_) => return End::ClientClosed,
                },
                _ = tick.tick() => {
                    let topology = cluster.topology();
                    if let Some(metrics) = self.metrics {
                        metrics.update(&topology);
                    }
                    // Only the terminal view draws the RTT trend: sampling it walks every
                    // server, which `--json` and plain lines would pay for nothing.
                    if matches!(self.view, View::Tui(_)) {
                        self.state.sample(topology, started.elapsed());
                    } else {
                        self.state.topology = topology;
                    }
                    self.view.tick(self.state)
                }
                _ = sleep_until(deadline) => return End::Duration,
                _ = &mut reader_gone => return End::OutputClosed,
                _ = signals.interrupt.recv() => return End::Interrupted,
                _ = signals.terminate.recv() => return End::Terminated,
                key = next_key(&mut keys) => return match key {
                    tui::Key::Quit => End::Quit,
                    tui::Key::Interrupt => End::Interrupted,
                },
            };
            if let Err(error) = shown {
                if error.kind() != io::ErrorKind::BrokenPipe {
                    tracing::warn!(%error, "watch: cannot write the output");
                }
                return End::OutputClosed;
            }
        }
    }
}

/// Returns when the reader of stdout has gone (a pipe whose other end closed, e.g. `| head`),
/// so that a quiet deployment does not keep the watch running until its next line; never
/// when stdout is a terminal or a file (epoll cannot watch files).
async fn stdout_closed() {
    use std::os::fd::AsFd;
    use tokio::io::Interest;
    use tokio::net::unix::pipe;

    let stdout = io::stdout();
    if stdout.is_terminal() {
        return std::future::pending().await;
    }
    // A duplicate of stdout, registered as a pipe's write end without changing its flags
    // (stdout stays blocking); epoll reports an error on it once the read end is closed.
    let watched = stdout
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Sender::from_owned_fd_unchecked);
    let Ok(sender) = watched else {
        return std::future::pending().await;
    };
    loop {
        match sender.ready(Interest::ERROR).await {
            Ok(ready) if ready.is_error() || ready.is_write_closed() => return,
            Ok(_) => continue,
            Err(_) => return std::future::pending().await,
        }
    }
}

/// Waits until `deadline`; forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The next key that ends the view; forever without a terminal (or when its reader ends).
async fn next_key(keys: &mut Option<mpsc::Receiver<tui::Key>>) -> tui::Key {
    match keys {
        Some(receiver) => match receiver.recv().await {
            Some(key) => key,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}
