//! Callers: a few tasks running commands in a loop on a cluster while a fault is applied,
//! each call bounded by [`CALL_BOUND`], every result counted (ok, or the error's kind).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::{doc, Document};
use mongo_topology::selection::{ReadPreference, ReadPreferenceMode, SelectionCriteria};
use mongo_topology::PoolError;
use mongo_topology::{Cluster, ClusterError, ServerAddress};
use tokio::task::JoinHandle;

use super::CALL_BOUND;

/// Pause between two calls of one caller (keeps a dozen cells light on two cores).
const PACE: Duration = Duration::from_millis(25);

/// What the cell is doing, as the callers see it when a call selected its server.
pub const PHASE_BEFORE: u8 = 0;
/// The fault is applied.
pub const PHASE_FAULT: u8 = 1;
/// The fault is applied and the client's view shows it (cells that need to know).
pub const PHASE_FAULT_SEEN: u8 = 2;
/// The fault is healed.
pub const PHASE_HEALED: u8 = 3;

/// One kind of call: what to run and where.
#[derive(Clone)]
pub struct Call {
    /// The command.
    pub command: Document,
    /// Where to run it.
    pub criteria: SelectionCriteria,
}

impl Call {
    /// An insert on the primary.
    pub fn write() -> Call {
        Call {
            command: doc! { "insert": "things", "documents": [{ "x": 1 }] },
            criteria: SelectionCriteria::write(),
        }
    }

    /// A find with read preference `mode`.
    pub fn read(mode: ReadPreferenceMode) -> Call {
        Call::read_with(ReadPreference::with_mode(mode))
    }

    /// A find with `preference`.
    pub fn read_with(preference: ReadPreference) -> Call {
        Call {
            command: doc! { "find": "things", "filter": {} },
            criteria: SelectionCriteria::read(preference),
        }
    }
}

/// The results of every call.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Calls started.
    pub started: u64,
    /// Calls that answered Ok.
    pub ok: u64,
    /// Calls that failed, by kind of error.
    pub errors: BTreeMap<String, u64>,
    /// Calls that did not answer within [`CALL_BOUND`] (each with its command).
    pub hung: Vec<String>,
    /// Calls that panicked or whose task failed.
    pub panicked: u64,
    /// Servers selected, by phase (see `PHASE_*`).
    pub served_by: BTreeMap<(u8, ServerAddress), u64>,
}

impl Tally {
    /// Results received (Ok or error).
    pub fn received(&self) -> u64 {
        self.ok + self.errors.values().sum::<u64>()
    }

    /// Calls that selected `address` in `phase`.
    pub fn served(&self, phase: u8, address: &ServerAddress) -> u64 {
        self.served_by
            .get(&(phase, address.clone()))
            .copied()
            .unwrap_or(0)
    }

    fn merge(&mut self, other: Tally) {
        self.started += other.started;
        self.ok += other.ok;
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        self.hung.extend(other.hung);
        self.panicked += other.panicked;
        for (key, n) in other.served_by {
            *self.served_by.entry(key).or_default() += n;
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ok={}", self.ok)?;
        for (kind, n) in &self.errors {
            write!(f, " {kind}={n}")?;
        }
        if !self.hung.is_empty() {
            write!(f, " HUNG={}", self.hung.len())?;
        }
        Ok(())
    }
}

/// The kind of a caller's error, as counted.
pub fn error_kind(error: &ClusterError) -> String {
    match error {
        ClusterError::ServerSelectionTimeout { .. } => "selection-timeout".into(),
        ClusterError::Selection(_) => "selection".into(),
        ClusterError::Command { failure, .. } => match (&failure.code_name, failure.code) {
            (Some(name), _) => name.clone(),
            (None, Some(code)) => format!("code-{code}"),
            (None, None) => "command".into(),
        },
        ClusterError::Connection { .. } => "connection".into(),
        ClusterError::Pool(PoolError::Establishment { source, .. }) => {
            format!(
                "pool-establish({})",
                source.to_server_error().kind.describe()
            )
        }
        ClusterError::Pool(PoolError::CheckOut { .. }) => "pool-checkout".into(),
        ClusterError::Pool(_) => "pool".into(),
        ClusterError::Closed => "closed".into(),
        other => format!("other({other})"),
    }
}

/// Running callers.
pub struct Callers {
    stop: Arc<AtomicBool>,
    /// The phase recorded with each call's selected server.
    pub phase: Arc<AtomicU8>,
    tasks: Vec<JoinHandle<Tally>>,
}

impl Callers {
    /// Starts one task per call in `calls`, each looping until [`Callers::finish`].
    pub fn start(cluster: &Cluster, calls: Vec<Call>) -> Callers {
        let stop = Arc::new(AtomicBool::new(false));
        let phase = Arc::new(AtomicU8::new(PHASE_BEFORE));
        let tasks = calls
            .into_iter()
            .map(|call| {
                let cluster = cluster.clone();
                let stop = stop.clone();
                let phase = phase.clone();
                tokio::spawn(async move { run_caller(cluster, call, stop, phase).await })
            })
            .collect();
        Callers { stop, phase, tasks }
    }

    /// Sets the phase recorded from now on.
    pub fn set_phase(&self, phase: u8) {
        self.phase.store(phase, Ordering::SeqCst);
    }

    /// Stops the callers after their current call and adds up their results.
    pub async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = Tally::default();
        for task in self.tasks {
            match task.await {
                Ok(tally) => total.merge(tally),
                Err(_) => total.panicked += 1,
            }
        }
        total
    }
}

async fn run_caller(
    cluster: Cluster,
    call: Call,
    stop: Arc<AtomicBool>,
    phase: Arc<AtomicU8>,
) -> Tally {
    let mut tally = Tally::default();
    while !stop.load(Ordering::SeqCst) {
        tally.started += 1;
        let attempt = async {
            let mut connection = cluster.checkout(&call.criteria).await?;
            let served = (phase.load(Ordering::SeqCst), connection.address().clone());
            connection
                .run_command("test", call.command.clone())
                .await
                .map(|_| served)
        };
        match tokio::time::timeout(CALL_BOUND, attempt).await {
            Ok(Ok(served)) => {
                tally.ok += 1;
                *tally.served_by.entry(served).or_default() += 1;
            }
            Ok(Err(error)) => *tally.errors.entry(error_kind(&error)).or_default() += 1,
            Err(_) => tally.hung.push(format!("{:?}", call.command)),
        }
        tokio::time::sleep(PACE).await;
    }
    tally
}
