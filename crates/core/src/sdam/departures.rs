//! Why a server left the topology: the [`RemovalReason`] recorded by the rule that removed
//! it, with the evidence the rule saw, and the bounded log of [`Departures`] that every
//! topology description carries, so that a server removed and later added back (e.g. named
//! again in a secondary's host list) can still say why it was removed until it is checked
//! again, and a CLI can list every server the client saw and removed.
//!
//! Text in a reason that came from a server (a set name) is shown with Rust's `Debug`
//! quoting, which escapes control characters; renderers for people still pass it through
//! their own neutralising function.

use std::collections::VecDeque;
use std::fmt;

use crate::address::ServerAddress;
use crate::sdam::server::ServerType;
use crate::sdam::topology_type::TopologyType;
use crate::time::MonotonicTime;

/// The most departures a topology description keeps: the latest removal of each of the last
/// 1,000 distinct servers removed (a server removed again replaces its earlier entry; the
/// oldest entry goes first when the log is full). The same order as
/// [`crate::sdam::MAX_SERVERS_ADDED_BY_REPLIES`], so that a topology can remember every
/// server its replies could have added.
pub const MAX_DEPARTURES: usize = 1000;

/// The most addresses of a primary's member list kept as evidence in a
/// [`RemovalReason::NotInPrimaryMembers`] (the list's full length is kept too).
pub const MAX_MEMBERS_IN_EVIDENCE: usize = 20;

/// Why a server was removed from the topology, with what the removing rule saw.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemovalReason {
    /// It reported a replica set name other than the one given by the user or learned from
    /// the first member (SDAM `updateRSWithoutPrimary`, `updateRSWithPrimaryFromMember`,
    /// `updateRSFromPrimary`).
    SetNameMismatch {
        /// The set name it reported (`None`: it reported none).
        reported: Option<String>,
        /// The set name the topology expected.
        expected: Option<String>,
    },
    /// A primary's member list (hosts, passives and arbiters) does not name it (SDAM
    /// `updateRSFromPrimary`: the primary's list is authoritative).
    NotInPrimaryMembers {
        /// The primary whose list does not name it.
        primary: ServerAddress,
        /// The primary's members, in address order, at most [`MAX_MEMBERS_IN_EVIDENCE`].
        members: Vec<ServerAddress>,
        /// How many members the primary listed in all.
        member_count: usize,
    },
    /// It advertises itself (`me`) under another address than the one the client used
    /// (SDAM: `description.address != description.me`).
    AdvertisedNameMismatch {
        /// The address it advertises.
        me: ServerAddress,
    },
    /// Its type does not belong in this topology: a standalone among several seeds or in a
    /// replica set, a mongos in a replica set, a replica set member in a sharded cluster.
    TypeNotInTopology {
        /// The type it reported.
        server_type: ServerType,
        /// The topology's type when it was checked.
        topology_type: TopologyType,
    },
    /// No longer in the SRV records of the `mongodb+srv` host name (Polling SRV Records).
    NotInSrvRecords,
    /// The client closed the topology.
    TopologyClosed,
    /// No rule recorded a reason: a defect of this library, never expected.
    Unrecorded,
}

impl RemovalReason {
    /// A stable identifier of the reason's kind, e.g. `"set_name_mismatch"` (for JSON).
    pub fn kind(&self) -> &'static str {
        match self {
            RemovalReason::SetNameMismatch { .. } => "set_name_mismatch",
            RemovalReason::NotInPrimaryMembers { .. } => "not_in_primary_members",
            RemovalReason::AdvertisedNameMismatch { .. } => "advertised_name_mismatch",
            RemovalReason::TypeNotInTopology { .. } => "type_not_in_topology",
            RemovalReason::NotInSrvRecords => "not_in_srv_records",
            RemovalReason::TopologyClosed => "topology_closed",
            RemovalReason::Unrecorded => "unrecorded",
        }
    }

    /// The evidence of [`RemovalReason::NotInPrimaryMembers`], bounded.
    pub(crate) fn not_in_members_of<'a>(
        primary: &ServerAddress,
        members: impl Iterator<Item = &'a ServerAddress>,
    ) -> RemovalReason {
        let mut listed: Vec<ServerAddress> = members.cloned().collect();
        listed.sort();
        listed.dedup();
        let member_count = listed.len();
        listed.truncate(MAX_MEMBERS_IN_EVIDENCE);
        RemovalReason::NotInPrimaryMembers {
            primary: primary.clone(),
            members: listed,
            member_count,
        }
    }
}

fn quoted_set_name(name: &Option<String>) -> String {
    match name {
        Some(name) => format!("{name:?}"),
        None => "none".to_string(),
    }
}

impl fmt::Display for RemovalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemovalReason::SetNameMismatch { reported, expected } => write!(
                f,
                "reported set name {}, expected {}",
                quoted_set_name(reported),
                quoted_set_name(expected)
            ),
            RemovalReason::NotInPrimaryMembers {
                primary,
                members,
                member_count,
            } => {
                write!(f, "not in the member list of the primary {primary} (")?;
                for (index, member) in members.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{member}")?;
                }
                if members.is_empty() {
                    f.write_str("no members")?;
                }
                let more = member_count.saturating_sub(members.len());
                if more > 0 {
                    write!(f, " and {more} more")?;
                }
                f.write_str(")")
            }
            RemovalReason::AdvertisedNameMismatch { me } => {
                write!(f, "it advertises itself as {me} (me), not the address used")
            }
            RemovalReason::TypeNotInTopology {
                server_type: ServerType::Standalone,
                topology_type: TopologyType::Unknown,
            } => f.write_str("a Standalone among several seeds (only a lone seed may be one)"),
            RemovalReason::TypeNotInTopology {
                server_type,
                topology_type,
            } => write!(
                f,
                "a {server_type} does not belong in a {topology_type} topology"
            ),
            RemovalReason::NotInSrvRecords => {
                f.write_str("no longer in the SRV records (SRV polling)")
            }
            RemovalReason::TopologyClosed => f.write_str("the client closed the topology"),
            RemovalReason::Unrecorded => f.write_str("no reason was recorded (a defect)"),
        }
    }
}

/// One removal: which server, why, and when (on the topology's clock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Departure {
    /// The removed server.
    pub address: ServerAddress,
    /// Why it was removed.
    pub reason: RemovalReason,
    /// When, as passed to the input that removed it.
    pub at: MonotonicTime,
}

impl fmt::Display for Departure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "removed at t+{:.3} s because {}",
            self.at.offset().as_secs_f64(),
            self.reason
        )
    }
}

/// The latest removal of each of the last [`MAX_DEPARTURES`] distinct servers removed from a
/// topology, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Departures {
    entries: VecDeque<Departure>,
}

impl Departures {
    /// The latest removal of `address`, if it is still in the log.
    pub fn get(&self, address: &ServerAddress) -> Option<&Departure> {
        self.entries
            .iter()
            .rev()
            .find(|departure| &departure.address == address)
    }

    /// Every departure kept, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Departure> + ExactSizeIterator {
        self.entries.iter()
    }

    /// How many departures are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no server has been removed (or the log was emptied by a close).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records a removal: replaces the server's earlier entry, and drops the oldest entry
    /// when the log holds [`MAX_DEPARTURES`]. O(n) in the log's size. The topology calls it
    /// at each removal; public for tools and tests that build descriptions by hand.
    pub fn record(&mut self, departure: Departure) {
        self.entries
            .retain(|earlier| earlier.address != departure.address);
        while self.entries.len() >= MAX_DEPARTURES {
            self.entries.pop_front();
        }
        self.entries.push_back(departure);
    }
}
