//! The TopologyDescription's fields derived from all its servers — compatibility (SDAM
//! "Checking wire protocol compatibility"), logicalSessionTimeoutMinutes (SDAM "Logical
//! Session Timeout") — and the counts the dynamic seeds' rule reads (primaries, mongos),
//! maintained incrementally: each snapshot's server changes update them in O(log n), so a
//! changing reply never rescans the servers.
//!
//! The results are exactly those of [`update_derived_fields`] over every server (in debug
//! builds each publication checks that they are).
//!
//! [`update_derived_fields`]: crate::sdam::compatibility::update_derived_fields

use std::collections::{BTreeMap, BTreeSet};

use crate::address::ServerAddress;
use crate::sdam::compatibility::compatibility_error;
use crate::sdam::server::{ServerDescription, ServerType};

/// What every server of the published snapshot contributes to the derived fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DerivedFields {
    /// The incompatible servers, by address, with the error each causes: the topology's
    /// compatibility error is the first one's.
    incompatible: BTreeMap<ServerAddress, String>,
    /// How many data-bearing servers report each logicalSessionTimeoutMinutes.
    session_timeouts: BTreeMap<i64, usize>,
    /// How many data-bearing servers report none.
    data_bearing_without_session_timeout: usize,
    /// The servers described as RSPrimary.
    primaries: BTreeSet<ServerAddress>,
    /// How many servers are described as Mongos.
    mongos: usize,
}

impl DerivedFields {
    /// Counts `server` in.
    pub(crate) fn add(&mut self, server: &ServerDescription) {
        if let Some(error) = compatibility_error(server) {
            self.incompatible.insert(server.address.clone(), error);
        }
        if server.is_data_bearing() {
            match server.logical_session_timeout_minutes {
                Some(minutes) => *self.session_timeouts.entry(minutes).or_insert(0) += 1,
                None => self.data_bearing_without_session_timeout += 1,
            }
        }
        match server.server_type {
            ServerType::RsPrimary => {
                self.primaries.insert(server.address.clone());
            }
            ServerType::Mongos => self.mongos += 1,
            _ => {}
        }
    }

    /// Counts `server` out: it must have been counted in, as it is now.
    pub(crate) fn remove(&mut self, server: &ServerDescription) {
        self.incompatible.remove(&server.address);
        if server.is_data_bearing() {
            match server.logical_session_timeout_minutes {
                Some(minutes) => {
                    if let Some(count) = self.session_timeouts.get_mut(&minutes) {
                        *count = count.saturating_sub(1);
                        if *count == 0 {
                            self.session_timeouts.remove(&minutes);
                        }
                    }
                }
                None => {
                    self.data_bearing_without_session_timeout =
                        self.data_bearing_without_session_timeout.saturating_sub(1);
                }
            }
        }
        match server.server_type {
            ServerType::RsPrimary => {
                self.primaries.remove(&server.address);
            }
            ServerType::Mongos => self.mongos = self.mongos.saturating_sub(1),
            _ => {}
        }
    }

    /// `None` when every server's wire version range overlaps the client's; otherwise the
    /// error of the first incompatible server in address order.
    pub(crate) fn compatibility_error(&self) -> Option<String> {
        self.incompatible.values().next().cloned()
    }

    /// The smallest logicalSessionTimeoutMinutes of the data-bearing servers; `None` if any
    /// of them lacks one, or if there is none.
    pub(crate) fn logical_session_timeout_minutes(&self) -> Option<i64> {
        if self.data_bearing_without_session_timeout > 0 {
            return None;
        }
        self.session_timeouts.keys().next().copied()
    }

    /// The first server in address order described as RSPrimary, as
    /// [`crate::sdam::TopologyDescription::primary`] finds it.
    pub(crate) fn first_primary(&self) -> Option<&ServerAddress> {
        self.primaries.iter().next()
    }

    /// How many servers are described as Mongos.
    pub(crate) fn mongos(&self) -> usize {
        self.mongos
    }
}
