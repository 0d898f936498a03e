//! The cluster task: the one owner of the SDAM [`Topology`]. It applies every monitor
//! report and application error to the pure core, carries out the actions the core
//! returns (start and stop monitors, request checks), publishes each new snapshot on a
//! `watch` channel and emits the events. Nothing else changes the topology.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::address::ServerAddress;
use crate::cluster::publication::{Publisher, ServerRuntime, Snapshot, Subscription};
use crate::connection::error::establishment_error;
use crate::events::{EventEmitter, EventKind};
use crate::logging::{log_sdam_event, log_topology_summary};
use crate::monitor::server_monitor::MonitorHandle;
use crate::monitor::shared::{CheckOutcome, MonitorReport, MonitorShared};
use crate::pool::{BackgroundFailure, CmapEvent, ConnectionFactory, Pool};
use crate::sdam::{Action, ApplicationError, Changes, CheckTiming, TopologyDescription};
use crate::sdam::{ServerErrorKind, ServerType, Topology, TopologyType};
use crate::selection::{ReadPreferenceMode, RttTracker};
use crate::settings::cluster_settings::WARM_UP_LIMIT;
use crate::time::MonotonicTime;

/// Requests from cluster handles.
#[derive(Debug)]
pub(crate) enum Request {
    /// An operation failed on a server (SDAM "Error handling"); the sender learns when the
    /// error has been applied.
    ApplicationError(ApplicationError, oneshot::Sender<()>),
    /// An SRV rescan's verified hosts (see `srv_poller.rs`).
    SrvHosts {
        /// The hosts, each in the parent domain.
        hosts: Vec<ServerAddress>,
        /// `srvMaxHosts`.
        max_hosts: u32,
    },
}

/// One server: its monitor (none in load-balanced mode) and its pool.
#[derive(Debug)]
struct ServerSlot {
    monitor: Option<MonitorHandle>,
    rtt: RttTracker,
    runtime: Arc<ServerRuntime>,
    /// The warm-up task, aborted with the slot; `None` until one is started (at most one
    /// per slot).
    warm_up: Option<AbortOnDrop>,
}

/// Aborts a task when dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the cluster task needs to give every server its connection pool.
pub(crate) struct PoolContext {
    /// Opens, handshakes and authenticates pool connections.
    pub(crate) factory: Arc<dyn ConnectionFactory>,
    /// Where every pool sends its CMAP events (forwarded to subscribers).
    pub(crate) events: mpsc::UnboundedSender<CmapEvent>,
    /// Where pools (and warm-ups) report connections that failed with no caller to report
    /// them.
    pub(crate) failures: mpsc::UnboundedSender<BackgroundFailure>,
}

pub(crate) struct ClusterTask {
    topology: Topology,
    /// `MonotonicTime::ZERO` for the core.
    epoch: Instant,
    servers: BTreeMap<ServerAddress, ServerSlot>,
    next_monitor_id: u64,
    monitor_shared: MonitorShared,
    reports: mpsc::Receiver<MonitorReport>,
    requests: mpsc::Receiver<Request>,
    shutdown: oneshot::Receiver<()>,
    snapshots: Publisher,
    events: EventEmitter,
    pools: PoolContext,
    background_failures: mpsc::UnboundedReceiver<BackgroundFailure>,
    /// How many servers got a warm-up connection so far (bounded by WARM_UP_LIMIT).
    warm_ups: usize,
    cmap_events: mpsc::UnboundedReceiver<CmapEvent>,
    /// The last complete member list (mgo's "dynamic seeds"): the last primary's hosts,
    /// passives and arbiters, or every mongos of a sharded topology when all were known.
    /// With the original seeds, where to start again if every server is removed.
    last_complete_members: Vec<ServerAddress>,
    /// When to re-seed an empty topology (at most once per heartbeatFrequencyMS).
    reseed_at: Option<Instant>,
    last_reseed: Option<Instant>,
    /// The SRV poller of a `mongodb+srv` cluster, aborted with the task.
    srv_poller: Option<AbortOnDrop>,
}

impl ClusterTask {
    /// Builds the task around an opened topology and carries out the opening actions
    /// (starting a monitor for every seed at once). Returns the task and the receiver of
    /// its snapshots.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        topology: Topology,
        opening: Changes,
        epoch: Instant,
        monitor_shared: MonitorShared,
        reports: mpsc::Receiver<MonitorReport>,
        requests: mpsc::Receiver<Request>,
        shutdown: oneshot::Receiver<()>,
        events: EventEmitter,
        factory: Arc<dyn ConnectionFactory>,
    ) -> (ClusterTask, Subscription) {
        let (cmap_sender, cmap_events) = mpsc::unbounded_channel();
        let (failure_sender, background_failures) = mpsc::unbounded_channel();
        let initial = Snapshot {
            description: opening.description.clone(),
            servers: Arc::default(),
            closed: false,
        };
        let (snapshots, receiver) = Publisher::new(initial);
        let mut task = ClusterTask {
            topology,
            epoch,
            servers: BTreeMap::new(),
            next_monitor_id: 0,
            monitor_shared,
            reports,
            requests,
            shutdown,
            snapshots,
            events,
            pools: PoolContext {
                factory,
                events: cmap_sender,
                failures: failure_sender,
            },
            background_failures,
            cmap_events,
            warm_ups: 0,
            last_complete_members: Vec::new(),
            reseed_at: None,
            last_reseed: None,
            srv_poller: None,
        };
        task.carry_out(opening, true);
        (task, receiver)
    }

    pub(crate) async fn run(mut self) {
        loop {
            let reseed_at = self.reseed_at;
            tokio::select! {
                biased;
                _ = &mut self.shutdown => break,
                Some(request) = self.requests.recv() => self.on_request(request),
                Some(report) = self.reports.recv() => self.on_report(report),
                Some(event) = self.cmap_events.recv() => self.events.emit(EventKind::Cmap(event)),
                Some(failure) = self.background_failures.recv() => self.on_background_failure(failure),
                () = sleep_until_some(reseed_at) => self.reseed(),
            }
        }
        self.close().await;
    }

    fn now(&self) -> MonotonicTime {
        MonotonicTime::from_offset(Instant::now().saturating_duration_since(self.epoch))
    }

    fn on_report(&mut self, report: MonitorReport) {
        let now = self.now();
        let changes = match report {
            MonitorReport::Checked {
                address,
                monitor_id,
                outcome,
            } => {
                let Some(slot) = self.current_slot(&address, monitor_id) else {
                    return;
                };
                match outcome {
                    CheckOutcome::Hello { reply, round_trip } => {
                        if let Some(sample) = round_trip {
                            slot.rtt.add_sample(sample);
                        }
                        let timing = CheckTiming {
                            round_trip_time: slot.rtt.average(),
                            min_round_trip_time: Some(slot.rtt.minimum()),
                            now,
                        };
                        let changes = self.topology.apply_hello(&address, &reply, timing);
                        self.warn_if_unusable_reply(&address);
                        self.discard_warm_unless_data_bearing(&address, &changes);
                        self.warm_up_once_data_bearing(&address, &changes);
                        changes
                    }
                    CheckOutcome::Failed(error) => {
                        slot.rtt.reset();
                        self.topology.apply_check_failure(&address, error, now)
                    }
                }
            }
            MonitorReport::RoundTrip {
                address,
                monitor_id,
                sample,
            } => {
                let Some(slot) = self.current_slot(&address, monitor_id) else {
                    return;
                };
                slot.rtt.add_sample(sample);
                let Some(average) = slot.rtt.average() else {
                    return;
                };
                let minimum = slot.rtt.minimum();
                self.topology
                    .apply_rtt_sample(&address, average, minimum, now)
            }
        };
        self.carry_out(changes, false);
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::ApplicationError(error, applied) => {
                let now = self.now();
                let changes = self.topology.apply_application_error(&error, now);
                self.carry_out(changes, false);
                // The caller may have stopped waiting; nothing to do then.
                let _ = applied.send(());
            }
            Request::SrvHosts { hosts, max_hosts } => {
                let mut random = crate::settings::resolution::random_below;
                let changes = self
                    .topology
                    .apply_srv_records(&hosts, max_hosts, &mut random);
                self.carry_out(changes, false);
            }
        }
    }

    /// Keeps the SRV poller's task, to abort it when the cluster closes.
    pub(crate) fn attach_srv_poller(&mut self, poller: tokio::task::JoinHandle<()>) {
        self.srv_poller = Some(AbortOnDrop(poller));
    }

    /// A pool connection nobody waited for failed (minPoolSize, warm-up): SDAM's error
    /// handling applies as for a check-out's.
    fn on_background_failure(&mut self, failure: BackgroundFailure) {
        let error = establishment_error(&failure.address, failure.generation, &failure.error);
        if let Some(slot) = self.servers.get(&failure.address) {
            let mut last = slot
                .runtime
                .last_failure
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *last = Some((failure.generation, failure.error));
        }
        let now = self.now();
        let changes = self.topology.apply_application_error(&error, now);
        self.carry_out(changes, false);
    }

    /// A server known not to bear data (an arbiter, a hidden member, ...) gets no pool
    /// connection: its warm-up connection, if any, is dropped.
    fn discard_warm_unless_data_bearing(&self, address: &ServerAddress, changes: &Changes) {
        let known_idle = changes.description.server(address).is_some_and(|server| {
            server.server_type != ServerType::Unknown && !server.is_data_bearing()
        });
        if let (true, Some(slot)) = (known_idle, self.servers.get(address)) {
            slot.runtime.discard_warm();
        }
    }

    /// The deferred warm-up (see [`ClusterTask::warms_up_early`]), when the default read
    /// preference may read from secondaries: a server whose first check shows it bears data
    /// gets its warm-up connection now, before the pool is marked ready, so that a
    /// check-out woken by this change waits for it rather than opening a second one. With
    /// the default `primary`, nothing is warmed up late: operations go to the primary (the
    /// pool opens a connection on demand otherwise), and late handshakes would only compete
    /// with the first operations.
    fn warm_up_once_data_bearing(&mut self, address: &ServerAddress, changes: &Changes) {
        let data_bearing = changes
            .description
            .server(address)
            .is_some_and(|server| server.is_data_bearing());
        let reads_secondaries =
            self.monitor_shared.settings.read_preference.mode() != ReadPreferenceMode::Primary;
        if !data_bearing || !reads_secondaries || !self.may_warm_up() {
            return;
        }
        let Some(slot) = self.servers.get(address) else {
            return;
        };
        if slot.warm_up.is_some() || slot.monitor.is_none() {
            return;
        }
        let runtime = slot.runtime.clone();
        let warm_up = self.spawn_warm_up(address, &runtime);
        if let Some(slot) = self.servers.get_mut(address) {
            slot.warm_up = Some(warm_up);
        }
    }

    /// Whether `address` gets its warm-up connection as its monitor starts, overlapping its
    /// first check. Early: the seeds, every server outside a replica set, and a member a
    /// reply names as primary — the servers a first operation is likely to need. The other
    /// members of a replica set get theirs later or not at all
    /// ([`ClusterTask::warm_up_once_data_bearing`]), so that their handshakes do not compete
    /// with the discovery checks (measured in docs/benchmarks.md, "Where the time goes").
    fn warms_up_early(&self, address: &ServerAddress) -> bool {
        let description = self.topology.description();
        let replica_set = matches!(
            description.topology_type,
            TopologyType::ReplicaSetNoPrimary | TopologyType::ReplicaSetWithPrimary
        );
        !replica_set
            || self
                .monitor_shared
                .settings
                .topology
                .seeds
                .contains(address)
            || description
                .servers
                .values()
                .any(|server| server.primary.as_ref() == Some(address))
    }

    /// Whether warm-up is on and its bound not reached.
    fn may_warm_up(&self) -> bool {
        self.monitor_shared.settings.warm_up && self.warm_ups < WARM_UP_LIMIT
    }

    /// Starts the warm-up of `address`, counted against [`WARM_UP_LIMIT`].
    fn spawn_warm_up(
        &mut self,
        address: &ServerAddress,
        runtime: &Arc<ServerRuntime>,
    ) -> AbortOnDrop {
        runtime.warming.send_replace(true);
        self.warm_ups += 1;
        AbortOnDrop(tokio::spawn(warm_up(
            address.clone(),
            self.pools.factory.clone(),
            Arc::downgrade(runtime),
            self.pools.failures.clone(),
        )))
    }

    /// The slot of `address` if `monitor_id` is its current monitor (a report from a
    /// monitor of a removed server is ignored).
    fn current_slot(
        &mut self,
        address: &ServerAddress,
        monitor_id: u64,
    ) -> Option<&mut ServerSlot> {
        self.servers
            .get_mut(address)
            .filter(|slot| slot.monitor.as_ref().map(MonitorHandle::id) == Some(monitor_id))
    }

    /// Performs the core's decisions in order: monitors first, then the new snapshot, then
    /// the events (so that a subscriber reading the topology on an event sees it).
    fn carry_out(&mut self, changes: Changes, force_publish: bool) {
        let mut membership_changed = force_publish;
        for action in &changes.actions {
            match action {
                Action::StartMonitoring(address) => {
                    self.start_monitor(address.clone());
                    membership_changed = true;
                }
                Action::StopMonitoring(address) => {
                    // Dropping the handle aborts the monitor and closes its sockets.
                    if let Some(slot) = self.servers.remove(address) {
                        slot.runtime.pool.close();
                    }
                    membership_changed = true;
                }
                Action::RequestImmediateCheck(address) => {
                    if let Some(monitor) =
                        self.servers.get(address).and_then(|s| s.monitor.as_ref())
                    {
                        monitor.request_check();
                    }
                }
                Action::RetryCheckNow(address) => {
                    if let Some(monitor) =
                        self.servers.get(address).and_then(|s| s.monitor.as_ref())
                    {
                        monitor.retry_now();
                    }
                }
                Action::CancelCheck(address) => {
                    if let Some(monitor) =
                        self.servers.get(address).and_then(|s| s.monitor.as_ref())
                    {
                        monitor.cancel_check();
                    }
                }
                Action::ClearPool {
                    address,
                    service_id,
                    interrupt_in_use_connections,
                    new_generation,
                } => {
                    if let Some(slot) = self.servers.get(address) {
                        match service_id {
                            // Load-balanced mode: only the connections of that service.
                            Some(service_id) => slot.runtime.pool.clear_service(*service_id),
                            None => {
                                slot.runtime.pool.clear(*interrupt_in_use_connections);
                                slot.runtime.discard_warm();
                            }
                        }
                    }
                    tracing::debug!(%address, ?service_id, new_generation, "pool cleared");
                }
                Action::MarkPoolReady(address) => {
                    if self.topology.description().topology_type == TopologyType::LoadBalanced
                        && !self.servers.contains_key(address)
                    {
                        // Load-balanced mode: a pool and no monitor (Load Balancer spec).
                        self.add_server(address.clone(), None);
                        membership_changed = true;
                    }
                    if let Some(slot) = self.servers.get(address) {
                        slot.runtime.pool.ready();
                        slot.runtime.offer_warm(None);
                        let mut last = slot
                            .runtime
                            .last_failure
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                        last.take();
                    }
                }
                Action::Publish(_) => {}
                other => {
                    tracing::warn!(action = ?other, "an SDAM action this engine does not carry out")
                }
            }
        }
        let published = self.snapshots.current().description.clone();
        if membership_changed || !Arc::ptr_eq(&published, &changes.description) {
            self.publish(changes.description.clone(), membership_changed, false);
        }
        let topology_id = self.events.topology_id();
        for event in changes.events() {
            log_sdam_event(&topology_id, event);
            if let crate::sdam::SdamEvent::TopologyDescriptionChanged { new, .. } = event {
                log_topology_summary(new);
            }
        }
        if self.events.has_subscribers() {
            for action in changes.actions {
                if let Action::Publish(event) = action {
                    self.events.emit(EventKind::Sdam(event));
                }
            }
        }
    }

    /// Remembers complete views, and schedules a re-seed when every server is gone.
    fn track_membership(&mut self, description: &TopologyDescription) {
        if description.servers.is_empty() {
            if self.reseed_at.is_none() {
                let frequency = self.monitor_shared.settings.heartbeat_frequency;
                let earliest = self
                    .last_reseed
                    .map_or_else(Instant::now, |at| at + frequency);
                self.reseed_at = Some(earliest.max(Instant::now()));
            }
        } else if let Some(primary) = description.primary() {
            // A primary's member list is authoritative (SDAM "updateRSFromPrimary").
            let members = primary
                .hosts
                .iter()
                .chain(&primary.passives)
                .chain(&primary.arbiters);
            self.last_complete_members = members.cloned().collect();
        } else if description.topology_type == TopologyType::Sharded
            && description
                .servers
                .values()
                .all(|server| server.server_type == ServerType::Mongos)
        {
            self.last_complete_members = description.servers.keys().cloned().collect();
        }
    }

    /// Every server was removed: start again from the last complete member list and the
    /// original seeds.
    fn reseed(&mut self) {
        self.reseed_at = None;
        self.last_reseed = Some(Instant::now());
        let mut addresses = self.last_complete_members.clone();
        for seed in &self.monitor_shared.settings.topology.seeds {
            if !addresses.contains(seed) {
                addresses.push(seed.clone());
            }
        }
        tracing::warn!(
            target: "mongo_topology::topology",
            count = addresses.len(),
            "every server was removed from the topology: starting again from the last \
             complete member list and the seeds"
        );
        let changes = self.topology.add_servers(addresses);
        self.carry_out(changes, false);
    }

    /// A hello reply the core could not use (a limit exceeded, a field of the wrong type)
    /// leaves the server Unknown with a protocol error: say so in the log, not only in the
    /// description.
    fn warn_if_unusable_reply(&self, address: &ServerAddress) {
        let servers = &self.topology.description().servers;
        let Some(error) = servers.get(address).and_then(|s| s.error.as_ref()) else {
            return;
        };
        if error.kind == ServerErrorKind::Protocol {
            tracing::warn!(
                target: "mongo_topology::topology",
                %address,
                error = %error.message,
                "the server's hello reply was rejected"
            );
        }
    }

    fn publish(
        &mut self,
        description: Arc<TopologyDescription>,
        membership_changed: bool,
        closed: bool,
    ) {
        if !closed {
            self.track_membership(&description);
        }
        let current = self.snapshots.current();
        let servers = if membership_changed {
            Arc::new(
                self.servers
                    .iter()
                    .map(|(address, slot)| (address.clone(), slot.runtime.clone()))
                    .collect(),
            )
        } else {
            current.servers.clone()
        };
        self.snapshots.publish(Snapshot {
            description,
            servers,
            closed,
        });
    }

    /// Starts monitoring `address` and creates its connection pool, paused until a check
    /// succeeds (SDAM "Connection Pool Management").
    fn start_monitor(&mut self, address: ServerAddress) {
        self.next_monitor_id += 1;
        let monitor = MonitorHandle::start(
            address.clone(),
            self.next_monitor_id,
            self.monitor_shared.clone(),
        );
        self.add_server(address, Some(monitor));
    }

    /// Gives `address` its slot: the monitor (if any), a paused pool, and a warm-up
    /// connection when there is a monitor whose first check it can overlap.
    fn add_server(&mut self, address: ServerAddress, monitor: Option<MonitorHandle>) {
        let settings = &self.monitor_shared.settings;
        // The options were validated with the settings, so this cannot fail; an error is
        // still reported rather than unwrapped.
        let pool = match Pool::with_failure_reports(
            address.clone(),
            settings.pool.clone(),
            self.pools.factory.clone(),
            Some(self.pools.events.clone()),
            Some(self.pools.failures.clone()),
        ) {
            Ok(pool) => pool,
            Err(error) => {
                tracing::error!(%address, %error, "cannot create the connection pool");
                return;
            }
        };
        let runtime = Arc::new(ServerRuntime {
            in_flight: AtomicU64::new(0),
            pool,
            warm: std::sync::Mutex::new(None),
            warming: tokio::sync::watch::channel(false).0,
            last_failure: std::sync::Mutex::new(None),
        });
        let warm_up = (monitor.is_some() && self.may_warm_up() && self.warms_up_early(&address))
            .then(|| self.spawn_warm_up(&address, &runtime));
        self.servers.insert(
            address,
            ServerSlot {
                monitor,
                rtt: RttTracker::new(),
                runtime,
                warm_up,
            },
        );
    }

    /// "Client closing": every monitor stopped and awaited (their sockets closed), the
    /// closing events emitted, a last snapshot marked closed.
    async fn close(mut self) {
        self.srv_poller = None;
        let changes = self.topology.close();
        let servers = std::mem::take(&mut self.servers);
        for (_, slot) in servers {
            slot.runtime.pool.close();
            if let Some(monitor) = slot.monitor {
                monitor.stop().await;
            }
        }
        let description = changes.description.clone();
        self.carry_out(changes, true);
        self.publish(description, true, true);
        tracing::debug!(topology_id = %self.events.topology_id(), "cluster closed");
    }
}

/// Waits until `at`, or forever when there is nothing to wait for.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The warm-up of one server (see [`crate::ClusterSettings::warm_up`]): establish a pool
/// connection while the monitor runs its first check, then offer it to the pool, which takes
/// it once ready. Failures are the monitor's to report; the warm-up just gives up.
async fn warm_up(
    address: ServerAddress,
    factory: Arc<dyn ConnectionFactory>,
    runtime: std::sync::Weak<ServerRuntime>,
    failures: mpsc::UnboundedSender<BackgroundFailure>,
) {
    let Some(generation) = runtime.upgrade().map(|runtime| runtime.pool.generation()) else {
        return;
    };
    match factory.establish(&address).await {
        Ok(connection) => {
            if let Some(runtime) = runtime.upgrade() {
                runtime.offer_warm(Some(connection));
            }
        }
        Err(error) => {
            if let Some(runtime) = runtime.upgrade() {
                runtime.warming.send_replace(false);
            }
            tracing::debug!(%address, %error, "warm-up connection failed");
            // E.g. an authentication failure: SDAM marks the server Unknown and clears its
            // pool, as for any pool connection (a network error here changes nothing).
            let _ = failures.send(BackgroundFailure {
                address,
                generation,
                error,
            });
        }
    }
}
