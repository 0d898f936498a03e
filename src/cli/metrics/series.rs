//! The series of one deployment in the shared [`Families`]: set from the topology
//! description and the cluster's events, and removed together when the deployment goes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mongo_topology::sdam::{SdamEvent, ServerType, TopologyDescription, TopologyType};
use mongo_topology::selection::secondary_staleness_millis;
use mongo_topology::{ClusterEvent, EventKind, ServerAddress};
use tokio::time::Instant;

use super::shape::Shape;

mod checks;
use super::{Families, Labels, SecondsGauge};

/// The series of one deployment (`watch`'s only one, or one of the exporter's).
pub struct DeploymentSeries {
    families: Arc<Families>,
    /// Labels every series of this deployment starts with (`deployment`, or none).
    base: Labels,
    state: Mutex<State>,
}

/// What the last update saw, so that stale series can be removed and durations counted.
#[derive(Default)]
struct State {
    set: String,
    /// Per server: the `type` label of its `server_type` series.
    servers: HashMap<ServerAddress, String>,
    topology_type: Option<String>,
    /// The last primary seen (kept while there is none, to tell a new one from its return).
    last_primary: Option<ServerAddress>,
    /// Since when the replica set has had no known primary.
    no_primary_since: Option<Instant>,
    /// When the no-primary time was last added to the total.
    no_primary_counted_to: Option<Instant>,
    /// The last successful check of each server.
    last_success: HashMap<ServerAddress, Instant>,
    /// The servers with series of their own outside the description's (heartbeat
    /// histograms, certificate expiry), to remove them.
    durations: Vec<ServerAddress>,
    /// The servers whose checks are timed (polled, or with a failed check).
    timed: HashSet<ServerAddress>,
    /// The first check of a server not yet timed: timed with the next non-awaited check,
    /// dropped when the server streams.
    held_first_checks: HashMap<ServerAddress, Duration>,
    /// The secondaries with a staleness series, and their gauges.
    stale: HashMap<ServerAddress, SecondsGauge>,
    /// The RTT gauge of each server that has one, and the check-age gauges: what a scrape
    /// refreshes, without building labels and looking the series up again.
    rtt_gauges: HashMap<ServerAddress, SecondsGauge>,
    age_gauges: HashMap<ServerAddress, SecondsGauge>,
    /// The client's heartbeatFrequencyMS (a term of the staleness estimate); `None`: the
    /// default.
    heartbeat_frequency: Option<Duration>,
    srv: bool,
    /// The shape of the description the series were last built from.
    shape: Option<Shape>,
}

/// heartbeatFrequencyMS when the deployment did not say (the default of the URI options).
const DEFAULT_HEARTBEAT_FREQUENCY: Duration = Duration::from_secs(10);

impl DeploymentSeries {
    /// The series of a deployment whose every series carries `base` first.
    pub fn new(families: Arc<Families>, base: Labels) -> DeploymentSeries {
        let series = DeploymentSeries {
            families,
            base,
            state: Mutex::new(State::default()),
        };
        let topology = series.labels(&[]);
        series.families.has_primary.get_or_create(&topology).set(0);
        let _ = series.families.changes.get_or_create(&topology);
        let _ = series.families.primary_changes.get_or_create(&topology);
        series
    }

    fn labels(&self, more: &[(&'static str, &str)]) -> Labels {
        let mut labels = self.base.clone();
        labels.extend(more.iter().map(|(key, value)| (*key, (*value).to_string())));
        labels
    }

    fn server_labels(&self, address: &ServerAddress, set: &str) -> Labels {
        self.labels(&[("address", &address.to_string()), ("set", set)])
    }

    /// The client's heartbeatFrequencyMS, for the staleness estimates (10 s unless set).
    pub fn set_heartbeat_frequency(&self, frequency: Duration) {
        if let Some(mut state) = self.state() {
            state.heartbeat_frequency = Some(frequency);
        }
    }

    fn state(&self) -> Option<MutexGuard<'_, State>> {
        self.state.lock().ok()
    }

    /// Sets every gauge from `topology` as of `now`; removes the series of servers that left
    /// it or whose labels changed.
    pub fn update(&self, topology: &TopologyDescription, now: Instant) {
        let Some(mut state) = self.state() else {
            return;
        };
        // Most changes (a streaming reply's new lastWriteDate) leave every label as it was.
        let shape = Shape::of(topology);
        if state.shape.as_ref() == Some(&shape) {
            self.refresh_values(&mut state, topology, now);
            return;
        }
        state.shape = Some(shape);
        let families = &self.families;
        let set = topology.set_name.clone().unwrap_or_default();
        if set != state.set {
            let servers: Vec<ServerAddress> = state.servers.keys().cloned().collect();
            for address in servers {
                self.remove_server(&mut state, &address);
            }
            state.set = set.clone();
        }
        let mut current = HashMap::new();
        for (address, server) in &topology.servers {
            let plain = self.server_labels(address, &set);
            let server_type = server.server_type.to_string();
            let known = server.server_type != ServerType::Unknown;
            families
                .server_up
                .get_or_create(&plain)
                .set(i64::from(known));
            if let Some(old) = state
                .servers
                .get(address)
                .filter(|old| **old != server_type)
            {
                families.server_type.remove(&self.labels(&[
                    ("address", &address.to_string()),
                    ("set", &set),
                    ("type", old),
                ]));
            }
            let typed = self.labels(&[
                ("address", &address.to_string()),
                ("set", &set),
                ("type", &server_type),
            ]);
            families.server_type.get_or_create(&typed).set(1);
            match server.round_trip_time.filter(|_| known) {
                Some(rtt) => {
                    let gauge = families.server_rtt.get_or_create(&plain).clone();
                    gauge.set(rtt.as_secs_f64());
                    state.rtt_gauges.insert(address.clone(), gauge);
                }
                None => {
                    families.server_rtt.remove(&plain);
                    state.rtt_gauges.remove(address);
                }
            }
            // A server without failures has the series too, at 0.
            let _ = families.heartbeat_failures.get_or_create(&plain);
            current.insert(address.clone(), server_type);
        }
        let gone: Vec<ServerAddress> = state
            .servers
            .keys()
            .filter(|address| !current.contains_key(*address))
            .cloned()
            .collect();
        for address in gone {
            self.remove_server(&mut state, &address);
        }
        state.servers = current;
        let topology_type = topology.topology_type.to_string();
        if let Some(old) = state
            .topology_type
            .as_ref()
            .filter(|old| **old != topology_type)
        {
            families
                .topology_type
                .remove(&self.labels(&[("type", old)]));
        }
        families
            .topology_type
            .get_or_create(&self.labels(&[("type", &topology_type)]))
            .set(1);
        state.topology_type = Some(topology_type);
        let plain = self.labels(&[]);
        let primary = topology.primary().map(|primary| primary.address.clone());
        families
            .has_primary
            .get_or_create(&plain)
            .set(i64::from(primary.is_some()));
        if let Some(primary) = primary {
            if state
                .last_primary
                .as_ref()
                .is_some_and(|last| *last != primary)
            {
                families.primary_changes.get_or_create(&plain).inc();
            }
            state.last_primary = Some(primary);
        }
        self.count_no_primary(&mut state, topology, now);
        self.refresh_ages(&mut state, now);
        self.set_staleness(&mut state, topology);
    }

    /// Sets what changes without a change of the description (RTTs, check ages, time
    /// without a primary, staleness) from `topology` as of `now`: what a scrape needs,
    /// cheaper than [`DeploymentSeries::update`] (the series already exist; servers that
    /// came or went are the next update's, which every description change brings).
    pub fn refresh(&self, topology: &TopologyDescription, now: Instant) {
        if let Some(mut state) = self.state() {
            self.refresh_values(&mut state, topology, now);
        }
    }

    fn refresh_values(&self, state: &mut State, topology: &TopologyDescription, now: Instant) {
        for (address, gauge) in &state.rtt_gauges {
            if let Some(rtt) = topology
                .servers
                .get(address)
                .and_then(|server| server.round_trip_time)
            {
                gauge.set(rtt.as_secs_f64());
            }
        }
        self.count_no_primary(state, topology, now);
        self.refresh_ages(state, now);
        self.set_staleness(state, topology);
    }

    /// The staleness estimate of every secondary that has one (the Max Staleness spec's, as
    /// selection computes it); a server that is no longer a secondary loses its series.
    fn set_staleness(&self, state: &mut State, topology: &TopologyDescription) {
        let frequency = state
            .heartbeat_frequency
            .unwrap_or(DEFAULT_HEARTBEAT_FREQUENCY);
        let estimates: HashMap<ServerAddress, i64> =
            secondary_staleness_millis(topology, frequency)
                .into_iter()
                // Only servers with series (one that just came is the next update's).
                .filter(|(address, _)| state.servers.contains_key(address))
                .collect();
        let gone: Vec<ServerAddress> = state
            .stale
            .keys()
            .filter(|address| !estimates.contains_key(*address))
            .cloned()
            .collect();
        for address in gone {
            state.stale.remove(&address);
            self.families
                .staleness
                .remove(&self.server_labels(&address, &state.set));
        }
        for (address, millis) in estimates {
            // Precision of a millisecond count as f64 is exact far beyond any real staleness.
            #[allow(clippy::cast_precision_loss)]
            let seconds = millis as f64 / 1000.0;
            match state.stale.get(&address) {
                Some(gauge) => {
                    gauge.set(seconds);
                }
                None => {
                    let gauge = self
                        .families
                        .staleness
                        .get_or_create(&self.server_labels(&address, &state.set))
                        .clone();
                    gauge.set(seconds);
                    state.stale.insert(address, gauge);
                }
            }
        }
    }

    /// Adds the time without a primary up to `now`; a replica set only (a sharded cluster
    /// or a single server has no primary to lose).
    fn count_no_primary(&self, state: &mut State, topology: &TopologyDescription, now: Instant) {
        let plain = self.labels(&[]);
        if let Some(counted_to) = state.no_primary_counted_to {
            let spent = now.saturating_duration_since(counted_to).as_secs_f64();
            self.families
                .without_primary_total
                .get_or_create(&plain)
                .inc_by(spent);
        }
        let without = topology.topology_type == TopologyType::ReplicaSetNoPrimary;
        if without {
            let since = *state.no_primary_since.get_or_insert(now);
            state.no_primary_counted_to = Some(now);
            self.families
                .without_primary
                .get_or_create(&plain)
                .set(now.saturating_duration_since(since).as_secs_f64());
        } else {
            state.no_primary_since = None;
            state.no_primary_counted_to = None;
            self.families.without_primary.get_or_create(&plain).set(0.0);
        }
        let _ = self.families.without_primary_total.get_or_create(&plain);
    }

    fn refresh_ages(&self, state: &mut State, now: Instant) {
        let State {
            last_success,
            servers,
            age_gauges,
            set,
            ..
        } = state;
        for (address, at) in last_success.iter() {
            if !servers.contains_key(address) {
                continue;
            }
            let age = now.saturating_duration_since(*at).as_secs_f64();
            match age_gauges.get(address) {
                Some(gauge) => {
                    gauge.set(age);
                }
                None => {
                    let gauge = self
                        .families
                        .last_success_age
                        .get_or_create(&self.server_labels(address, set))
                        .clone();
                    gauge.set(age);
                    age_gauges.insert(address.clone(), gauge);
                }
            }
        }
    }

    /// Counts what `event` reports: changes, heartbeat failures and durations, successes.
    pub fn on_event(&self, event: &ClusterEvent) {
        match &event.kind {
            EventKind::Sdam(SdamEvent::TopologyDescriptionChanged { new, .. }) => {
                self.topology_changed();
                self.update(new, event.at);
            }
            EventKind::HeartbeatSucceeded {
                address,
                duration,
                awaited,
                ..
            } => {
                self.heartbeat(address, *duration, *awaited);
                if let Some(mut state) = self.state() {
                    state.last_success.insert(address.clone(), event.at);
                }
            }
            EventKind::HeartbeatFailed {
                address,
                duration,
                awaited,
                ..
            } => self.heartbeat_failed(address, *duration, *awaited),
            _ => {}
        }
    }

    /// Counts one change of the topology description.
    pub fn topology_changed(&self) {
        self.families.changes.get_or_create(&self.labels(&[])).inc();
    }

    /// When the TLS certificate `address` presented expires.
    pub fn certificate_expiry(&self, address: &ServerAddress, not_after: std::time::SystemTime) {
        let Some(mut state) = self.state() else {
            return;
        };
        let seconds = not_after
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            });
        self.families
            .certificate_expiry
            .get_or_create(&self.server_labels(address, &state.set))
            .set(seconds);
        // Removed with the server's other series, even if it never enters a description.
        if !state.last_success.contains_key(address) && !state.servers.contains_key(address) {
            state.durations.push(address.clone());
        }
    }

    /// The SRV records the seed list came from (a `mongodb+srv` deployment).
    pub fn srv_records(&self, count: usize) {
        if let Some(mut state) = self.state() {
            state.srv = true;
        }
        let plain = self.labels(&[]);
        self.families
            .srv_records
            .get_or_create(&plain)
            .set(i64::try_from(count).unwrap_or(i64::MAX));
        let _ = self.families.srv_lookup_failures.get_or_create(&plain);
    }

    /// Counts one failed SRV lookup of the seed list.
    pub fn srv_lookup_failed(&self) {
        if let Some(mut state) = self.state() {
            state.srv = true;
        }
        self.families
            .srv_lookup_failures
            .get_or_create(&self.labels(&[]))
            .inc();
    }

    fn remove_server(&self, state: &mut State, address: &ServerAddress) {
        let families = &self.families;
        let plain = self.server_labels(address, &state.set);
        families.server_up.remove(&plain);
        if let Some(server_type) = state.servers.get(address) {
            families.server_type.remove(&self.labels(&[
                ("address", &address.to_string()),
                ("set", &state.set),
                ("type", server_type),
            ]));
        }
        families.server_rtt.remove(&plain);
        families.heartbeat_failures.remove(&plain);
        families.last_success_age.remove(&plain);
        families.certificate_expiry.remove(&plain);
        families.heartbeat_duration.remove(&plain);
        families.staleness.remove(&plain);
        state.stale.remove(address);
        state.rtt_gauges.remove(address);
        state.age_gauges.remove(address);
        state.durations.retain(|known| known != address);
        state.timed.remove(address);
        state.held_first_checks.remove(address);
        state.last_success.remove(address);
    }

    /// Removes every series of this deployment (it left the exporter's configuration).
    pub fn remove_all(&self) {
        let Some(mut state) = self.state() else {
            return;
        };
        let servers: Vec<ServerAddress> = state.servers.keys().cloned().collect();
        for address in servers {
            self.remove_server(&mut state, &address);
        }
        // Durations or successes of servers that never entered a description.
        let leftovers: Vec<ServerAddress> = state
            .durations
            .iter()
            .cloned()
            .chain(state.last_success.keys().cloned())
            .collect();
        for address in leftovers {
            self.remove_server(&mut state, &address);
        }
        let families = &self.families;
        let plain = self.labels(&[]);
        if let Some(topology_type) = &state.topology_type {
            families
                .topology_type
                .remove(&self.labels(&[("type", topology_type)]));
        }
        families.has_primary.remove(&plain);
        families.changes.remove(&plain);
        families.primary_changes.remove(&plain);
        families.without_primary.remove(&plain);
        families.without_primary_total.remove(&plain);
        families.srv_records.remove(&plain);
        families.srv_lookup_failures.remove(&plain);
        *state = State::default();
    }
}
