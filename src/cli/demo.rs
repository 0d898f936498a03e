//! `mongo-topology demo`: an embedded simulated 3-member replica set, a client seeded with
//! one secondary, and a short narrated script (discovery, failover, a frozen member, a
//! killed and restarted member) printing what the client saw and how fast; it ends with a
//! summary table of the measured timings. Exit 0 when every step was seen, 1 when one was
//! not seen in time (or the simulator could not start), 130 on Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bson::doc;
use clap::Args;
use mongo_topology::sdam::{SdamEvent, ServerType, TopologyDescription};
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::{
    Cluster, ClusterSettings, EventKind, EventRecvError, EventSubscriber, RecordingSettings,
    ServerAddress,
};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};

use crate::cli::timeline::{live_timeline, timeline_text};
use tokio::time::Instant;

/// Shown after the options in `demo --help`.
const DEMO_HELP: &str = "\
Example:
  mongo-topology demo                 the narrated script, about 10 s
  mongo-topology demo --pause-ms 0    the same without pauses between steps (used by tests)

The simulated members listen on free loopback ports; nothing outside this process is
touched. Exit 0 when every step was seen, 1 when one was not seen within --step-timeout-ms,
130 on Ctrl-C.";

/// heartbeatFrequencyMS of the demo's client: the 500 ms minimum, so recovery shows quickly.
const HEARTBEAT_MS: u64 = 500;
/// connectTimeoutMS of the demo's client: how long a frozen member can hold a check.
const CONNECT_TIMEOUT_MS: u64 = 1_000;
/// How long tasks still running at exit (after Ctrl-C) may take to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);
/// How long without an event before the client's pending events count as all printed.
const EVENTS_QUIET: Duration = Duration::from_millis(20);

/// Options of the `demo` command.
#[derive(Debug, Args)]
#[command(after_help = DEMO_HELP)]
pub struct DemoArgs {
    /// Pause between steps, in milliseconds, so a person can read along (0: none).
    #[arg(long, default_value_t = 1_000)]
    pause_ms: u64,
    /// How long to wait for the client to see each change before giving up.
    #[arg(long, default_value_t = 10_000)]
    step_timeout_ms: u64,
    /// Keep the client's recording (docs/recording.md) in FILE; by default it is written to
    /// a temporary file, read for the failover timeline shown at the end, and deleted.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
}

/// Runs the demo; see the module documentation for the exit codes.
pub fn run(args: DemoArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        tokio::select! {
            code = demo(&args) => code,
            _ = tokio::signal::ctrl_c() => {
                println!("\ninterrupted");
                ExitCode::from(130)
            }
        }
    });
    // Interrupted, the simulator's and the client's tasks are abandoned, not awaited.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    code
}

/// One measured timing of the summary table.
struct Timing {
    what: &'static str,
    took: Duration,
}

/// What the script works with.
struct Demo {
    sim: Deployment,
    cluster: Cluster,
    events: EventSubscriber,
    addresses: Vec<ServerAddress>,
    started: Instant,
    pause: Duration,
    step_timeout: Duration,
    timings: Vec<Timing>,
}

/// Why the script stopped early: one line for the user.
type StepError = String;

async fn demo(args: &DemoArgs) -> ExitCode {
    let sim = match Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("error: cannot start the simulated replica set: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = start_and_run(sim, args).await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn start_and_run(sim: Deployment, args: &DemoArgs) -> Result<(), StepError> {
    let addresses = sim
        .addresses()
        .iter()
        .map(|a| a.parse::<ServerAddress>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let seed = addresses.get(1).cloned().ok_or("the set has no member 1")?;
    println!("Started a simulated replica set rs0: {}", join(&addresses));
    let uri = format!(
        "mongodb://{seed}/?replicaSet=rs0&heartbeatFrequencyMS={HEARTBEAT_MS}\
         &connectTimeoutMS={CONNECT_TIMEOUT_MS}&serverSelectionTimeoutMS={}",
        args.step_timeout_ms
    );
    println!("Client seeded with one secondary only: {uri}\n");
    let settings = ClusterSettings::parse(&uri).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let (recording, temporary) = match &args.record {
        Some(path) => (path.clone(), false),
        None => (
            std::env::temp_dir().join(format!("mongo-topology-demo-{}.ndjson", std::process::id())),
            true,
        ),
    };
    let started_cluster =
        Cluster::with_events_and_recording(settings.clone(), &RecordingSettings::new(&recording));
    let (cluster, events) = match started_cluster {
        Ok(started) => started,
        // A temporary file that cannot be written only costs the timeline at the end.
        Err(_) if temporary => Cluster::with_events(settings).map_err(|e| e.to_string())?,
        Err(e) => return Err(e.to_string()),
    };
    let mut demo = Demo {
        sim,
        cluster,
        events,
        addresses,
        started,
        pause: Duration::from_millis(args.pause_ms),
        step_timeout: Duration::from_millis(args.step_timeout_ms),
        timings: Vec::new(),
    };
    let outcome = demo.script().await;
    demo.cluster.close().await;
    if outcome.is_ok() {
        demo.print_summary();
        if let Some(timeline) = live_timeline(&recording) {
            println!("\nThe failovers as the client recorded them (mongo-topology timeline):\n");
            print!("{}", timeline_text(&timeline));
        }
    }
    if temporary {
        let _ = std::fs::remove_file(&recording);
    }
    demo.sim.shutdown().await;
    outcome
}

impl Demo {
    async fn script(&mut self) -> Result<(), StepError> {
        self.discovery().await?;
        self.failover().await?;
        self.frozen_member().await?;
        self.killed_member().await
    }

    /// Step 1: from one seed to the whole set.
    async fn discovery(&mut self) -> Result<(), StepError> {
        println!("1. Discovery from one seed");
        let (seen, took) = self
            .wait("all 3 members and the primary known", self.started, |t| {
                // A PossiblePrimary is only named by others: not checked yet.
                t.primary().is_some()
                    && t.servers.len() == 3
                    && t.servers.values().all(|s| {
                        !matches!(
                            s.server_type,
                            ServerType::Unknown | ServerType::PossiblePrimary
                        )
                    })
            })
            .await?;
        let primary = seen
            .primary()
            .map(|p| p.address.to_string())
            .unwrap_or_else(|| "none".to_owned());
        println!(
            "   discovery: all 3 members known after {}; primary {primary}",
            millis(took)
        );
        self.record("discovery from one seed", took);
        self.pause().await;
        Ok(())
    }

    /// Step 2: stepdown + elect another member; the client follows, a write reaches it.
    async fn failover(&mut self) -> Result<(), StepError> {
        let new_primary = self.address(2)?;
        println!("2. Failover: the primary steps down, then {new_primary} is elected");
        self.sim.stepdown().map_err(|e| e.to_string())?;
        let (_, took) = self
            .wait("no primary after the stepdown", Instant::now(), |t| {
                t.primary().is_none()
            })
            .await?;
        println!("   stepdown seen after {}: no primary", millis(took));
        self.record("stepdown seen (no primary)", took);
        let elected = Instant::now();
        self.sim
            .elect(&MemberRef::Index(2))
            .map_err(|e| e.to_string())?;
        let (_, took) = self
            .wait("the new primary", elected, |t| {
                t.primary().is_some_and(|p| p.address == new_primary)
            })
            .await?;
        println!(
            "   new primary {new_primary} seen {} after the election",
            millis(took)
        );
        self.record("election to new primary seen", took);
        let write = Instant::now();
        let reply = self
            .cluster
            .run_command(
                "demo",
                doc! { "insert": "events", "documents": [{ "step": "failover" }] },
                &SelectionCriteria::write(),
            )
            .await
            .map_err(|e| format!("the insert after the failover failed: {e}"))?;
        let took = write.elapsed();
        let inserted = reply.get("n").map(|n| n.to_string()).unwrap_or_default();
        println!(
            "   insert on the new primary: n={inserted} in {}",
            millis(took)
        );
        self.record("insert on the new primary", took);
        self.pause().await;
        Ok(())
    }

    /// Step 3: a member that accepts connections but never answers, then answers again.
    async fn frozen_member(&mut self) -> Result<(), StepError> {
        let frozen = self.address(1)?;
        println!("3. {frozen} freezes (accepts connections, never answers)");
        self.sim
            .set_frozen(&MemberRef::Index(1), true)
            .map_err(|e| e.to_string())?;
        let (seen, took) = self
            .wait("the frozen member Unknown", Instant::now(), |t| {
                is_unknown(t, &frozen)
            })
            .await?;
        println!(
            "   {frozen} marked Unknown after {} ({})",
            millis(took),
            error_of(&seen, &frozen)
        );
        self.record("frozen member marked Unknown", took);
        let others: Vec<String> = seen
            .servers
            .values()
            .filter(|s| s.address != frozen)
            .map(|s| format!("{} {}", s.address, s.server_type))
            .collect();
        println!("   the others stay known: {}", others.join(", "));
        self.pause().await;
        self.sim
            .set_frozen(&MemberRef::Index(1), false)
            .map_err(|e| e.to_string())?;
        let (_, took) = self
            .wait("the thawed member back", Instant::now(), |t| {
                type_of(t, &frozen) == Some(ServerType::RsSecondary)
            })
            .await?;
        println!(
            "   thawed: {frozen} back as RSSecondary after {}",
            millis(took)
        );
        self.record("thawed member back", took);
        self.pause().await;
        Ok(())
    }

    /// Step 4: a member killed (listener and connections closed), then restarted.
    async fn killed_member(&mut self) -> Result<(), StepError> {
        let killed = self.address(0)?;
        println!("4. {killed} is killed, then restarted");
        let kill = Instant::now();
        self.sim
            .kill(&MemberRef::Index(0))
            .await
            .map_err(|e| e.to_string())?;
        let (seen, took) = self
            .wait("the killed member Unknown", kill, |t| {
                is_unknown(t, &killed)
            })
            .await?;
        println!(
            "   {killed} marked Unknown after {} ({})",
            millis(took),
            error_of(&seen, &killed)
        );
        self.record("killed member marked Unknown", took);
        self.pause().await;
        let restart = Instant::now();
        self.sim
            .restart(&MemberRef::Index(0))
            .await
            .map_err(|e| e.to_string())?;
        let (_, took) = self
            .wait("the restarted member back", restart, |t| {
                type_of(t, &killed) == Some(ServerType::RsSecondary)
            })
            .await?;
        println!(
            "   restarted: {killed} back as RSSecondary after {}",
            millis(took)
        );
        self.record("restarted member back", took);
        Ok(())
    }

    fn record(&mut self, what: &'static str, took: Duration) {
        self.timings.push(Timing { what, took });
    }

    /// Waits for the client's view to satisfy `condition`, for at most the step timeout;
    /// returns it with the time since `since`, after printing what the client saw.
    async fn wait(
        &mut self,
        what: &str,
        since: Instant,
        condition: impl FnMut(&TopologyDescription) -> bool,
    ) -> Result<(Arc<TopologyDescription>, Duration), StepError> {
        let seen = self
            .cluster
            .wait_for(condition, self.step_timeout)
            .await
            .map_err(|e| {
                format!("not seen in time: {what} ({e}); try a larger --step-timeout-ms")
            })?;
        let took = since.elapsed();
        self.narrate_pending().await;
        Ok((seen, took))
    }

    /// Prints every change of a server's type the client's events reported so far, with
    /// the time since the start. A description is published just before its events are
    /// emitted, so this waits until no event has come for [`EVENTS_QUIET`].
    async fn narrate_pending(&mut self) {
        loop {
            let event = match tokio::time::timeout(EVENTS_QUIET, self.events.recv()).await {
                Ok(Ok(event)) => event,
                Ok(Err(EventRecvError::Missed(_))) => continue,
                Ok(Err(_)) | Err(_) => return,
            };
            if let EventKind::Sdam(SdamEvent::ServerDescriptionChanged {
                address,
                previous,
                new,
            }) = &event.kind
            {
                if previous.server_type != new.server_type {
                    println!(
                        "   [{} since start] client saw {address}: {} -> {}",
                        millis(event.at.saturating_duration_since(self.started)),
                        previous.server_type,
                        new.server_type
                    );
                }
            }
        }
    }

    fn address(&self, index: usize) -> Result<ServerAddress, StepError> {
        self.addresses
            .get(index)
            .cloned()
            .ok_or_else(|| format!("the set has no member {index}"))
    }

    async fn pause(&self) {
        tokio::time::sleep(self.pause).await;
    }

    fn print_summary(&self) {
        println!("\nSummary (heartbeatFrequencyMS={HEARTBEAT_MS}, connectTimeoutMS={CONNECT_TIMEOUT_MS})");
        let width = self.timings.iter().map(|t| t.what.len()).max().unwrap_or(0);
        for timing in &self.timings {
            println!("  {:<width$}  {:>10}", timing.what, millis(timing.took));
        }
        println!(
            "  {:<width$}  {:>10}",
            "whole demo",
            millis(self.started.elapsed())
        );
    }
}

fn type_of(topology: &TopologyDescription, address: &ServerAddress) -> Option<ServerType> {
    topology.server(address).map(|s| s.server_type)
}

fn is_unknown(topology: &TopologyDescription, address: &ServerAddress) -> bool {
    matches!(
        type_of(topology, address),
        Some(ServerType::Unknown | ServerType::PossiblePrimary)
    )
}

fn error_of(topology: &TopologyDescription, address: &ServerAddress) -> String {
    topology
        .server(address)
        .and_then(|s| s.error.as_ref())
        .map(|e| e.to_string())
        .unwrap_or_else(|| "no error recorded".to_owned())
}

fn join(addresses: &[ServerAddress]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A duration in milliseconds with one decimal, e.g. "1502.3 ms".
fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1_000.0)
}
