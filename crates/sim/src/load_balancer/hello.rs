//! What a mongos answers to a handshake arriving through the load balancer (the table of
//! the module documentation).

use std::net::SocketAddr;

use bson::{Bson, Document};

use crate::reply::error_reply;
use crate::shared::Shared;
use crate::state::NodeKind;

/// The server's error code `LoadBalancerSupportMismatch`.
pub const LOAD_BALANCER_SUPPORT_MISMATCH: i32 = 354;

/// What the connection does after a handshake reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterHello {
    /// Goes on serving.
    KeepOpen,
    /// Closes once the reply is sent.
    Close,
}

/// Applies the table of the module documentation to the `reply` of node `idx` to a
/// handshake `command` arriving from `peer`; `first`: the connection's first handshake.
pub(crate) fn on_hello(
    shared: &Shared,
    idx: usize,
    peer: SocketAddr,
    first: bool,
    command: &Document,
    reply: &mut Document,
) -> AfterHello {
    if !shared.load_balancer.forwarded(peer) {
        return AfterHello::KeepOpen;
    }
    shared.load_balancer.count_handshake();
    let service_id = match shared.world().node(idx) {
        Some(node) if node.kind == NodeKind::Mongos => node.service_id,
        _ => return AfterHello::KeepOpen,
    };
    if !first || reply.get_f64("ok").ok() != Some(1.0) {
        return AfterHello::KeepOpen;
    }
    if matches!(command.get("loadBalanced"), Some(Bson::Boolean(true))) {
        reply.insert("serviceId", service_id);
        AfterHello::KeepOpen
    } else {
        *reply = error_reply(
            LOAD_BALANCER_SUPPORT_MISMATCH,
            "LoadBalancerSupportMismatch",
            "The server is being accessed through a load balancer, but this driver does not \
             have load balancing enabled",
        );
        AfterHello::Close
    }
}
