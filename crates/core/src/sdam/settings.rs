//! What the user told the client about the deployment: [`TopologySettings`].
//!
//! SDAM "Configuration": the seed list, the replica set name, `directConnection` and
//! `loadBalanced` decide the initial TopologyType and constrain the transitions that follow.

use crate::address::ServerAddress;
use crate::options::ConnectionString;
use crate::sdam::topology::TopologyType;

/// The settings that shape discovery, as parsed from a connection string or given natively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopologySettings {
    /// The seed list: the servers the client starts from (SDAM "Initial Servers").
    pub seeds: Vec<ServerAddress>,
    /// The `replicaSet` option: the replica set name every member must report.
    pub replica_set_name: Option<String>,
    /// The `directConnection` option; `None` when not specified (which behaves as `false`).
    pub direct_connection: Option<bool>,
    /// The `loadBalanced` option.
    pub load_balanced: bool,
}

/// A combination of settings that SDAM "Allowed configuration combinations" forbids.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The seed list is empty.
    #[error("the seed list is empty: at least one host is required")]
    NoSeeds,
    /// `directConnection=true` with more than one seed.
    #[error("directConnection=true cannot be used with multiple seeds ({0} given)")]
    DirectConnectionWithMultipleSeeds(usize),
    /// `loadBalanced=true` with more than one seed.
    #[error("loadBalanced=true cannot be used with multiple seeds ({0} given)")]
    LoadBalancedWithMultipleSeeds(usize),
    /// `loadBalanced=true` with `directConnection=true`.
    #[error("loadBalanced=true cannot be used with directConnection=true")]
    LoadBalancedWithDirectConnection,
    /// `loadBalanced=true` with `replicaSet`.
    #[error("loadBalanced=true cannot be used with replicaSet")]
    LoadBalancedWithReplicaSet,
}

impl TopologySettings {
    /// Settings with the given seeds and every option left unspecified.
    pub fn new(seeds: Vec<ServerAddress>) -> Self {
        TopologySettings {
            seeds,
            replica_set_name: None,
            direct_connection: None,
            load_balanced: false,
        }
    }

    /// The discovery settings a parsed connection string carries: its hosts, `replicaSet`,
    /// `directConnection` and `loadBalanced`. For a `mongodb+srv` string the seeds are empty
    /// until the SRV records are resolved.
    pub fn from_connection_string(uri: &ConnectionString) -> Self {
        TopologySettings {
            seeds: uri.hosts().to_vec(),
            replica_set_name: uri.replica_set().map(str::to_string),
            direct_connection: uri.direct_connection(),
            load_balanced: uri.load_balanced().unwrap_or(false),
        }
    }

    /// Checks SDAM "Allowed configuration combinations" (and the load balancer spec's
    /// single-host rule).
    pub fn validate(&self) -> Result<(), SettingsError> {
        let seeds = self.seeds.len();
        if seeds == 0 {
            return Err(SettingsError::NoSeeds);
        }
        if self.direct_connection == Some(true) && seeds > 1 {
            return Err(SettingsError::DirectConnectionWithMultipleSeeds(seeds));
        }
        if self.load_balanced {
            if self.direct_connection == Some(true) {
                return Err(SettingsError::LoadBalancedWithDirectConnection);
            }
            if self.replica_set_name.is_some() {
                return Err(SettingsError::LoadBalancedWithReplicaSet);
            }
            if seeds > 1 {
                return Err(SettingsError::LoadBalancedWithMultipleSeeds(seeds));
            }
        }
        Ok(())
    }

    /// SDAM "Initial TopologyType": `loadBalanced` gives LoadBalanced; `directConnection=true`
    /// gives Single; otherwise a replica set name gives ReplicaSetNoPrimary and its absence
    /// Unknown (an unspecified `directConnection` behaves as `false`).
    pub fn initial_topology_type(&self) -> TopologyType {
        if self.load_balanced {
            TopologyType::LoadBalanced
        } else if self.direct_connection == Some(true) {
            TopologyType::Single
        } else if self.replica_set_name.is_some() {
            TopologyType::ReplicaSetNoPrimary
        } else {
            TopologyType::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> ServerAddress {
        ServerAddress::parse(text).unwrap()
    }

    #[test]
    fn initial_topology_type_follows_the_spec_table() {
        let mut settings = TopologySettings::new(vec![addr("a")]);
        assert_eq!(settings.initial_topology_type(), TopologyType::Unknown);
        settings.direct_connection = Some(false);
        assert_eq!(settings.initial_topology_type(), TopologyType::Unknown);
        settings.replica_set_name = Some("rs".into());
        assert_eq!(
            settings.initial_topology_type(),
            TopologyType::ReplicaSetNoPrimary
        );
        settings.direct_connection = Some(true);
        assert_eq!(settings.initial_topology_type(), TopologyType::Single);
    }

    #[test]
    fn forbidden_combinations_are_rejected() {
        let mut settings = TopologySettings::new(vec![addr("a"), addr("b")]);
        assert_eq!(settings.validate(), Ok(()));
        settings.direct_connection = Some(true);
        assert_eq!(
            settings.validate(),
            Err(SettingsError::DirectConnectionWithMultipleSeeds(2))
        );
        let mut lb = TopologySettings::new(vec![addr("a")]);
        lb.load_balanced = true;
        assert_eq!(lb.validate(), Ok(()));
        lb.replica_set_name = Some("rs".into());
        assert_eq!(
            lb.validate(),
            Err(SettingsError::LoadBalancedWithReplicaSet)
        );
        assert_eq!(
            TopologySettings::new(Vec::new()).validate(),
            Err(SettingsError::NoSeeds)
        );
    }
}
