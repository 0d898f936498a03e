//! The official Rust driver's probe for `scripts/bench`: the same arguments, line protocol
//! and definitions as mongo-topology's probe (examples/bench_probe.rs in the root package,
//! whose documentation describes them). The driver's view is read from its SDAM events
//! (`TopologyDescriptionChangedEvent`); the driver has no public server selection API, so
//! there is no `selection` scenario here.

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mongo_topology_rust_driver_interop::{primary, server_types};
use mongodb::bson::doc;
use mongodb::event::sdam::{SdamEvent, TopologyDescription};
use mongodb::event::EventHandler;
use mongodb::options::ClientOptions;
use mongodb::{Client, ServerType};

type Failure = Box<dyn std::error::Error>;

/// The connection string: the argument itself, or with `@PATH` the contents of the file
/// PATH (a string naming 10,000 mongos exceeds the 128 KiB limit of one argument).
fn uri_argument(text: &str) -> Result<String, Failure> {
    match text.strip_prefix('@') {
        Some(path) => Ok(std::fs::read_to_string(path)?.trim().to_owned()),
        None => Ok(text.to_owned()),
    }
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |index: usize| -> Result<&str, Failure> {
        args.get(index)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {index}").into())
    };
    let one_thread = arg(0)? == "scale" && scale_on_one_thread()?;
    let runtime = if one_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Runtime::new()?
    };
    let uri = uri_argument(arg(1)?)?;
    let uri = uri.as_str();
    match arg(0)? {
        "discovery" => runtime.block_on(discovery(uri, arg(2)?.parse()?)),
        "failover" => failover(&runtime, uri),
        "scale" => scale(&runtime, one_thread, uri, arg(2)?.parse()?),
        other => Err(format!("unknown scenario {other:?} (no selection: no public API)").into()),
    }
}

/// `count` servers, none of them Unknown.
fn all_known(description: &TopologyDescription, count: usize) -> bool {
    let types = server_types(description);
    types.len() == count && types.values().all(|kind| *kind != ServerType::Unknown)
}

fn millis(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e3
}

fn unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros() as i64)
}

/// A client whose SDAM events are passed to `on_description`.
async fn client(
    uri: &str,
    on_description: impl Fn(&TopologyDescription) + Send + Sync + 'static,
) -> Result<Client, Failure> {
    let mut options = ClientOptions::parse(uri).await?;
    options.sdam_event_handler = Some(EventHandler::callback(move |event| {
        if let SdamEvent::TopologyDescriptionChanged(changed) = event {
            on_description(&changed.new_description);
        }
    }));
    Ok(Client::with_options(options)?)
}

/// The first instant `condition` held on a description, once it has.
#[derive(Clone, Default)]
struct FirstSeen(Arc<Mutex<Option<Instant>>>);

impl FirstSeen {
    fn record(&self) {
        if let Ok(mut seen) = self.0.lock() {
            seen.get_or_insert_with(Instant::now);
        }
    }

    async fn wait(&self) -> Instant {
        loop {
            if let Some(seen) = self.0.lock().ok().and_then(|seen| *seen) {
                return seen;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
}

async fn discovery(uri: &str, members: usize) -> Result<(), Failure> {
    let mut figures = (0.0, 0.0);
    for _warm_up_then_measured in 0..2 {
        let known = FirstSeen::default();
        let recorder = known.clone();
        let started = Instant::now();
        let client = client(uri, move |description| {
            if all_known(description, members) {
                recorder.record();
            }
        })
        .await?;
        client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await?;
        let pinged = Instant::now();
        let known = known.wait().await;
        figures = (
            millis(known.duration_since(started)),
            millis(pinged.duration_since(started)),
        );
        client.shutdown().await;
    }
    println!(r#"{{"known_ms": {}, "ping_ms": {}}}"#, figures.0, figures.1);
    Ok(())
}

/// When the view last changed to each primary, and when inserts were acknowledged.
#[derive(Default)]
struct Record {
    primaries: Vec<(String, i64)>,
    inserts: Vec<i64>,
    current: Option<String>,
    all_known: bool,
}

fn failover(runtime: &tokio::runtime::Runtime, uri: &str) -> Result<(), Failure> {
    let record = Arc::new(Mutex::new(Record::default()));
    let views = Arc::clone(&record);
    let client = runtime.block_on(client(uri, move |description| {
        let now = primary(description);
        if let Ok(mut record) = views.lock() {
            record.all_known = all_known(description, 3);
            if now != record.current {
                if let Some(address) = &now {
                    record.primaries.push((address.clone(), unix_micros()));
                }
                record.current = now;
            }
        }
    }))?;
    let wait_until = |condition: &dyn Fn(&Record) -> bool| loop {
        if record.lock().map(|r| condition(&r)).unwrap_or(false) {
            return;
        }
        std::thread::sleep(Duration::from_micros(500));
    };
    wait_until(&|r| r.all_known && r.current.is_some());
    let collection = client
        .database("test")
        .collection::<mongodb::bson::Document>("bench");
    let acks = Arc::clone(&record);
    runtime.spawn(async move {
        let mut sequence: i64 = 0;
        loop {
            sequence += 1;
            if collection
                .insert_one(doc! { "_id": sequence })
                .await
                .is_ok()
            {
                if let Ok(mut record) = acks.lock() {
                    record.inserts.push(unix_micros());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    });
    println!("ready");
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["noprimary"] => {
                wait_until(&|r| r.current.is_none());
                println!("ok");
            }
            ["elected", at, address] => {
                let at: i64 = at.parse()?;
                let first = |r: &Record| {
                    let view = r
                        .primaries
                        .iter()
                        .find(|(p, when)| p == address && *when >= at);
                    let insert = r.inserts.iter().find(|when| **when >= at);
                    view.map(|(_, view)| *view).zip(insert.copied())
                };
                wait_until(&|r| first(r).is_some());
                let (view, insert) = record
                    .lock()
                    .ok()
                    .and_then(|r| first(&r))
                    .ok_or("the record vanished")?;
                let ms = |when: i64| (when - at) as f64 / 1e3;
                println!(
                    r#"{{"view_ms": {}, "insert_ms": {}}}"#,
                    ms(view),
                    ms(insert)
                );
            }
            _ => return Err(format!("unknown control line {line:?}").into()),
        }
    }
    Ok(())
}

/// Whether `BENCH_PROBE_RUNTIME` asks for a one-thread runtime (`current-thread`) rather
/// than tokio's default (`multi-thread`, or unset), as for mongo-topology's probe.
fn scale_on_one_thread() -> Result<bool, Failure> {
    match std::env::var("BENCH_PROBE_RUNTIME").as_deref() {
        Err(_) | Ok("multi-thread") => Ok(false),
        Ok("current-thread") => Ok(true),
        Ok(other) => Err(format!(
            "BENCH_PROBE_RUNTIME={other:?}: expected multi-thread or current-thread"
        )
        .into()),
    }
}

fn wait_for_stdin_to_close() -> std::io::Result<()> {
    for line in std::io::stdin().lock().lines() {
        line?;
    }
    Ok(())
}

fn scale(
    runtime: &tokio::runtime::Runtime,
    one_thread: bool,
    uri: &str,
    count: usize,
) -> Result<(), Failure> {
    // Server-level events into a set of known servers: checking all 1,000 servers on every
    // topology event would charge the driver for the probe's own work.
    let known = FirstSeen::default();
    let recorder = known.clone();
    let servers = Mutex::new(HashSet::new());
    let started = Instant::now();
    let mut options = runtime.block_on(async { ClientOptions::parse(uri).await })?;
    options.sdam_event_handler = Some(EventHandler::callback(move |event| {
        if let (SdamEvent::ServerDescriptionChanged(changed), Ok(mut servers)) =
            (event, servers.lock())
        {
            if changed.new_description.server_type() == ServerType::Unknown {
                servers.remove(&changed.address);
            } else {
                servers.insert(changed.address.clone());
            }
            if servers.len() == count {
                recorder.record();
            }
        }
    }));
    let _client = {
        let _entered = runtime.enter();
        Client::with_options(options)?
    };
    let known = runtime.block_on(known.wait());
    println!(
        r#"{{"known_ms": {}}}"#,
        millis(known.duration_since(started))
    );
    if one_thread {
        // The runtime runs only inside `block_on`: it must go on while stdin is read.
        runtime.block_on(runtime.spawn_blocking(wait_for_stdin_to_close))??;
    } else {
        wait_for_stdin_to_close()?;
    }
    Ok(())
}
