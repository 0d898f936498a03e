//! [`Cluster`]: the live engine's handle. Clones share one engine; dropping the last clone
//! (or [`Cluster::close`]) stops every task and closes every socket.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::oid::ObjectId;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::cluster::publication::{Snapshot, Subscription};
use crate::cluster::task::{ClusterTask, Request};
use crate::connection::channel::ConnectOptions;
use crate::connection::handshake::HandshakeOptions;
use crate::connection::tls::TlsConnector;
use crate::deadline::deadline_after;
use crate::error::ClusterError;
use crate::events::{EventEmitter, EventSubscriber, WeakEmitter};
use crate::monitor::monitoring_connection::MonitorConnector;
use crate::monitor::schedule::CheckClock;
use crate::monitor::shared::MonitorShared;
use crate::pool::HandshakeFactory;
use crate::recorder::{Recorder, RecordingSettings};
use crate::sdam::{ApplicationError, Topology, TopologyDescription};
use crate::settings::cluster_settings::ClusterSettings;

/// How many monitor reports may wait for the cluster task before monitors wait in turn.
const REPORT_QUEUE: usize = 1024;

/// A running topology engine: it discovers and monitors the deployment a connection string
/// names, always holds a current [`TopologyDescription`], and selects servers.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use mongo_topology::selection::SelectionCriteria;
/// use mongo_topology::Cluster;
///
/// let cluster = Cluster::connect("mongodb://localhost:27017/?replicaSet=rs0")?;
/// let primary = cluster.select_server(&SelectionCriteria::write()).await?;
/// println!("writes go to {}", primary.address());
/// println!("{:?}", cluster.topology().topology_type);
/// cluster.close().await;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Cluster {
    inner: Arc<ClusterInner>,
}

#[derive(Debug)]
struct ClusterInner {
    settings: Arc<ClusterSettings>,
    topology_id: ObjectId,
    snapshots: Subscription,
    /// Bumped by [`Cluster::request_check`]; every polling monitor watches it.
    check_all: watch::Sender<u64>,
    requests: mpsc::Sender<Request>,
    events: WeakEmitter,
    /// Dropping (or sending on) it stops the cluster task.
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
}

impl Cluster {
    /// Parses `uri` and starts a cluster for it (see [`Cluster::new`]). A `mongodb+srv`
    /// string needs DNS first: use [`Cluster::connect_async`].
    pub fn connect(uri: &str) -> Result<Cluster, ClusterError> {
        Cluster::new(ClusterSettings::parse(uri)?)
    }

    /// Parses `uri`, looks its seed list up in DNS if it is a `mongodb+srv` string (with the
    /// system's resolver; see [`ClusterSettings::resolve`] to choose the name server), and
    /// starts a cluster for it. A `mongodb+srv` cluster of a Sharded or Unknown topology
    /// keeps polling the SRV records for mongos added or removed.
    pub async fn connect_async(uri: &str) -> Result<Cluster, ClusterError> {
        let settings =
            ClusterSettings::resolve(uri, crate::connection::dns::DnsSettings::default()).await?;
        Cluster::new(settings)
    }

    /// Starts the engine: every seed is checked at once, in parallel, and every server
    /// learned later is monitored the moment it enters the description. Must be called
    /// within a tokio runtime.
    pub fn new(settings: ClusterSettings) -> Result<Cluster, ClusterError> {
        Ok(Cluster::start(settings, false, None)?.0)
    }

    /// [`Cluster::new`], recording what the client receives to a file from the very first
    /// check on (see [`RecordingSettings`] and `docs/recording.md`). The recording stops
    /// when the cluster does; a recorder that falls behind drops records (and says how many
    /// in the file) rather than slow the monitors down.
    pub fn with_recording(
        settings: ClusterSettings,
        recording: &RecordingSettings,
    ) -> Result<Cluster, ClusterError> {
        Ok(Cluster::start(settings, false, Some(recording))?.0)
    }

    /// [`Cluster::with_events`] and [`Cluster::with_recording`] at once.
    pub fn with_events_and_recording(
        settings: ClusterSettings,
        recording: &RecordingSettings,
    ) -> Result<(Cluster, EventSubscriber), ClusterError> {
        let (cluster, subscriber) = Cluster::start(settings, true, Some(recording))?;
        let subscriber = subscriber.unwrap_or_else(|| cluster.subscribe());
        Ok((cluster, subscriber))
    }

    /// [`Cluster::new`], with a subscriber that sees every event from the very first
    /// (TopologyOpeningEvent), which [`Cluster::subscribe`] called after `new` would miss.
    pub fn with_events(
        settings: ClusterSettings,
    ) -> Result<(Cluster, EventSubscriber), ClusterError> {
        let (cluster, subscriber) = Cluster::start(settings, true, None)?;
        // `start` subscribes when asked to.
        let subscriber = subscriber.unwrap_or_else(|| cluster.subscribe());
        Ok((cluster, subscriber))
    }

    fn start(
        settings: ClusterSettings,
        subscribe: bool,
        recording: Option<&RecordingSettings>,
    ) -> Result<(Cluster, Option<EventSubscriber>), ClusterError> {
        settings.validate()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ClusterError::NoRuntime);
        }
        let tls = match &settings.tls {
            Some(tls) => Some(
                TlsConnector::new(tls)
                    .map_err(crate::settings::cluster_settings::ClusterSettingsError::from)?,
            ),
            None => None,
        };
        let epoch = Instant::now();
        let (topology, opening) =
            Topology::new(settings.topology.clone(), crate::time::MonotonicTime::ZERO)
                .map_err(crate::settings::cluster_settings::ClusterSettingsError::from)?;
        let topology_id = ObjectId::new();
        let recorder = recording
            .map(|recording| Recorder::start(recording, &settings, epoch))
            .transpose()?;
        // Sized so that the burst of discovery (every seed's ServerOpening at once, then their
        // first replies) fits whole, even for a fleet of thousands of seeds.
        let events = EventEmitter::new(
            topology_id,
            crate::events::buffer_for_seeds(settings.topology.seeds.len()),
            recorder,
        );
        let settings = Arc::new(settings);
        let (reports_tx, reports_rx) = mpsc::channel(REPORT_QUEUE);
        let (requests_tx, requests_rx) = mpsc::channel(REPORT_QUEUE);
        let (check_all, check_all_rx) = watch::channel(0u64);
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        // Built once, for the monitors' connections and the pools' alike.
        let handshake = HandshakeOptions::new(
            settings.app_name.as_deref(),
            settings.topology.load_balanced,
        );
        let monitor_shared = MonitorShared {
            settings: settings.clone(),
            connector: Arc::new(MonitorConnector::new(
                &settings,
                handshake.clone(),
                tls.clone(),
            )),
            reports: reports_tx,
            events: events.clone(),
            check_all: check_all_rx,
            clock: CheckClock::new(epoch, settings.heartbeat_frequency),
            epoch,
        };
        let weak_events = events.downgrade();
        let subscriber = subscribe.then(|| weak_events.subscribe());
        let factory = Arc::new(HandshakeFactory {
            connect: ConnectOptions {
                connect_timeout: settings.connect_timeout,
                socket_timeout: settings.socket_timeout,
                name_server: settings.dns.name_server,
            },
            handshake,
            credential: settings.credential.clone().map(Arc::new),
            scram_keys: Arc::default(),
            tls,
        });
        let (mut task, snapshots) = ClusterTask::new(
            topology,
            opening,
            epoch,
            monitor_shared,
            reports_rx,
            requests_rx,
            shutdown_rx,
            events,
            factory,
        );
        if let Some(srv) = settings
            .srv
            .clone()
            .filter(|_| !settings.topology.load_balanced)
        {
            task.attach_srv_poller(tokio::spawn(crate::cluster::srv_poller::poll_srv_records(
                srv,
                settings.dns.clone(),
                settings.heartbeat_frequency,
                snapshots.clone(),
                requests_tx.clone(),
            )));
        }
        tokio::spawn(task.run());
        let cluster = Cluster {
            inner: Arc::new(ClusterInner {
                settings,
                topology_id,
                snapshots,
                check_all,
                requests: requests_tx,
                events: weak_events,
                shutdown: Mutex::new(Some(shutdown_tx)),
            }),
        };
        Ok((cluster, subscriber))
    }

    /// The settings the cluster runs with.
    pub fn settings(&self) -> &ClusterSettings {
        &self.inner.settings
    }

    /// The topology's id, as carried by every event.
    pub fn topology_id(&self) -> ObjectId {
        self.inner.topology_id
    }

    /// The current topology description: a cheap, immutable snapshot, read without a lock.
    pub fn topology(&self) -> Arc<TopologyDescription> {
        self.inner.snapshots.latest().description.clone()
    }

    /// The latest snapshot, read without a lock.
    pub(crate) fn topology_snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshots.latest()
    }

    pub(crate) fn subscription(&self) -> Subscription {
        self.inner.snapshots.clone()
    }

    /// A watcher that wakes on every new topology description.
    pub fn watch(&self) -> TopologyWatcher {
        TopologyWatcher {
            subscription: self.subscription(),
        }
    }

    /// Waits until `condition` holds for the current description (checked at once, then on
    /// every change), for at most `timeout`. Returns the description that satisfied it.
    pub async fn wait_for(
        &self,
        mut condition: impl FnMut(&TopologyDescription) -> bool,
        timeout: Duration,
    ) -> Result<Arc<TopologyDescription>, ClusterError> {
        let deadline = deadline_after(Instant::now(), timeout);
        let mut watcher = self.watch();
        loop {
            let current = watcher.current();
            if condition(&current) {
                return Ok(current);
            }
            match tokio::time::timeout_at(deadline, watcher.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(closed)) => return Err(closed),
                Err(_) => {
                    return Err(ClusterError::WaitTimedOut {
                        timeout,
                        topology: current,
                    })
                }
            }
        }
    }

    /// Asks every monitor to check its server soon (mgo's poke of `cluster.sync`). Requests
    /// coalesce, and no server is checked more often than minHeartbeatFrequencyMS; a
    /// streaming monitor needs no request, as its server reports every change.
    pub fn request_check(&self) {
        self.inner
            .check_all
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// The cluster's event emitter while it runs and someone listens (for the command
    /// monitoring events of the commands it runs).
    pub(crate) fn listened_emitter(&self) -> Option<EventEmitter> {
        self.inner
            .events
            .upgrade()
            .filter(EventEmitter::has_subscribers)
    }

    /// The events of this cluster from now on.
    pub fn subscribe(&self) -> EventSubscriber {
        self.inner.events.subscribe()
    }

    /// Reports an error an operation met on a server, for SDAM "Error handling" (e.g. a
    /// NotWritablePrimary marks the server Unknown and requests an immediate check).
    /// Returns once the error has been applied, so that a retry selects on the new
    /// description.
    pub async fn report_application_error(&self, error: ApplicationError) {
        let (applied, done) = oneshot::channel();
        let request = Request::ApplicationError(error, applied);
        // Errors only mean the cluster is closed, when no error matters any more.
        if self.inner.requests.send(request).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Stops the engine: every monitor and socket is closed, the closing events are
    /// emitted, and every clone of this handle sees a closed cluster. Returns once done.
    pub async fn close(&self) {
        let sender = self
            .inner
            .shutdown
            .lock()
            .map(|mut shutdown| shutdown.take())
            .unwrap_or_default();
        if let Some(sender) = sender {
            let _ = sender.send(());
        }
        let mut subscription = self.subscription();
        // The task drops its publisher once everything is closed.
        while subscription.changed().await.is_ok() {}
    }

    /// Whether the cluster has been closed.
    pub fn is_closed(&self) -> bool {
        self.inner.snapshots.latest().closed || self.inner.snapshots.publisher_gone()
    }
}

/// Wakes on every new topology description of a [`Cluster`] (mgo's `serverSynced`
/// broadcast). Missed intermediate descriptions are skipped: a watcher always sees the
/// latest.
#[derive(Debug, Clone)]
pub struct TopologyWatcher {
    subscription: Subscription,
}

impl TopologyWatcher {
    /// The latest description, marking it seen.
    pub fn current(&mut self) -> Arc<TopologyDescription> {
        self.subscription.latest_seen().description.clone()
    }

    /// Waits for a description newer than the last one seen.
    pub async fn changed(&mut self) -> Result<(), ClusterError> {
        self.subscription
            .changed()
            .await
            .map_err(|_| ClusterError::Closed)
    }
}
