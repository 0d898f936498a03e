//! Split horizons: a member configured with `horizons: {<name>: "<host:port>"}` answers a
//! handshake with that horizon's names (its `hosts`, `passives`, `arbiters`, `primary` and
//! `me`) when the connection's TLS SNI is the host of one of the member's own horizons,
//! and with the default names otherwise: no SNI (plain connections, or a client that
//! connected to an IP literal), or a name that matches no horizon. The host is compared
//! without its port and case-insensitively, as the server's `SplitHorizon` does.

use bson::{Bson, Document};

use super::state::World;

/// The address fields of a hello reply that name members.
const ADDRESS_FIELDS: [&str; 2] = ["primary", "me"];

/// The member-list fields of a hello reply.
const LIST_FIELDS: [&str; 3] = ["hosts", "passives", "arbiters"];

/// The horizon of node `idx` that a connection with TLS SNI `sni` belongs to, if any.
pub(crate) fn horizon_for(world: &World, idx: usize, sni: Option<&str>) -> Option<String> {
    let sni = sni?;
    let config = world.node(idx)?.config.as_ref()?;
    config
        .horizons
        .iter()
        .find(|(_, address)| host_of(address).eq_ignore_ascii_case(sni))
        .map(|(name, _)| name.clone())
}

/// Rewrites the member addresses of node `idx`'s hello `reply` into the horizon the
/// connection's SNI selects (nothing to do for the default horizon).
pub(crate) fn apply(world: &World, idx: usize, sni: Option<&str>, reply: &mut Document) {
    let Some(horizon) = horizon_for(world, idx, sni) else {
        return;
    };
    let translate = |address: &str| -> String {
        world
            .nodes
            .iter()
            .find(|n| n.address == address)
            .and_then(|n| n.config.as_ref())
            .and_then(|c| c.horizons.get(&horizon))
            .cloned()
            .unwrap_or_else(|| address.to_owned())
    };
    for field in ADDRESS_FIELDS {
        if let Some(Bson::String(address)) = reply.get_mut(field) {
            *address = translate(address);
        }
    }
    for field in LIST_FIELDS {
        if let Some(Bson::Array(addresses)) = reply.get_mut(field) {
            for entry in addresses.iter_mut() {
                if let Bson::String(address) = entry {
                    *address = translate(address);
                }
            }
        }
    }
}

/// The host part of "host:port" (an IPv6 literal keeps its brackets).
fn host_of(address: &str) -> &str {
    match address.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => address,
    }
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn the_host_of_an_address_leaves_the_port_out() {
        assert_eq!(host_of("ext-0.example:30000"), "ext-0.example");
        assert_eq!(host_of("ext-0.example"), "ext-0.example");
        assert_eq!(host_of("[::1]:27017"), "[::1]");
    }
}
