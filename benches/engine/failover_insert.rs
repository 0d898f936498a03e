//! `failover-insert`: a 3-member set on loopback, streaming (default heartbeat, 10 s), the
//! primary steps down; from the simulator's `elect` of member 2 until an insert is
//! acknowledged by it. Target 1.5 ms.
//!
//! Two passes on the same cluster:
//! - with a caller inserting every 10 ms on the primary and retrying at once on an error
//!   (the scenario): until its first insert acknowledged by member 2;
//! - with a probe instead, already waiting on the cluster's watch, that sends its insert as
//!   soon as the client's view shows member 2 primary: until the view shows it, and until
//!   that insert is acknowledged. This separates the client's latency from the cadence.

use std::time::{Duration, Instant};

use bson::doc;
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::{Cluster, ClusterError, ServerAddress};
use tokio::sync::{mpsc, oneshot};

use crate::failover::{repetitions, Setup};
use crate::report::{Row, Unit};
use crate::support::{all_known, primary_is, wait_until, PATIENCE};
use crate::Options;

/// The caller's pause after an acknowledged insert.
const CADENCE: Duration = Duration::from_millis(10);
/// From the client seeing the stepdown until the election: longer than [`CADENCE`], so that
/// the caller has met the missing primary (and is retrying) when the election comes.
const SETTLE: Duration = Duration::from_millis(30);
/// The target for the median, in milliseconds.
const TARGET_MS: f64 = 1.5;

/// An insert the primary acknowledged.
struct Acknowledged {
    address: ServerAddress,
    /// When the attempt that succeeded began (before its server selection).
    attempt_started: Instant,
    at: Instant,
}

impl Setup {
    /// The primary steps down; returns [`SETTLE`] after the client has seen it, with every
    /// member known (a member an insert found not writable has been checked again).
    fn step_down_and_settle(&self) {
        self.sim.stepdown().expect("stepdown");
        self.client_runtime.block_on(async {
            wait_until(&self.cluster, "no primary, all known", |t| {
                t.primary().is_none() && all_known(t, 3)
            })
            .await;
            tokio::time::sleep(SETTLE).await;
        });
    }
}

pub fn run(options: &Options) -> Vec<Row> {
    let setup = Setup::start("heartbeatFrequencyMS=10000");
    let mut rows = vec![with_caller(&setup, repetitions(options))];
    rows.extend(with_probe(&setup, repetitions(options)));
    setup.stop();
    rows
}

/// The scenario: a caller inserting every 10 ms.
fn with_caller(setup: &Setup, repetitions: usize) -> Row {
    let (acks_sender, mut acks) = mpsc::unbounded_channel();
    let caller = setup
        .client_runtime
        .spawn(insert_every_10_ms(setup.cluster.clone(), acks_sender));
    let mut samples = Vec::with_capacity(repetitions);
    let mut began_before_election = 0;
    for repetition in 0..=repetitions {
        setup.step_down_and_settle();
        while acks.try_recv().is_ok() {}
        let started = Instant::now();
        setup.elect();
        let ack = setup.client_runtime.block_on(async {
            tokio::time::timeout(PATIENCE, async {
                loop {
                    let ack = acks.recv().await?;
                    if ack.address == setup.new_primary && ack.at >= started {
                        return Some(ack);
                    }
                }
            })
            .await
        });
        let Ok(Some(ack)) = ack else {
            panic!("no insert acknowledged by the new primary");
        };
        if repetition > 0 {
            samples.push(ack.at.duration_since(started));
            if ack.attempt_started < started {
                began_before_election += 1;
            }
        }
    }
    caller.abort();
    let _ = setup.client_runtime.block_on(caller);
    let mut row = Row::new(
        "failover-insert",
        "elect → first insert acknowledged by the new primary (caller every 10 ms)",
        Unit::Millis,
    )
    .target(TARGET_MS)
    .note(format!(
        "the caller inserts every 10 ms and retries at once on an error; the election comes \
         {SETTLE:?} after the client saw the stepdown. In {began_before_election} of {} \
         repetitions the acknowledged attempt had begun before the election (waiting in \
         server selection since its insert met no primary), so the 10 ms cadence did not \
         delay it; the probe rows below measure the same path without any cadence",
        samples.len()
    ));
    for sample in samples {
        row.push_duration(sample);
    }
    row
}

/// Inserts on the primary every [`CADENCE`], retrying at once on an error; reports every
/// acknowledged insert, until the receiver is gone or the cluster is closed.
async fn insert_every_10_ms(cluster: Cluster, acks: mpsc::UnboundedSender<Acknowledged>) {
    let criteria = SelectionCriteria::write();
    let mut sequence: i64 = 0;
    loop {
        sequence += 1;
        let attempt_started = Instant::now();
        match insert(&cluster, &criteria, sequence).await {
            Ok(address) => {
                let ack = Acknowledged {
                    address,
                    attempt_started,
                    at: Instant::now(),
                };
                if acks.send(ack).is_err() {
                    return;
                }
                tokio::time::sleep(CADENCE).await;
            }
            Err(ClusterError::Closed) => return,
            Err(_) => {}
        }
    }
}

/// One insert of one document on a server selected for `criteria`; the server's address.
async fn insert(
    cluster: &Cluster,
    criteria: &SelectionCriteria,
    sequence: i64,
) -> Result<ServerAddress, ClusterError> {
    let mut connection = cluster.checkout(criteria).await?;
    let address = connection.address().clone();
    let command = doc! { "insert": "bench", "documents": [{ "_id": sequence }] };
    connection.run_command("test", command).await?;
    Ok(address)
}

/// The same failover with a probe sending one insert as soon as the view shows the new
/// primary: two rows, until the view shows it and until the insert is acknowledged.
fn with_probe(setup: &Setup, repetitions: usize) -> [Row; 2] {
    let mut seen_row = Row::new(
        "failover-insert",
        "elect → client view shows the new primary (probe)",
        Unit::Millis,
    );
    let mut acked_row = Row::new(
        "failover-insert",
        "elect → insert sent on that view acknowledged (probe)",
        Unit::Millis,
    )
    .note(
        "a task waiting on the cluster's watch runs `checkout(write)` + insert as soon as \
         the snapshot shows member 2 primary: the client's own latency, no 10 ms cadence",
    );
    for repetition in 0..=repetitions {
        setup.step_down_and_settle();
        let (ready, is_ready) = oneshot::channel();
        let cluster = setup.cluster.clone();
        let new_primary = setup.new_primary.clone();
        let probe = setup.client_runtime.spawn(async move {
            let mut watcher = cluster.watch();
            watcher.current();
            let _ = ready.send(());
            loop {
                watcher.changed().await.ok()?;
                if primary_is(&watcher.current(), &new_primary) {
                    break;
                }
            }
            let seen = Instant::now();
            let address = insert(&cluster, &SelectionCriteria::write(), -1)
                .await
                .ok()?;
            Some((seen, Instant::now(), address))
        });
        setup.client_runtime.block_on(async {
            let _ = is_ready.await;
            // Let the probe park in `changed()`.
            tokio::time::sleep(Duration::from_millis(2)).await;
        });
        let started = Instant::now();
        setup.elect();
        let outcome = setup
            .client_runtime
            .block_on(async { tokio::time::timeout(PATIENCE, probe).await });
        let Ok(Ok(Some((seen, acked, address)))) = outcome else {
            panic!("the probe's insert on the new primary failed or never came");
        };
        assert_eq!(address, setup.new_primary, "the insert went to member 2");
        if repetition > 0 {
            seen_row.push_duration(seen.duration_since(started));
            acked_row.push_duration(acked.duration_since(started));
        }
    }
    [seen_row, acked_row]
}
