//! Where discovery's time goes: runs one discovery against a running deployment (e.g.
//! `mongo-topology sim --members 3`, with `latency M MS` set on each member) and prints, per
//! event, the microseconds since the cluster was created. The events are the engine's own
//! `tracing` records, stamped the moment they are made: a monitor's check started
//! ("heartbeat started"), a TCP connection open ("connected"), a reply received ("heartbeat
//! succeeded"), the cluster task's new description published ("description changed"), and
//! the waiter's observation that every member is known ("observed all known"), and with
//! `ping`, a `ping` on the primary run meanwhile ("ping returned").
//!
//! ```text
//! cargo run --release --example discovery_timeline -- URI MEMBERS [RUNS] [no-warm-up] [current-thread] [ping]
//! ```
//!
//! The first RUNS - 1 discoveries (default 3 in all) are warm-ups; the last one's timeline is
//! printed (up to the waiter's last note), followed by the "all known" time of every run.

#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mongo_topology::sdam::{ServerType, TopologyDescription};
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::{Cluster, ClusterSettings};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

type Failure = Box<dyn std::error::Error>;

/// One recorded event: when, on which thread, what, and for which server.
struct Entry {
    at: Instant,
    thread: String,
    message: String,
    server: String,
}

/// Records every event of the engine with its instant; cheap enough not to distort the
/// timeline much (one lock, a few small strings).
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Entry>>>);

#[derive(Default)]
struct Fields {
    message: String,
    host: String,
    port: String,
    address: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "serverPort" => self.port = format!("{value:?}"),
            "address" => self.address = format!("{value:?}"),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "serverHost" => self.host = value.to_owned(),
            "message" => self.message = value.to_owned(),
            _ => {}
        }
    }
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let at = Instant::now();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let server = if fields.port.is_empty() {
            fields.address
        } else {
            format!("{}:{}", fields.host, fields.port)
        };
        let thread = format!("{:?}", std::thread::current().id());
        if let Ok(mut entries) = self.0.lock() {
            entries.push(Entry {
                at,
                thread,
                message: fields.message,
                server,
            });
        }
    }
}

impl Recorder {
    fn note(&self, message: &str) {
        if let Ok(mut entries) = self.0.lock() {
            entries.push(Entry {
                at: Instant::now(),
                thread: format!("{:?}", std::thread::current().id()),
                message: message.to_owned(),
                server: String::new(),
            });
        }
    }

    fn take(&self) -> Vec<Entry> {
        self.0
            .lock()
            .map(|mut entries| std::mem::take(&mut *entries))
            .unwrap_or_default()
    }
}

fn all_known(description: &TopologyDescription, count: usize) -> bool {
    description.servers.len() == count
        && description
            .servers
            .values()
            .all(|server| server.server_type != ServerType::Unknown)
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let uri = args
        .first()
        .ok_or("usage: URI MEMBERS [RUNS] [flags]")?
        .clone();
    let members: usize = args.get(1).ok_or("missing MEMBERS")?.parse()?;
    let runs: usize = match args.get(2) {
        Some(runs) if runs.parse::<usize>().is_ok() => runs.parse()?,
        _ => 3,
    };
    let warm_up = !args.iter().any(|a| a == "no-warm-up");
    let ping = args.iter().any(|a| a == "ping");
    let runtime = if args.iter().any(|a| a == "current-thread") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Runtime::new()?
    };
    let recorder = Recorder::default();
    tracing_subscriber::registry()
        .with(
            recorder.clone().with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("mongo_topology", tracing::Level::DEBUG),
            ),
        )
        .init();
    let mut known_ms = Vec::new();
    let mut last = Vec::new();
    for _ in 0..runs.max(1) {
        recorder.take();
        let started = Instant::now();
        let elapsed = runtime.block_on(async {
            let mut settings = ClusterSettings::parse(&uri)?;
            recorder.note("settings parsed");
            settings.warm_up = warm_up;
            let cluster = Cluster::new(settings)?;
            recorder.note("Cluster::new returned");
            let known = async {
                let mut watcher = cluster.watch();
                while !all_known(&watcher.current(), members) {
                    watcher.changed().await?;
                }
                recorder.note("observed all known");
                Ok::<Duration, Failure>(started.elapsed())
            };
            let pinged = async {
                if ping {
                    let ping = bson::doc! { "ping": 1 };
                    cluster
                        .run_command("admin", ping, &SelectionCriteria::write())
                        .await?;
                    recorder.note("ping returned");
                }
                Ok::<(), Failure>(())
            };
            let (elapsed, pinged) = tokio::join!(known, pinged);
            pinged?;
            let elapsed = elapsed?;
            cluster.close().await;
            Ok::<Duration, Failure>(elapsed)
        })?;
        known_ms.push(elapsed.as_secs_f64() * 1e3);
        last = recorder.take();
        last.insert(
            0,
            Entry {
                at: started,
                thread: String::new(),
                message: "cluster created".to_owned(),
                server: String::new(),
            },
        );
    }
    // Everything up to the last of the waiter's notes (the closing's events are left out).
    let end = last
        .iter()
        .rposition(|e| e.message == "observed all known" || e.message == "ping returned")
        .map_or(last.len(), |index| index + 1);
    for entry in &last[..end] {
        print_entry(entry, last[0].at);
    }
    let figures: Vec<String> = known_ms.iter().map(|ms| format!("{ms:.3}")).collect();
    println!("all known (ms), every run: {}", figures.join(" "));
    Ok(())
}

fn print_entry(entry: &Entry, origin: Instant) {
    let micros = entry.at.saturating_duration_since(origin).as_micros();
    let message: String = entry.message.chars().take(60).collect();
    println!(
        "{micros:>8} µs  {:<14} {:<22} {message}",
        entry.thread, entry.server
    );
}
