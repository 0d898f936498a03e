//! [`Topology`]: the pure SDAM state machine. It owns the settings, the published
//! [`TopologyDescription`] snapshot and the pool generations, takes check outcomes and
//! application errors, and answers each with the [`Changes`] the live engine must carry out.
//!
//! Cost: a heartbeat that changes nothing SDAM compares (the steady state) takes the fast
//! path, O(log n) plus the size of the reply: no transition, no diff, no snapshot unless the
//! refresh crosses the republish rule of [`crate::sdam::refresh`]. An input that changes the
//! description builds one new snapshot: O(changes × log n), since the snapshots' server map
//! is persistent ([`crate::sdam::ServerMap`]: the new one shares all but the changed paths
//! with the previous one), the diff that produces the events skips what they share, and the
//! derived fields are maintained from the changed servers (`derived`). The transition rules
//! of a replica set may still walk its members (bounded by one reply's member lists).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;

use crate::address::ServerAddress;
use crate::reply::DocumentRef;
use crate::sdam::departures::RemovalReason;
use crate::sdam::errors::{ApplicationError, ErrorDecision};
use crate::sdam::events::{Action, Changes, SdamEvent};
use crate::sdam::hello::CheckTiming;
use crate::sdam::server::{ServerDescription, ServerError, ServerErrorKind, ServerType};
use crate::sdam::settings::{SettingsError, TopologySettings};
use crate::sdam::topology::{TopologyDescription, TopologyType};
use crate::time::MonotonicTime;

mod derived;
mod dynamic_seeds;
mod reseed;
mod snapshots;
pub(crate) mod srv_polling;

use derived::DerivedFields;
use dynamic_seeds::DynamicSeeds;
pub use dynamic_seeds::DEFAULT_RESEED_INTERVAL;

/// The CMAP pool generations of one server: the pool's, and per service behind a load
/// balancer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PoolGenerations {
    generation: u32,
    by_service: BTreeMap<ObjectId, u32>,
}

/// The SDAM state machine for one client.
///
/// Every input returns [`Changes`]: the snapshot now current and the ordered actions
/// (monitors to start or stop, pools to clear or mark ready, checks to request, events to
/// publish). Inputs for servers no longer in the topology, stale inputs and inputs after
/// [`Topology::close`] are ignored and return no action.
///
/// An input that changes nothing worth publishing returns the same `Arc` as
/// [`Topology::description`] held before (publish when `!Arc::ptr_eq`). In particular a
/// check whose description is equivalent to the stored one (SDAM "Server Description
/// Equality") runs no transition: its fresher measurements (round trip times,
/// lastUpdateTime, lastWriteDate, ...) are kept aside as an *unpublished refresh*, merged
/// into the next snapshot built for any reason, and published at once only when they cross
/// the rule of [`crate::sdam::refresh`] (e.g. the average RTT moved by more than
/// max(1 ms, 20 %), capped at 5 ms).
///
/// ```
/// use bson::doc;
/// use mongo_topology_core::sdam::{Action, CheckTiming, Topology, TopologySettings, TopologyType};
/// use mongo_topology_core::{MonotonicTime, ServerAddress};
///
/// let a = ServerAddress::parse("a:27017").unwrap();
/// let mut settings = TopologySettings::new(vec![a.clone()]);
/// settings.replica_set_name = Some("rs".into());
/// let (mut topology, opening) = Topology::new(settings, MonotonicTime::ZERO).unwrap();
/// assert!(opening.actions.contains(&Action::StartMonitoring(a.clone())));
///
/// let reply = doc! {
///     "ok": 1, "isWritablePrimary": true, "setName": "rs",
///     "hosts": ["a:27017", "b:27017"], "maxWireVersion": 21,
/// };
/// let now = MonotonicTime::from_millis(5);
/// let changes = topology.apply_hello(&a, &reply, CheckTiming::at(now));
/// assert_eq!(changes.description.topology_type, TopologyType::ReplicaSetWithPrimary);
/// let b = ServerAddress::parse("b:27017").unwrap();
/// assert!(changes.actions.contains(&Action::StartMonitoring(b)));
/// ```
#[derive(Clone, Debug)]
pub struct Topology {
    settings: TopologySettings,
    /// The latest published snapshot.
    description: Arc<TopologyDescription>,
    /// Fresher descriptions not yet in a snapshot, each equivalent to its server's published
    /// one.
    refreshes: BTreeMap<ServerAddress, Arc<ServerDescription>>,
    pools: BTreeMap<ServerAddress, PoolGenerations>,
    /// What the published snapshot's servers contribute to its derived fields.
    derived: DerivedFields,
    /// The last complete member list and the re-seed schedule.
    dynamic_seeds: DynamicSeeds,
    /// Whether [`Action::ServerGrowthRefused`] has been returned (it is returned once).
    growth_refusal_reported: bool,
    closed: bool,
}

impl Topology {
    /// Opens a topology: checks the settings, builds the initial description (SDAM "Initial
    /// TopologyDescription") and returns the opening actions: TopologyOpening, the first
    /// TopologyDescriptionChanged, then ServerOpening and StartMonitoring for each seed. In
    /// load-balanced mode the seed is not monitored but described as a LoadBalancer at once.
    pub fn new(
        settings: TopologySettings,
        now: MonotonicTime,
    ) -> Result<(Topology, Changes), SettingsError> {
        settings.validate()?;
        let initial = Arc::new(TopologyDescription::with_seeds(
            settings.initial_topology_type(),
            settings.replica_set_name.clone(),
            settings.seeds.iter().cloned(),
        ));
        let empty = TopologyDescription::with_seeds(TopologyType::Unknown, None, []);
        let mut actions = vec![
            Action::Publish(SdamEvent::TopologyOpening),
            Action::Publish(SdamEvent::TopologyDescriptionChanged {
                previous: Arc::new(empty),
                new: Arc::clone(&initial),
            }),
        ];
        let load_balanced = settings.load_balanced;
        for address in initial.servers.keys() {
            actions.push(Action::Publish(SdamEvent::ServerOpening {
                address: address.clone(),
            }));
            if !load_balanced {
                actions.push(Action::StartMonitoring(address.clone()));
            }
        }
        let pools = initial
            .servers
            .keys()
            .map(|address| (address.clone(), PoolGenerations::default()))
            .collect();
        let mut topology = Topology {
            settings,
            description: initial,
            refreshes: BTreeMap::new(),
            pools,
            derived: DerivedFields::default(),
            dynamic_seeds: DynamicSeeds::default(),
            growth_refusal_reported: false,
            closed: false,
        };
        if load_balanced {
            actions.extend(topology.describe_load_balancers(now));
        }
        let changes = topology.changes(actions);
        Ok((topology, changes))
    }

    /// The settings the topology was opened with.
    pub fn settings(&self) -> &TopologySettings {
        &self.settings
    }

    /// The latest published snapshot of the topology description (without the unpublished
    /// refreshes: see [`Topology::freshest_server_description`]).
    pub fn description(&self) -> &Arc<TopologyDescription> {
        &self.description
    }

    /// The freshest description of the server at `address`: its unpublished refresh if it has
    /// one, else the published one. `None` if the server is not in the topology.
    pub fn freshest_server_description(
        &self,
        address: &ServerAddress,
    ) -> Option<&Arc<ServerDescription>> {
        self.refreshes
            .get(address)
            .or_else(|| self.description.servers.get(address))
    }

    /// The pool generation of the server at `address`, if it is in the topology; with a
    /// `service_id` (load-balanced mode), that service's generation.
    pub fn pool_generation(
        &self,
        address: &ServerAddress,
        service_id: Option<&ObjectId>,
    ) -> Option<u32> {
        let pool = self.pools.get(address)?;
        Some(match service_id {
            Some(id) => pool.by_service.get(id).copied().unwrap_or(0),
            None => pool.generation,
        })
    }

    /// Applies a successful round trip of hello (or legacy hello) to the server at `address`,
    /// from a monitor or an application handshake. A reply without `ok: 1`, or a malformed
    /// one, is a failed check (see [`Topology::apply_check_failure`]). The heartbeat fast
    /// path is described under [`Topology::apply_server_description`]. The reply may be
    /// decoded or as received (see [`crate::reply::DocumentRef`]).
    pub fn apply_hello<'r>(
        &mut self,
        address: &ServerAddress,
        reply: impl Into<DocumentRef<'r>>,
        timing: CheckTiming,
    ) -> Changes {
        let server = ServerDescription::from_hello(address.clone(), reply, timing);
        self.apply_hello_description(server, timing.now)
    }

    /// [`Topology::apply_hello`] of a reply already read into a description by
    /// [`ServerDescription::from_hello`] (a monitor reads each reply once, where it arrives,
    /// and steers its stream by the same description): an Unknown description with an
    /// error is a failed check, any other is applied.
    pub fn apply_hello_description(
        &mut self,
        server: ServerDescription,
        now: MonotonicTime,
    ) -> Changes {
        match (server.server_type, server.error.clone()) {
            (ServerType::Unknown, Some(error)) => {
                let address = server.address;
                self.apply_check_failure(&address, error, now)
            }
            _ => self.apply_server_description(server, now),
        }
    }

    /// Applies a failed check of the server at `address` ("Server Monitoring", "Network or
    /// command error during server check"): the server becomes Unknown with `error`, its pool
    /// is cleared (interrupting in-use connections after a timeout), and after a network
    /// error on a previously known server the monitor retries at once.
    pub fn apply_check_failure(
        &mut self,
        address: &ServerAddress,
        error: ServerError,
        now: MonotonicTime,
    ) -> Changes {
        let Some(previous) = self.accepting_check(address) else {
            return self.changes(Vec::new());
        };
        let was_known = previous.server_type != ServerType::Unknown;
        let interrupt = error.kind == ServerErrorKind::Timeout;
        let network = matches!(
            error.kind,
            ServerErrorKind::Dns
                | ServerErrorKind::Connect
                | ServerErrorKind::Network
                | ServerErrorKind::Timeout
                | ServerErrorKind::Tls
        );
        let unknown = ServerDescription::unknown_with_error(address.clone(), error, now);
        let mut actions = self.replace(unknown, now);
        actions.push(self.clear_pool(address, None, interrupt));
        if network && was_known {
            actions.push(Action::RetryCheckNow(address.clone()));
        }
        self.changes(actions)
    }

    /// Applies an already built description of a checked server (SDAM "Updating the
    /// TopologyDescription"), ignoring it if the server is not in the topology or the
    /// description's topologyVersion is older than the current one.
    ///
    /// Fast path: when `server` is equivalent to the stored description (SDAM "Server
    /// Description Equality", types compared strictly) and re-applying it would change no
    /// other server, the transition and the diff are skipped, since their outcome would be
    /// the same; the fresher measurements become an unpublished refresh, published at once
    /// only per [`crate::sdam::refresh::republish_reason`]. MarkPoolReady is still returned
    /// for a data-bearing server. Cost: O(log n) plus the size of the reply.
    pub fn apply_server_description(
        &mut self,
        server: ServerDescription,
        now: MonotonicTime,
    ) -> Changes {
        if self.accepting_check(&server.address).is_none() {
            return self.changes(Vec::new());
        }
        let actions = self.replace(server, now);
        self.changes(actions)
    }

    /// Records a new round trip time measurement of the server at `address` from the
    /// separate RTT monitor of the streaming protocol ("Server Monitoring", "Measuring RTT"):
    /// `average` and `minimum` are the engine's [`crate::selection::RttTracker`] values for
    /// that server after the sample taken at `now`.
    ///
    /// Only a server in the topology whose description is not Unknown is updated. No
    /// transition runs, no action results (the description is equivalent), and the snapshot
    /// is republished only per [`crate::sdam::refresh::republish_reason`]; otherwise the new
    /// values wait, as an unpublished refresh, for the next snapshot. `now` is not stored:
    /// lastUpdateTime is the time of the last check, which max staleness pairs with that
    /// check's lastWriteDate. Cost: O(log n) unless republished.
    pub fn apply_rtt_sample(
        &mut self,
        address: &ServerAddress,
        average: Duration,
        minimum: Duration,
        now: MonotonicTime,
    ) -> Changes {
        let Some(current) = self
            .accepting_check(address)
            .and_then(|_| self.freshest_server_description(address))
        else {
            return self.changes(Vec::new());
        };
        let unchanged = current.round_trip_time == Some(average)
            && current.min_round_trip_time == Some(minimum);
        if current.server_type == ServerType::Unknown || unchanged {
            return self.changes(Vec::new());
        }
        tracing::trace!(%address, ?average, ?minimum, sampled_at = ?now.offset(), "RTT sample");
        let fresher = ServerDescription {
            round_trip_time: Some(average),
            min_round_trip_time: Some(minimum),
            ..ServerDescription::clone(current)
        };
        self.refresh(Arc::new(fresher));
        self.changes(Vec::new())
    }

    /// Applies an error seen by an application operation (SDAM "Error handling",
    /// `handleError`): stale errors (older connection generation, or a topologyVersion not
    /// newer than the server's) are ignored; see [`ApplicationError`] for the rest.
    pub fn apply_application_error(
        &mut self,
        error: &ApplicationError,
        now: MonotonicTime,
    ) -> Changes {
        if self.accepting(&error.address).is_none() || self.is_stale_error(error) {
            return self.changes(Vec::new());
        }
        let address = &error.address;
        let load_balanced = self.description.topology_type == TopologyType::LoadBalanced;
        if load_balanced && error.service_id.is_none() {
            // Load Balancers, "Initial Handshake Errors": an error before the handshake
            // reported the connection's serviceId is ignored for SDAM error handling.
            return self.changes(Vec::new());
        }
        let mut actions = Vec::new();
        match error.decision() {
            ErrorDecision::Ignore => {}
            ErrorDecision::StateChange { shutdown } => {
                if !load_balanced {
                    let unknown = ServerDescription {
                        topology_version: error.topology_version().copied(),
                        ..ServerDescription::unknown_with_error(
                            address.clone(),
                            error.server_error(),
                            now,
                        )
                    };
                    actions.extend(self.replace(unknown, now));
                }
                if shutdown {
                    let service = error.service_id.filter(|_| load_balanced);
                    actions.push(self.clear_pool(address, service, false));
                }
                if !load_balanced {
                    actions.push(Action::RequestImmediateCheck(address.clone()));
                }
            }
            ErrorDecision::MarkUnknownAndClear => {
                if !load_balanced {
                    let unknown = ServerDescription::unknown_with_error(
                        address.clone(),
                        error.server_error(),
                        now,
                    );
                    actions.extend(self.replace(unknown, now));
                    actions.push(self.clear_pool(address, None, false));
                    actions.push(Action::CancelCheck(address.clone()));
                } else if let Some(service_id) = error.service_id {
                    actions.push(self.clear_pool(address, Some(service_id), false));
                }
            }
        }
        self.changes(actions)
    }

    /// Closes the topology ("Client closing"): every monitor stops, ServerClosed for each
    /// server, the description becomes Unknown with no servers, then TopologyClosed. Later
    /// inputs are ignored.
    pub fn close(&mut self) -> Changes {
        if self.closed {
            return self.changes(Vec::new());
        }
        self.closed = true;
        let mut actions = Vec::new();
        for address in self.description.servers.keys() {
            if !self.settings.load_balanced {
                actions.push(Action::StopMonitoring(address.clone()));
            }
            actions.push(Action::Publish(SdamEvent::ServerClosed {
                address: address.clone(),
                reason: RemovalReason::TopologyClosed,
            }));
        }
        let closed = Arc::new(TopologyDescription::with_seeds(
            TopologyType::Unknown,
            None,
            [],
        ));
        let previous = std::mem::replace(&mut self.description, Arc::clone(&closed));
        self.refreshes.clear();
        self.pools.clear();
        self.derived = DerivedFields::default();
        actions.push(Action::Publish(SdamEvent::TopologyDescriptionChanged {
            previous,
            new: closed,
        }));
        actions.push(Action::Publish(SdamEvent::TopologyClosed));
        self.changes(actions)
    }

    /// Adds each of `addresses` not yet in the topology as an Unknown server, which the
    /// engine then monitors: the way back when every server was removed (mgo's "dynamic
    /// seeds": the last complete member list plus the original seeds). Ignored in Single and
    /// LoadBalanced topologies, whose one server never changes, and after
    /// [`Topology::close`]. Nothing changes when every address is already present.
    pub fn add_servers(&mut self, addresses: impl IntoIterator<Item = ServerAddress>) -> Changes {
        let fixed = matches!(
            self.description.topology_type,
            TopologyType::Single | TopologyType::LoadBalanced
        );
        let new: Vec<ServerAddress> = addresses
            .into_iter()
            .filter(|address| !self.description.servers.contains_key(address))
            .collect();
        if self.closed || fixed || new.is_empty() {
            return self.changes(Vec::new());
        }
        let mut next = self.working_copy();
        self.insert_unknown_servers(&mut next, new);
        let actions = self.publish(next, None, None);
        self.changes(actions)
    }
}
