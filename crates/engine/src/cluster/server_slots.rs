//! The cluster task's servers: for each server of the topology its monitor (none in
//! load-balanced mode), its RTT tracker, its runtime (the pool, a warm-up connection) and
//! its warm-up task. The cluster task decides nothing here: it carries out the core's
//! actions and warm-up decisions on these slots.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use bson::oid::ObjectId;
use tokio::sync::mpsc;

use crate::address::ServerAddress;
use crate::cluster::publication::ServerRuntime;
use crate::cluster::warm_up::{spawn_warm_up, AbortOnDrop};
use crate::monitor::handle::MonitorHandle;
use crate::monitor::shared::MonitorShared;
use crate::pool::{BackgroundFailure, CmapEvent, ConnectionFactory, Pool, PoolState};
use crate::sdam::{TopologyDescription, WarmUpAfterCheck, WarmUpPolicy};
use crate::selection::{ReadPreferenceMode, RttTracker};

/// One server: its monitor (none in load-balanced mode) and its pool.
#[derive(Debug)]
pub(crate) struct ServerSlot {
    pub(crate) monitor: Option<MonitorHandle>,
    pub(crate) rtt: RttTracker,
    pub(crate) runtime: Arc<ServerRuntime>,
    /// The warm-up task, aborted with the slot; `None` until one is started (at most one
    /// per slot).
    warm_up: Option<AbortOnDrop>,
}

impl ServerSlot {
    /// Closes the pool, stops the monitor and the warm-up, and waits for both (their
    /// sockets closed); a warm-up connection still waiting for the pool is dropped.
    pub(crate) async fn stop(self) {
        self.runtime.pool.close();
        if let Some(monitor) = self.monitor {
            monitor.stop().await;
        }
        if let Some(warm_up) = self.warm_up {
            warm_up.stop().await;
        }
        self.runtime.discard_warm();
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

/// Every server's slot, with what it takes to create one.
pub(crate) struct ServerSlots {
    /// Hashed, not ordered: every report looks its server up, and at 10,000 servers an
    /// ordered map's dozen host-name comparisons each touched memory no other recent report
    /// had (nothing here depends on the order).
    slots: HashMap<ServerAddress, ServerSlot>,
    /// Servers whose monitors were created and are not released yet.
    held_monitors: Vec<ServerAddress>,
    next_monitor_id: u64,
    monitor_shared: MonitorShared,
    pools: PoolContext,
    warm_up: WarmUpPolicy,
}

impl ServerSlots {
    pub(crate) fn new(monitor_shared: MonitorShared, pools: PoolContext) -> Self {
        let settings = &monitor_shared.settings;
        let reads_secondaries = settings.read_preference.mode() != ReadPreferenceMode::Primary;
        ServerSlots {
            slots: HashMap::new(),
            held_monitors: Vec::new(),
            next_monitor_id: 0,
            warm_up: WarmUpPolicy::new(settings.warm_up, reads_secondaries),
            monitor_shared,
            pools,
        }
    }

    /// The slot of `address`.
    pub(crate) fn get(&self, address: &ServerAddress) -> Option<&ServerSlot> {
        self.slots.get(address)
    }

    /// Calls `order` on the monitor of `address`, if it has one.
    pub(crate) fn with_monitor(&self, address: &ServerAddress, order: impl FnOnce(&MonitorHandle)) {
        if let Some(monitor) = self
            .slots
            .get(address)
            .and_then(|slot| slot.monitor.as_ref())
        {
            order(monitor);
        }
    }

    /// The slot of `address` if `monitor_id` is its current monitor (a report from a
    /// monitor of a removed server is ignored).
    pub(crate) fn current(
        &mut self,
        address: &ServerAddress,
        monitor_id: u64,
    ) -> Option<&mut ServerSlot> {
        self.slots
            .get_mut(address)
            .filter(|slot| slot.monitor.as_ref().map(MonitorHandle::id) == Some(monitor_id))
    }

    /// Each server's runtime, for a snapshot.
    pub(crate) fn runtimes(&self) -> BTreeMap<ServerAddress, Arc<ServerRuntime>> {
        self.slots
            .iter()
            .map(|(address, slot)| (address.clone(), slot.runtime.clone()))
            .collect()
    }

    /// Creates the monitor of `address`, held until [`ServerSlots::release_monitors`], and
    /// its connection pool, paused until a check succeeds (SDAM "Connection Pool
    /// Management").
    pub(crate) fn start_monitored(
        &mut self,
        address: ServerAddress,
        description: &TopologyDescription,
    ) {
        self.next_monitor_id += 1;
        let monitor = MonitorHandle::start(
            address.clone(),
            self.next_monitor_id,
            self.monitor_shared.clone(),
        );
        self.held_monitors.push(address.clone());
        self.add(address, Some(monitor), description);
    }

    /// Lets the monitors created since the last call begin their checks (those of servers
    /// removed meanwhile are gone with their slots).
    pub(crate) fn release_monitors(&mut self) {
        for address in std::mem::take(&mut self.held_monitors) {
            if let Some(monitor) = self
                .slots
                .get_mut(&address)
                .and_then(|slot| slot.monitor.as_mut())
            {
                monitor.release();
            }
        }
    }

    /// In load-balanced mode: a pool and no monitor (Load Balancer spec). Returns whether
    /// the server was added.
    pub(crate) fn add_unmonitored(
        &mut self,
        address: &ServerAddress,
        description: &TopologyDescription,
    ) -> bool {
        if self.slots.contains_key(address) {
            return false;
        }
        self.add(address.clone(), None, description);
        true
    }

    /// Gives `address` its slot: the monitor (if any), a paused pool, and a warm-up
    /// connection when the policy says so and there is a monitor whose first check it can
    /// overlap.
    fn add(
        &mut self,
        address: ServerAddress,
        monitor: Option<MonitorHandle>,
        description: &TopologyDescription,
    ) {
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
        let early = monitor.is_some()
            && self
                .warm_up
                .start_early(description, &settings.topology.seeds, &address);
        let warm_up = early.then(|| self.spawn_warm_up(&address, &runtime));
        self.slots.insert(
            address,
            ServerSlot {
                monitor,
                rtt: RttTracker::new(),
                runtime,
                warm_up,
            },
        );
    }

    /// Removes `address`: dropping the slot aborts its monitor (closing its sockets) and
    /// its warm-up; its pool is closed.
    pub(crate) fn remove(&mut self, address: &ServerAddress) {
        if let Some(slot) = self.slots.remove(address) {
            slot.runtime.pool.close();
        }
    }

    /// Every slot, taken out (when the cluster closes).
    pub(crate) fn take_all(&mut self) -> HashMap<ServerAddress, ServerSlot> {
        std::mem::take(&mut self.slots)
    }

    /// Carries out the warm-up policy after a check of `address` produced `description`.
    pub(crate) fn after_check(
        &mut self,
        address: &ServerAddress,
        description: &TopologyDescription,
    ) {
        let Some(slot) = self.slots.get(address) else {
            return;
        };
        let already_started = slot.warm_up.is_some() || slot.monitor.is_none();
        match self
            .warm_up
            .after_check(description, address, already_started)
        {
            WarmUpAfterCheck::Nothing => {}
            WarmUpAfterCheck::Discard => slot.runtime.discard_warm(),
            WarmUpAfterCheck::Start => {
                let runtime = slot.runtime.clone();
                let warm_up = self.spawn_warm_up(address, &runtime);
                if let Some(slot) = self.slots.get_mut(address) {
                    slot.warm_up = Some(warm_up);
                }
            }
        }
    }

    fn spawn_warm_up(&self, address: &ServerAddress, runtime: &Arc<ServerRuntime>) -> AbortOnDrop {
        spawn_warm_up(
            address,
            runtime,
            self.pools.factory.clone(),
            self.pools.failures.clone(),
        )
    }

    /// CMAP "clear" of the pool of `address`: only the connections of `service_id` in
    /// load-balanced mode; otherwise every connection, and a waiting warm-up connection.
    pub(crate) fn clear_pool(
        &self,
        address: &ServerAddress,
        service_id: Option<ObjectId>,
        interrupt_in_use_connections: bool,
    ) {
        let Some(slot) = self.slots.get(address) else {
            return;
        };
        match service_id {
            Some(service_id) => slot.runtime.pool.clear_service(service_id),
            None => {
                slot.runtime.pool.clear(interrupt_in_use_connections);
                slot.runtime.discard_warm();
            }
        }
    }

    /// Marks the pool of `address` ready: it takes a waiting warm-up connection, and the
    /// last background failure is forgotten.
    pub(crate) fn mark_pool_ready(&self, address: &ServerAddress) {
        if let Some(slot) = self.slots.get(address) {
            // Every successful check of a data-bearing server lands here. A pool already
            // ready has nothing to do (a warm-up connection that arrives while the pool is
            // ready is adopted as it arrives), so only a paused pool runs the CMAP machine.
            if slot.runtime.pool.state() != PoolState::Ready {
                slot.runtime.pool.ready();
                slot.runtime.offer_warm(None);
            }
            slot.runtime.forget_failure();
        }
    }
}
