//! Seeds that name a member under another name (`localhost:27017` beside `127.0.0.1:27017`):
//! the client monitors both names as two servers until the primary's member list (or the
//! server's own `me`) drops the one the set does not use. `discover` says which removed seed
//! was a duplicate of which member, found by resolving both with the system resolver.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use mongo_topology::sdam::TopologyDescription;
use mongo_topology::ServerAddress;

/// A removed seed that reaches the same socket address as a member still in the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SameServer {
    /// The seed the client removed.
    pub seed: ServerAddress,
    /// The member it duplicates.
    pub member: ServerAddress,
    /// The socket address both names resolve to.
    pub socket: SocketAddr,
}

/// The removed seeds (in the connection string, not in `topology`) that resolve to the same
/// socket address as a member; every lookup together bounded by `budget` (a name that does
/// not resolve in time is simply not matched).
pub async fn removed_seeds_that_duplicate_members(
    topology: &TopologyDescription,
    seeds: &[ServerAddress],
    budget: Duration,
) -> Vec<SameServer> {
    let removed: Vec<&ServerAddress> = seeds
        .iter()
        .filter(|seed| !topology.servers.contains_key(*seed))
        .collect();
    if removed.is_empty() {
        return Vec::new();
    }
    let search = async {
        let mut found = Vec::new();
        let mut members = Vec::new();
        for member in topology.servers.keys() {
            if removed.iter().any(|seed| seed.port() == member.port()) {
                members.push((member, resolve(member).await));
            }
        }
        for seed in &removed {
            let seed_sockets = resolve(seed).await;
            let duplicate = members.iter().find_map(|(member, sockets)| {
                sockets
                    .intersection(&seed_sockets)
                    .next()
                    .map(|socket| (*member, *socket))
            });
            if let Some((member, socket)) = duplicate {
                found.push(SameServer {
                    seed: (*seed).clone(),
                    member: member.clone(),
                    socket,
                });
            }
        }
        found
    };
    tokio::time::timeout(budget, search)
        .await
        .unwrap_or_default()
}

/// The socket addresses `address` resolves to (none for a Unix socket or a failed lookup).
async fn resolve(address: &ServerAddress) -> BTreeSet<SocketAddr> {
    let Some(port) = address.port() else {
        return BTreeSet::new();
    };
    match tokio::net::lookup_host((address.host(), port)).await {
        Ok(sockets) => sockets.collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// The seeds the connection string names more than once (after normalisation: host names
/// are case-insensitive), each once, in the string's order.
pub fn repeated_seeds(seeds: &[ServerAddress]) -> Vec<&ServerAddress> {
    let mut seen = BTreeSet::new();
    let mut repeated = Vec::new();
    for seed in seeds {
        if !seen.insert(seed) && !repeated.contains(&seed) {
            repeated.push(seed);
        }
    }
    repeated
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mongo_topology::sdam::{ServerDescription, TopologyType};

    use super::*;

    fn addr(text: &str) -> ServerAddress {
        ServerAddress::parse(text).unwrap()
    }

    #[tokio::test]
    async fn a_removed_seed_resolving_to_a_member_is_named_as_its_duplicate() {
        let member = addr("127.0.0.1:28017");
        let mut topology = TopologyDescription::with_seeds(
            TopologyType::ReplicaSetWithPrimary,
            Some("rs0".to_string()),
            [member.clone()],
        );
        topology.servers.insert(
            member.clone(),
            Arc::new(ServerDescription::unknown(member.clone())),
        );
        let seeds = [
            member.clone(),
            addr("localhost:28017"),
            addr("localhost:28018"),
        ];
        let found =
            removed_seeds_that_duplicate_members(&topology, &seeds, Duration::from_secs(5)).await;
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].seed, addr("localhost:28017"));
        assert_eq!(found[0].member, member);
        assert_eq!(found[0].socket, "127.0.0.1:28017".parse().unwrap());
    }

    #[test]
    fn seeds_given_twice_are_named_once() {
        let seeds = [
            addr("a:1"),
            addr("A:1"),
            addr("b:1"),
            addr("a:1"),
            addr("b:2"),
        ];
        assert_eq!(repeated_seeds(&seeds), vec![&addr("a:1")]);
    }
}
