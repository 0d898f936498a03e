//! Authentication of pool connections (monitoring connections never authenticate): the
//! pure core's [`auth`](mongo_topology_core::auth) items, re-exported, plus the engine side.
pub use mongo_topology_core::auth::*;
