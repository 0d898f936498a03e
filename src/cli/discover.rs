//! The `discover` command: discovery from a connection string until every known server has
//! been checked once (or a timeout), then the client's view of the deployment.
//!
//! [`discover`] is shared with the `select` command.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use mongo_topology::sdam::{ServerType, TopologyDescription};
use mongo_topology::selection::ReadPreference;
use mongo_topology::{Cluster, ClusterError, DEFAULT_CONNECT_TIMEOUT};

use super::connect::{self, Resolved};
use super::discovery::Discovery;
use super::proof::{self, Intent};
use super::render;
use super::same_server;
use super::tls_state;
use super::untrusted::{display_untrusted, LINE_CHARS};

const EXAMPLES: &str = "\
Examples:
  mongo-topology discover 'mongodb://db1.example.net:27017/?replicaSet=rs0'
  MONGODB_URI='mongodb://localhost:27017' mongo-topology discover --json
  mongo-topology discover --uri-file ~/.config/fleet.uri --json
  mongo-topology discover --timeout-ms 3000 'mongodb://10.0.0.5:27017/?directConnection=true'
  mongo-topology discover 'mongodb+srv://cluster0.example.net/' --dns-server 10.0.0.2:53

After the table, the verdicts, proven as an application would: a server selected for the
connection string's read preference, then for a write; a pool connection to it (the full
handshake, authentication when the string has credentials, a serviceId through a load
balancer); ping; for the write, a server that reports itself writable. Each is `proven`, or
`FAILS (cause)` with the cause class (unreachable, timeout, auth failed, TLS, not writable,
no serviceId, server selection timeout, ...) and the evidence.
Exit status: 0 when the read and the write are both proven, 2 when either fails, 1 on a
usage or connection string error, 130 on Ctrl-C. Output has no colour.";

/// How much longer than connectTimeoutMS discovery waits by default.
const TIMEOUT_MARGIN: Duration = Duration::from_secs(1);

/// Where to discover: the connection string and how long discovery may take.
#[derive(Debug, Args)]
pub struct Target {
    /// The connection string: as an argument, with --uri-file, or in MONGODB_URI.
    #[command(flatten)]
    pub uri: connect::UriSource,
    /// Stop waiting for servers to be checked after this many milliseconds, counted from the
    /// start: the mongodb+srv lookups and the TLS probe (with tls=true) are bounded by it too. Default: connectTimeoutMS plus
    /// one second (11000 with the default connectTimeoutMS), so that a server that accepts
    /// connections but never answers has its check time out, and is named, first.
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Send the DNS queries of a mongodb+srv string (and of host names) to this name
    /// server instead of the system's resolver.
    #[arg(long, value_name = "IP:PORT")]
    pub dns_server: Option<SocketAddr>,
}

/// `mongo-topology discover`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct DiscoverArgs {
    #[command(flatten)]
    target: Target,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// Runs `discover`.
pub fn run(args: DiscoverArgs) -> ExitCode {
    let discovery = match discover(&args.target, &ProofRequest::default()) {
        Ok(discovery) => discovery,
        Err(error) => return failure(error),
    };
    if args.json {
        println!("{}", render::json(&discovery));
    } else {
        print!("{}", render::report(&discovery));
    }
    if discovery.all_proven() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// Prints `message` as the one line of a usage or connection string error; exit status 1.
pub fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {}", display_untrusted(message, LINE_CHARS));
    ExitCode::from(1)
}

/// Why [`discover`] produced no report.
#[derive(Debug)]
pub enum Failure {
    /// A usage or connection string error: exit status 1.
    Usage(String),
    /// The seed list could not be looked up (`mongodb+srv`): discovery found no server,
    /// exit status 2 as for unreachable seeds.
    SeedList(String),
    /// Ctrl-C (SIGINT): exit status 130.
    Interrupted,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Usage(message)
    }
}

/// Prints `failure` as one line and returns its exit status.
pub fn failure(failure: Failure) -> ExitCode {
    match failure {
        Failure::Usage(message) => usage_error(&message),
        Failure::SeedList(message) => {
            eprintln!("error: {}", display_untrusted(&message, LINE_CHARS));
            ExitCode::from(2)
        }
        Failure::Interrupted => {
            eprintln!("interrupted");
            ExitCode::from(130)
        }
    }
}

/// Whether discovery is done: every server is known, or its last check failed.
fn every_server_checked(topology: &TopologyDescription) -> bool {
    topology.servers.values().all(|server| {
        !matches!(
            server.server_type,
            ServerType::Unknown | ServerType::PossiblePrimary
        ) || server.error.is_some()
    })
}

/// What the read verdict proves, when not the connection string's read preference.
#[derive(Debug, Default)]
pub struct ProofRequest {
    /// The read preference of the read verdict (default: the connection string's).
    pub read_preference: Option<ReadPreference>,
    /// localThresholdMS for selection (default: the connection string's).
    pub local_threshold: Option<Duration>,
}

/// Parses the target's connection string, runs a cluster until every known server has been
/// checked once or the timeout, proves a read and a write on it (see [`proof::prove`]), and
/// closes it. Errors are one line, for exit status 1, or
/// [`Failure::Interrupted`] after Ctrl-C (see [`failure`]).
pub fn discover(target: &Target, proof_request: &ProofRequest) -> Result<Discovery, Failure> {
    let text = target.uri.text()?;
    // Until the connection string's connectTimeoutMS is known (after the mongodb+srv
    // lookups), the default connectTimeoutMS bounds the lookups.
    let lookup_timeout = target.timeout_ms.map_or_else(
        || DEFAULT_CONNECT_TIMEOUT.saturating_add(TIMEOUT_MARGIN),
        Duration::from_millis,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    runtime.block_on(async {
        // Installed before the client starts, so that an early Ctrl-C is seen too.
        let mut interrupt =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map_err(|error| format!("cannot install a signal handler: {error}"))?;
        let started = Instant::now();
        // --timeout-ms bounds the whole command: the mongodb+srv lookups, then the checks
        // with what is left of it.
        let lookups =
            tokio::time::timeout(lookup_timeout, connect::resolve(&text, target.dns_server));
        let resolved = tokio::select! {
            resolved = lookups => {
                resolved.map_err(|_| Failure::SeedList(format!(
                    "cannot resolve the seed list: the DNS lookups did not finish within \
                     --timeout-ms ({} ms)",
                    lookup_timeout.as_millis()
                )))?
            }
            _ = interrupt.recv() => return Err(Failure::Interrupted),
        };
        let resolved = match resolved {
            Ok(resolved) => resolved,
            Err(connect::ResolveError::Usage(message)) => return Err(Failure::Usage(message)),
            Err(connect::ResolveError::SeedList(message)) => {
                return Err(Failure::SeedList(message))
            }
        };
        let Resolved {
            uri,
            mut settings,
            srv_records,
        } = resolved;
        let timeout = target.timeout_ms.map_or_else(
            || {
                settings
                    .connect_timeout
                    .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
                    .saturating_add(TIMEOUT_MARGIN)
            },
            Duration::from_millis,
        );
        // No warm-up: the proofs open the pool connections (and authenticate) themselves.
        settings.warm_up = false;
        if let Some(local_threshold) = proof_request.local_threshold {
            settings.local_threshold = local_threshold;
        }
        let cluster = Cluster::new(settings.clone()).map_err(|error| error.to_string())?;
        let remaining = timeout.saturating_sub(started.elapsed());
        let outcome = tokio::select! {
            outcome = cluster.wait_for(every_server_checked, remaining) => outcome,
            _ = interrupt.recv() => {
                cluster.close().await;
                return Err(Failure::Interrupted);
            }
        };
        let elapsed = started.elapsed();
        let (topology, complete) = match outcome {
            Ok(topology) => (topology, true),
            Err(ClusterError::WaitTimedOut { topology, .. }) => (topology, false),
            Err(error) => {
                cluster.close().await;
                return Err(Failure::Usage(error.to_string()));
            }
        };
        // The verdicts, proven as an application would: a suitable server in the description
        // discovery ended with (no further wait), a pool connection, ping, hello.
        let read = Intent::Read(
            proof_request
                .read_preference
                .clone()
                .unwrap_or_else(|| settings.read_preference.clone()),
        );
        let proofs = async {
            tokio::join!(
                proof::prove(&cluster, &read, Duration::ZERO),
                proof::prove(&cluster, &Intent::Write, Duration::ZERO)
            )
        };
        let (read, write) = tokio::select! {
            verdicts = proofs => verdicts,
            _ = interrupt.recv() => {
                cluster.close().await;
                return Err(Failure::Interrupted);
            }
        };
        cluster.close().await;
        let addresses: Vec<_> = topology.servers.keys().cloned().collect();
        // The TLS probe gets what is left of --timeout-ms, not a connectTimeoutMS of its own.
        let left = timeout.saturating_sub(started.elapsed());
        let tls = tls_state::probe(&settings, &addresses, left).await;
        // Removed seeds that were a member under another name: a second of lookups at most.
        let left = timeout
            .saturating_sub(started.elapsed())
            .min(Duration::from_secs(1));
        let same_server =
            same_server::removed_seeds_that_duplicate_members(&topology, uri.hosts(), left).await;
        Ok(Discovery {
            uri,
            settings,
            topology,
            elapsed,
            complete,
            tls,
            srv_records,
            verdicts: vec![read, write],
            same_server,
        })
    })
}
