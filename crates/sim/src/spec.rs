//! Describing a deployment to start: topology, members, version, timers.

use std::collections::BTreeMap;
use std::time::Duration;

use super::auth::{ScramMechanism, SimUser};
use super::state::{MemberConfig, StartupPhase};
use super::tls::SimTls;
use super::versions::ServerVersion;

/// Timers of the simulation, configurable so tests run fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimTimers {
    /// How often a primary writes a no-op when idle (real servers: 10 s).
    pub idle_write_period: Duration,
    /// How long an `elect` takes (0: immediate).
    pub election_delay: Duration,
}

impl Default for SimTimers {
    fn default() -> Self {
        SimTimers {
            idle_write_period: Duration::from_secs(10),
            election_delay: Duration::ZERO,
        }
    }
}

/// One replica set member to start.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberSpec {
    /// Its replica set configuration.
    pub config: MemberConfig,
    /// Starts in RECOVERING (RSOther).
    pub recovering: bool,
    /// Starts outside the replica set config (RSGhost) until `reconfig add`.
    pub spare: bool,
    /// Initial replication lag.
    pub lag: Duration,
    /// The "host" or "host:port" the member advertises (in `me`, `hosts`, the set's
    /// config) instead of its listening address; a name that does not resolve stages
    /// the classic trap of a set whose members clients cannot reach by their names.
    pub advertise: Option<String>,
    /// This member's server version, when it differs from the deployment's.
    pub version: Option<ServerVersion>,
    /// Starts in STARTUP or STARTUP2.
    pub startup: Option<StartupPhase>,
}

impl MemberSpec {
    /// An electable data-bearing member.
    pub fn data() -> MemberSpec {
        MemberSpec {
            config: MemberConfig::data(),
            recovering: false,
            spare: false,
            lag: Duration::ZERO,
            advertise: None,
            version: None,
            startup: None,
        }
    }

    /// An arbiter.
    pub fn arbiter() -> MemberSpec {
        let mut m = MemberSpec::data();
        m.config.arbiter = true;
        m.config.priority = 0.0;
        m
    }

    /// A hidden member (priority 0).
    pub fn hidden() -> MemberSpec {
        let mut m = MemberSpec::data();
        m.config.hidden = true;
        m.config.priority = 0.0;
        m
    }

    /// A passive member (priority 0, visible).
    pub fn passive() -> MemberSpec {
        let mut m = MemberSpec::data();
        m.config.priority = 0.0;
        m
    }

    /// A delayed member (hidden, priority 0, `secondaryDelaySecs`).
    pub fn delayed(delay: Duration) -> MemberSpec {
        let mut m = MemberSpec::hidden();
        m.config.secondary_delay = delay;
        m
    }

    /// This member with replica set tags.
    pub fn with_tags<I, K, V>(mut self, tags: I) -> MemberSpec
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.config.tags = tags
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect::<BTreeMap<_, _>>();
        self
    }

    /// This member, starting in RECOVERING.
    pub fn recovering(mut self) -> MemberSpec {
        self.recovering = true;
        self
    }

    /// This member, advertising `address` ("host" or "host:port") instead of its
    /// listening address.
    pub fn advertised_as(mut self, address: &str) -> MemberSpec {
        self.advertise = Some(address.to_owned());
        self
    }

    /// This member, running `version` whatever the deployment's.
    pub fn running(mut self, version: ServerVersion) -> MemberSpec {
        self.version = Some(version);
        self
    }

    /// This member, starting in STARTUP or STARTUP2.
    pub fn starting(mut self, phase: StartupPhase) -> MemberSpec {
        self.startup = Some(phase);
        self
    }

    /// This member, known as `address` ("host:port") in split horizon `horizon`.
    pub fn with_horizon(mut self, horizon: &str, address: &str) -> MemberSpec {
        self.config
            .horizons
            .insert(horizon.to_owned(), address.to_owned());
        self
    }

    /// This member, starting outside the config (RSGhost).
    pub fn spare(mut self) -> MemberSpec {
        self.spare = true;
        self
    }
}

/// The shape of a deployment.
#[derive(Debug, Clone, PartialEq)]
pub enum TopologySpec {
    /// A replica set; the first electable member starts as primary.
    ReplicaSet {
        /// The set name.
        name: String,
        /// Members in port order.
        members: Vec<MemberSpec>,
    },
    /// A sharded cluster seen through `count` mongos routers.
    Sharded {
        /// Number of mongos.
        count: usize,
    },
    /// One standalone mongod.
    Standalone,
}

/// Everything needed to start a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentSpec {
    /// The topology.
    pub topology: TopologySpec,
    /// The address to listen on and advertise (default 127.0.0.1).
    pub host: String,
    /// First port; nodes use consecutive ports. 0: each node gets a free port from the OS.
    pub base_port: u16,
    /// Emulated server version.
    pub version: ServerVersion,
    /// Timers.
    pub timers: SimTimers,
    /// Users in `admin` (SCRAM-SHA-1 and SCRAM-SHA-256); with any, authentication is on.
    pub users: Vec<SimUser>,
    /// A load balancer in front of the mongos nodes (sharded only), on this port (0: a
    /// free port); `None`: no load balancer.
    pub load_balancer: Option<u16>,
    /// `$external` users for MONGODB-X509: client certificate subjects (RFC 2253). With
    /// any, authentication is on.
    pub x509_users: Vec<String>,
    /// TLS on every node, when set (certificates generated by [`SimTls::generate`]).
    pub tls: Option<SimTls>,
    /// The load balancer stands in front of the replica set members (or the standalone)
    /// rather than mongos nodes: a mistake staged on purpose.
    pub load_balancer_in_front_of_members: bool,
    /// The SCRAM mechanisms offered to users (the server's `authenticationMechanisms`);
    /// `None`: SCRAM-SHA-1 and SCRAM-SHA-256.
    pub scram_mechanisms: Option<Vec<ScramMechanism>>,
}

impl DeploymentSpec {
    /// A spec on 127.0.0.1 with OS-chosen ports, version 7.0 and default timers.
    pub fn new(topology: TopologySpec) -> DeploymentSpec {
        DeploymentSpec {
            topology,
            host: "127.0.0.1".to_owned(),
            base_port: 0,
            version: ServerVersion::V7_0,
            timers: SimTimers::default(),
            users: Vec::new(),
            load_balancer: None,
            x509_users: Vec::new(),
            tls: None,
            load_balancer_in_front_of_members: false,
            scram_mechanisms: None,
        }
    }

    /// A replica set `name` with `data` ordinary members, then `arbiters` arbiters and
    /// `hidden` hidden members.
    pub fn replica_set(name: &str, data: usize, arbiters: usize, hidden: usize) -> DeploymentSpec {
        let mut members: Vec<MemberSpec> = (0..data).map(|_| MemberSpec::data()).collect();
        members.extend((0..arbiters).map(|_| MemberSpec::arbiter()));
        members.extend((0..hidden).map(|_| MemberSpec::hidden()));
        DeploymentSpec::new(TopologySpec::ReplicaSet {
            name: name.to_owned(),
            members,
        })
    }

    /// `count` mongos routers.
    pub fn sharded(count: usize) -> DeploymentSpec {
        DeploymentSpec::new(TopologySpec::Sharded { count })
    }

    /// One standalone server.
    pub fn standalone() -> DeploymentSpec {
        DeploymentSpec::new(TopologySpec::Standalone)
    }

    /// This spec with another server version.
    pub fn with_version(mut self, version: ServerVersion) -> DeploymentSpec {
        self.version = version;
        self
    }

    /// This spec with other timers.
    pub fn with_timers(mut self, timers: SimTimers) -> DeploymentSpec {
        self.timers = timers;
        self
    }

    /// This spec with a user (authentication on).
    pub fn with_user(mut self, user: SimUser) -> DeploymentSpec {
        self.users.push(user);
        self
    }

    /// This spec offering only these SCRAM mechanisms.
    pub fn with_scram_mechanisms(mut self, mechanisms: &[ScramMechanism]) -> DeploymentSpec {
        self.scram_mechanisms = Some(mechanisms.to_vec());
        self
    }

    /// This spec with a load balancer in front of its mongos nodes, on `port` (0: a free
    /// port). Only a sharded deployment can have one (see
    /// [`DeploymentSpec::with_load_balancer_in_front_of_members`]).
    pub fn with_load_balancer(mut self, port: u16) -> DeploymentSpec {
        self.load_balancer = Some(port);
        self
    }

    /// This spec with a load balancer in front of its replica set members (or its
    /// standalone), on `port` (0: a free port), staging a mistake seen in the field: each
    /// connection reaches the next member, and no handshake carries a `serviceId`.
    pub fn with_load_balancer_in_front_of_members(mut self, port: u16) -> DeploymentSpec {
        self.load_balancer = Some(port);
        self.load_balancer_in_front_of_members = true;
        self
    }

    /// This spec serving TLS with `tls`.
    pub fn with_tls(mut self, tls: SimTls) -> DeploymentSpec {
        self.tls = Some(tls);
        self
    }

    /// This spec with a MONGODB-X509 user: a client certificate subject (authentication on).
    pub fn with_x509_user(mut self, subject: &str) -> DeploymentSpec {
        self.x509_users.push(subject.to_owned());
        self
    }

    /// This spec with a fixed first port.
    pub fn with_base_port(mut self, port: u16) -> DeploymentSpec {
        self.base_port = port;
        self
    }
}
