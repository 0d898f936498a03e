//! The client's view of the whole deployment: [`TopologyType`] and [`TopologyDescription`].
//!
//! Field names follow the SDAM specification's "TopologyDescription" section. The
//! description is plain data: an immutable snapshot that selectors read, shared by `Arc`.
//! Its servers are held in a [`ServerMap`], a persistent (structurally shared) ordered map of
//! `Arc`s: a new snapshot shares every unchanged server, and all but O(log n) of the map's
//! structure, with the previous one, so building, dropping and comparing two successive
//! snapshots costs O(changes × log n), not O(servers). The rules that turn one description
//! into the next live in the transition code of this module's siblings.

use std::sync::{Arc, OnceLock};

use bson::oid::ObjectId;

use crate::address::ServerAddress;
use crate::sdam::departures::{Departure, Departures, RemovalReason};
use crate::sdam::server::{ServerDescription, ServerType};
pub use crate::sdam::topology_type::TopologyType;
use crate::time::MonotonicTime;

/// The most servers that replies may add to a topology beyond its seeds: a reply's hosts,
/// passives and arbiters are added only while the topology holds fewer than
/// `seeds + MAX_SERVERS_ADDED_BY_REPLIES` servers (the seeds being the user's hosts or SRV
/// records). The same order as a reply's own limit
/// ([`crate::sdam::hello::MAX_MEMBERS_PER_LIST`]), so that a server listing new hosts on
/// every check cannot grow the topology without bound; the user's own seeds are never
/// refused.
pub const MAX_SERVERS_ADDED_BY_REPLIES: usize = 1000;

/// The servers of a [`TopologyDescription`], ordered by address: a persistent map
/// ([`imbl::OrdMap`]) whose clone is O(1) and whose `insert`/`remove` copy only the O(log n)
/// nodes on the path to the key, sharing the rest with the map they came from. Reading it is
/// like reading a `BTreeMap` (`get`, `contains_key`, `iter`, `keys`, `values`, `len`);
/// [`imbl::OrdMap::diff`] lists the differences between two snapshots without visiting the
/// nodes they share.
pub type ServerMap = imbl::OrdMap<ServerAddress, Arc<ServerDescription>>;

/// The servers of a snapshot as a flat slice in address order, built at the first walk
/// ([`TopologyDescription::servers_in_order`]) together with the map it was built from: a
/// walk over a slice neither allocates nor chases the persistent map's nodes. Not part of
/// the description's value: a clone starts without it, and it compares equal to any other.
#[derive(Default)]
struct FlatServers(OnceLock<(ServerMap, Box<[Arc<ServerDescription>]>)>);

impl Clone for FlatServers {
    fn clone(&self) -> Self {
        FlatServers::default()
    }
}

impl PartialEq for FlatServers {
    fn eq(&self, _: &FlatServers) -> bool {
        true
    }
}

impl std::fmt::Debug for FlatServers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlatServers")
    }
}

/// The servers of a [`TopologyDescription`] in address order, from
/// [`TopologyDescription::servers_in_order`].
pub enum ServersInOrder<'a> {
    /// From the snapshot's flat slice.
    Flat(std::slice::Iter<'a, Arc<ServerDescription>>),
    /// From the map itself (its servers were changed after the slice was built).
    Map(
        imbl::ordmap::Values<
            'a,
            ServerAddress,
            Arc<ServerDescription>,
            imbl::shared_ptr::DefaultSharedPtr,
        >,
    ),
}

impl<'a> Iterator for ServersInOrder<'a> {
    type Item = &'a Arc<ServerDescription>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            ServersInOrder::Flat(servers) => servers.next(),
            ServersInOrder::Map(servers) => servers.next(),
        }
    }
}

/// Everything the client knows about the deployment at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct TopologyDescription {
    /// The deployment kind.
    pub topology_type: TopologyType,
    /// The replica set name, given by the user or learned from the first member.
    pub set_name: Option<String>,
    /// The largest electionId ever reported by a primary.
    pub max_election_id: Option<ObjectId>,
    /// The largest setVersion ever reported by a primary (not monotonic: electionId ranks first).
    pub max_set_version: Option<i64>,
    /// One description per server in the topology, ordered by address; shared with the
    /// snapshots before and after this one as long as the server's description is unchanged
    /// (see [`ServerMap`]).
    pub servers: ServerMap,
    /// `None` when every server's wire version range overlaps the client's; otherwise why not.
    pub compatibility_error: Option<String>,
    /// The smallest logicalSessionTimeoutMinutes of the data-bearing servers, or `None` if
    /// any of them lacks one.
    pub logical_session_timeout_minutes: Option<i64>,
    /// The servers removed from the topology and why, bounded (see
    /// [`crate::sdam::departures`]). Not part of [`TopologyDescription::is_equivalent`]: a
    /// removal changes `servers` anyway. Shared between snapshots until the next removal.
    pub departures: Arc<Departures>,
    /// `servers` as a flat slice, built at the first walk (see [`FlatServers`]).
    flat_servers: FlatServers,
}

impl TopologyDescription {
    /// A description of `topology_type` whose servers are the `seeds`, each Unknown.
    pub fn with_seeds(
        topology_type: TopologyType,
        set_name: Option<String>,
        seeds: impl IntoIterator<Item = ServerAddress>,
    ) -> Self {
        TopologyDescription {
            topology_type,
            set_name,
            max_election_id: None,
            max_set_version: None,
            servers: seeds
                .into_iter()
                .map(|address| {
                    let unknown = Arc::new(ServerDescription::unknown(address.clone()));
                    (address, unknown)
                })
                .collect(),
            compatibility_error: None,
            logical_session_timeout_minutes: None,
            departures: Arc::default(),
            flat_servers: FlatServers::default(),
        }
    }

    /// Every server, in address order, as a walk that does not allocate: the first walk of
    /// a snapshot builds a flat slice of its servers (O(n), once), later walks read it.
    /// Should `servers` have been changed since, the walk reads the map instead. Server
    /// selection walks the servers this way (a walk over the persistent map allocates its
    /// cursor and costs ~5x more per server).
    pub fn servers_in_order(&self) -> ServersInOrder<'_> {
        let (built_from, flat) = self.flat_servers.0.get_or_init(|| {
            let flat = self.servers.values().cloned().collect();
            (self.servers.clone(), flat)
        });
        if built_from.ptr_eq(&self.servers) {
            ServersInOrder::Flat(flat.iter())
        } else {
            ServersInOrder::Map(self.servers.values())
        }
    }

    /// Whether every server's wire version range is compatible with the client's.
    pub fn is_compatible(&self) -> bool {
        self.compatibility_error.is_none()
    }

    /// The known primary, if any.
    pub fn primary(&self) -> Option<&ServerDescription> {
        self.servers_in_order()
            .map(Arc::as_ref)
            .find(|server| server.server_type == ServerType::RsPrimary)
    }

    /// The first RSPrimary in address order, walking the map itself: for the transition
    /// rules, which change the servers of a working copy between walks.
    pub(crate) fn primary_in_map(&self) -> Option<&ServerDescription> {
        self.servers
            .values()
            .map(Arc::as_ref)
            .find(|server| server.server_type == ServerType::RsPrimary)
    }

    /// Drops the flat slice of the servers, if one was built (before publishing a working
    /// copy whose servers changed after a walk).
    pub(crate) fn forget_flat_servers(&mut self) {
        self.flat_servers = FlatServers::default();
    }

    /// Whether two descriptions are the same for the purpose of publishing a
    /// TopologyDescriptionChangedEvent: same type, set name, (electionId, setVersion) maxima,
    /// compatibility, session timeout and servers, each compared per SDAM "Server Description
    /// Equality" (round trip times and update times do not count).
    ///
    /// Cost: O(differences × log n) between two snapshots that share their structure (one
    /// built from the other), O(n) between unrelated ones.
    pub fn is_equivalent(&self, other: &TopologyDescription) -> bool {
        self.topology_type == other.topology_type
            && self.set_name == other.set_name
            && self.max_election_id == other.max_election_id
            && self.max_set_version == other.max_set_version
            && self.compatibility_error == other.compatibility_error
            && self.logical_session_timeout_minutes == other.logical_session_timeout_minutes
            && self.servers.len() == other.servers.len()
            && self
                .servers
                .diff(&other.servers)
                .all(|difference| match difference {
                    imbl::ordmap::DiffItem::Update {
                        old: (_, before),
                        new: (_, after),
                    } => before.is_equivalent(after),
                    imbl::ordmap::DiffItem::Add(..) | imbl::ordmap::DiffItem::Remove(..) => false,
                })
    }

    /// Records that the server at `address` was removed, why and when (the log is copied
    /// at the first removal of a snapshot, then edited in place).
    pub(crate) fn record_departure(
        &mut self,
        address: ServerAddress,
        reason: RemovalReason,
        at: MonotonicTime,
    ) {
        Arc::make_mut(&mut self.departures).record(Departure {
            address,
            reason,
            at,
        });
    }

    /// The description of the server at `address`, if it is part of the topology.
    pub fn server(&self, address: &ServerAddress) -> Option<&ServerDescription> {
        self.servers.get(address).map(Arc::as_ref)
    }
}
