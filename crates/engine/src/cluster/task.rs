//! The cluster task: the one owner of the SDAM [`Topology`], an actor that receives monitor
//! reports, application errors and SRV rescans, applies each to the pure core, carries out
//! the actions the core returns on the servers' slots ([`ServerSlots`]: monitors, pools,
//! warm-ups), publishes each new snapshot and emits the events. Nothing else changes the
//! topology, and every rule (re-seeding, warm-up) is the core's.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::address::ServerAddress;
use crate::cluster::publication::{Publisher, Snapshot, Subscription};
use crate::cluster::server_slots::{PoolContext, ServerSlots};
use crate::cluster::warm_up::AbortOnDrop;
use crate::connection::error::establishment_error;
use crate::events::{EventEmitter, EventKind};
use crate::logging::{log_sdam_event, log_topology_summary};
use crate::monitor::handle::MonitorHandle;
use crate::monitor::shared::{CheckOutcome, MonitorReport, MonitorShared};
use crate::pool::{BackgroundFailure, CmapEvent, ConnectionFactory};
use crate::recorder::Record;
use crate::sdam::{Action, ApplicationError, Changes, SdamEvent};
use crate::sdam::{ServerErrorKind, Topology, TopologyDescription, TopologyType};
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

pub(crate) struct ClusterTask {
    topology: Topology,
    /// `MonotonicTime::ZERO` for the core.
    epoch: Instant,
    servers: ServerSlots,
    reports: mpsc::Receiver<MonitorReport>,
    requests: mpsc::Receiver<Request>,
    shutdown: oneshot::Receiver<()>,
    snapshots: Publisher,
    events: EventEmitter,
    background_failures: mpsc::UnboundedReceiver<BackgroundFailure>,
    cmap_events: mpsc::UnboundedReceiver<CmapEvent>,
    /// When the core's scheduled re-seed is due ([`Action::ScheduleReseed`]).
    reseed_at: Option<Instant>,
    /// The SRV poller of a `mongodb+srv` cluster, aborted with the task.
    srv_poller: Option<AbortOnDrop>,
}

impl ClusterTask {
    /// Builds the task around an opened topology and carries out the opening actions
    /// (starting a monitor for every seed at once). Returns the task and the receiver of
    /// its snapshots.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        mut topology: Topology,
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
        // At most one re-seed per heartbeatFrequencyMS.
        topology.set_reseed_interval(monitor_shared.settings.heartbeat_frequency);
        let pools = PoolContext {
            factory,
            events: cmap_sender,
            failures: failure_sender,
        };
        let mut task = ClusterTask {
            topology,
            epoch,
            servers: ServerSlots::new(monitor_shared, pools),
            reports,
            requests,
            shutdown,
            snapshots,
            events,
            background_failures,
            cmap_events,
            reseed_at: None,
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
        let (address, monitor_id) = report.source();
        let address = address.clone();
        let Some(slot) = self.servers.current(&address, monitor_id) else {
            return;
        };
        let changes = match report {
            MonitorReport::Checked {
                outcome:
                    CheckOutcome::Hello {
                        description,
                        round_trip,
                        rtt_samples,
                    },
                ..
            } => {
                for sample in rtt_samples.into_iter().chain(round_trip) {
                    slot.rtt.add_sample(sample);
                }
                let description =
                    description.with_round_trip_times(slot.rtt.average(), Some(slot.rtt.minimum()));
                let changes = self.topology.apply_hello_description(description, now);
                self.warn_if_unusable_reply(&address);
                self.servers.after_check(&address, &changes.description);
                changes
            }
            MonitorReport::Checked {
                outcome: CheckOutcome::Failed(error),
                ..
            } => {
                slot.rtt.reset();
                self.topology.apply_check_failure(&address, error, now)
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
                self.events.record(Record::SrvHosts {
                    hosts: hosts.clone(),
                });
                let mut random = crate::settings::resolution::random_below;
                let now = self.now();
                let changes = self
                    .topology
                    .apply_srv_records(&hosts, max_hosts, &mut random, now);
                self.carry_out(changes, false);
            }
        }
    }

    /// Keeps the SRV poller's task, to abort it when the cluster closes.
    pub(crate) fn attach_srv_poller(&mut self, poller: tokio::task::JoinHandle<()>) {
        self.srv_poller = Some(AbortOnDrop::new(poller));
    }

    /// A pool connection nobody waited for failed (minPoolSize, warm-up): SDAM's error
    /// handling applies as for a check-out's.
    fn on_background_failure(&mut self, failure: BackgroundFailure) {
        let error = establishment_error(&failure.address, failure.generation, &failure.error);
        if let Some(slot) = self.servers.get(&failure.address) {
            slot.runtime
                .remember_failure(failure.generation, failure.error);
        }
        let now = self.now();
        let changes = self.topology.apply_application_error(&error, now);
        self.carry_out(changes, false);
        if let Some(applied) = failure.applied {
            let _ = applied.send(());
        }
    }

    /// The core's scheduled re-seed is due.
    fn reseed(&mut self) {
        self.reseed_at = None;
        let changes = self.topology.reseed(self.now());
        self.carry_out(changes, false);
    }

    /// Performs the core's decisions in order: monitors and ready pools first, then the new
    /// snapshot, then the pools to clear (after the description that explains them), then
    /// the events (so that a subscriber reading the topology on an event sees it). Every
    /// action is matched: a new one does not compile until it is carried out here.
    fn carry_out(&mut self, changes: Changes, force_publish: bool) {
        let mut membership_changed = force_publish;
        for action in &changes.actions {
            match action {
                Action::StartMonitoring(address) => {
                    let description = self.topology.description();
                    self.servers.start_monitored(address.clone(), description);
                    membership_changed = true;
                }
                Action::StopMonitoring(address) => {
                    self.servers.remove(address);
                    membership_changed = true;
                }
                Action::RequestImmediateCheck(address) => {
                    self.servers
                        .with_monitor(address, MonitorHandle::request_check);
                }
                Action::RetryCheckNow(address) => {
                    self.servers.with_monitor(address, MonitorHandle::retry_now);
                }
                Action::CancelCheck(address) => {
                    self.servers
                        .with_monitor(address, MonitorHandle::cancel_check);
                }
                // After the snapshot: see below.
                Action::ClearPool { .. } => {}
                Action::MarkPoolReady(address) => {
                    let description = self.topology.description();
                    if description.topology_type == TopologyType::LoadBalanced
                        && self.servers.add_unmonitored(address, description)
                    {
                        membership_changed = true;
                    }
                    self.servers.mark_pool_ready(address);
                }
                Action::ServerGrowthRefused {
                    reported_by,
                    refused,
                    limit,
                } => {
                    tracing::warn!(
                        %reported_by,
                        refused,
                        limit,
                        "a server's reply listed more new servers than the topology accepts \
                         from replies; the excess is refused (reported once)"
                    );
                }
                Action::ScheduleReseed { at } => {
                    self.reseed_at = Some(self.epoch + at.offset());
                }
                Action::Publish(_) => {}
            }
        }
        let published = self.snapshots.current().description.clone();
        if membership_changed || !Arc::ptr_eq(&published, &changes.description) {
            self.publish(changes.description.clone(), membership_changed, false);
        }
        // A pool is cleared only once the description that made its server Unknown is
        // published ("Clear the connection pool only after the server description is set
        // to Unknown", Server Monitoring): a check-out that fails on the cleared pool and
        // retries then selects from the new description, not from one that still shows the
        // server usable (whose paused pool would fail the retry too).
        for action in &changes.actions {
            if let Action::ClearPool {
                address,
                service_id,
                interrupt_in_use_connections,
                new_generation,
            } = action
            {
                self.servers
                    .clear_pool(address, *service_id, *interrupt_in_use_connections);
                tracing::debug!(%address, ?service_id, new_generation, "pool cleared");
            }
        }
        let topology_id = self.events.topology_id();
        for event in changes.events() {
            log_sdam_event(&topology_id, event);
            if let SdamEvent::TopologyDescriptionChanged { new, .. } = event {
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
        // Only now may new monitors check: their heartbeats follow the events (and log
        // messages) that announced their servers.
        self.servers.release_monitors();
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

    /// Publishes `description`, with the servers' runtimes rebuilt when membership changed.
    fn publish(
        &mut self,
        description: Arc<TopologyDescription>,
        membership_changed: bool,
        closed: bool,
    ) {
        let servers = if membership_changed {
            Arc::new(self.servers.runtimes())
        } else {
            self.snapshots.current().servers.clone()
        };
        self.snapshots.publish(Snapshot {
            description,
            servers,
            closed,
        });
    }

    /// "Client closing": every monitor stopped and awaited (their sockets closed), the
    /// closing events emitted (and recorded, flushed), a last snapshot marked closed.
    async fn close(mut self) {
        self.srv_poller = None;
        let changes = self.topology.close();
        for (_, slot) in self.servers.take_all() {
            slot.stop().await;
        }
        let description = changes.description.clone();
        self.carry_out(changes, true);
        // The recording holds the closing events on disk before `Cluster::close` returns.
        self.events.flush_recording().await;
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
