//! Fields of the TopologyDescription derived from all its servers: SDAM "Checking wire
//! protocol compatibility" and "Logical Session Timeout".

use crate::sdam::server::{ServerDescription, ServerType};
use crate::sdam::topology::TopologyDescription;

/// The lowest wire protocol version this client speaks: 8, MongoDB 4.2 (the SDAM spec no
/// longer describes pre-4.2 behaviour).
pub const CLIENT_MIN_WIRE_VERSION: i32 = 8;

/// The MongoDB release that introduced [`CLIENT_MIN_WIRE_VERSION`], for error messages.
pub const CLIENT_MIN_MONGODB_VERSION: &str = "4.2";

/// The highest wire protocol version this client speaks: 25, MongoDB 8.0.
pub const CLIENT_MAX_WIRE_VERSION: i32 = 25;

/// The client's name in compatibility error messages.
const DRIVER_NAME: &str = "mongo-topology";

/// Why `server` is incompatible with this client, or `None` if it is compatible.
///
/// Only servers of a known type are checked: Unknown and PossiblePrimary servers have not
/// reported a range, and a LoadBalancer description carries none.
pub fn compatibility_error(server: &ServerDescription) -> Option<String> {
    if matches!(
        server.server_type,
        ServerType::Unknown | ServerType::PossiblePrimary | ServerType::LoadBalancer
    ) {
        return None;
    }
    if server.min_wire_version > CLIENT_MAX_WIRE_VERSION {
        Some(format!(
            "Server at {} requires wire version {}, but this version of {DRIVER_NAME} only \
             supports up to {CLIENT_MAX_WIRE_VERSION}.",
            server.address, server.min_wire_version
        ))
    } else if server.max_wire_version < CLIENT_MIN_WIRE_VERSION {
        Some(format!(
            "Server at {} reports wire version {}, but this version of {DRIVER_NAME} requires \
             at least {CLIENT_MIN_WIRE_VERSION} (MongoDB {CLIENT_MIN_MONGODB_VERSION}).",
            server.address, server.max_wire_version
        ))
    } else {
        None
    }
}

/// Recomputes `compatibility_error` and `logical_session_timeout_minutes` from the servers.
pub fn update_derived_fields(description: &mut TopologyDescription) {
    description.compatibility_error = description
        .servers
        .values()
        .find_map(|server| compatibility_error(server));
    description.logical_session_timeout_minutes = logical_session_timeout(description);
}

/// SDAM "Logical Session Timeout": the smallest value among data-bearing servers, `None` if
/// any of them lacks one (or if there is none).
fn logical_session_timeout(description: &TopologyDescription) -> Option<i64> {
    let mut smallest: Option<i64> = None;
    for server in description.servers.values().filter(|s| s.is_data_bearing()) {
        let timeout = server.logical_session_timeout_minutes?;
        smallest = Some(smallest.map_or(timeout, |current| current.min(timeout)));
    }
    smallest
}
