//! `sim` flags staging real-world situations on the replica set members: tags, advertised
//! names, split horizons, mixed server versions, startup states, SCRAM mechanisms.

use clap::Args;
use mongo_topology_sim::staging::{
    parse_horizon, parse_member_states, parse_member_tags, parse_member_versions, parse_per_member,
    with_port,
};
use mongo_topology_sim::{DeploymentSpec, ScramMechanism, TopologySpec};

/// The staging flags of `sim` (member lists are in member order: data-bearing members,
/// passives, arbiters, hidden members, spares).
#[derive(Debug, Args)]
pub struct WorldArgs {
    /// Replica set tags per member, members separated by `;`, pairs by `,`:
    /// `dc:east,rack:1;dc:west;-` (`-` or nothing: no tags). Reported in hello `tags`.
    #[arg(long, value_name = "TAGS;TAGS;...", allow_hyphen_values = true)]
    tags: Option<String>,
    /// The name each member advertises (hello `me`, `hosts`, `primary`; replSetGetStatus)
    /// instead of its listening address, comma-separated: `mongo-0.invalid,mongo-1.invalid`
    /// (a host keeps the member's port; `-` keeps the listening address). The connection
    /// string printed still seeds the listening addresses, so a client discovers names it
    /// may not resolve or reach, as behind Docker, Kubernetes or NAT.
    #[arg(long, value_name = "HOST[:PORT],...", allow_hyphen_values = true)]
    advertise: Option<String>,
    /// A split horizon: `NAME=HOST[:PORT],...`, one address per member (repeatable). With
    /// --tls, a member answers a connection whose TLS SNI is its own host in a horizon
    /// with that horizon's addresses; other connections (no SNI: plain, or an IP literal)
    /// get the default ones. The horizon hosts are added to the server certificate.
    #[arg(long = "horizon", value_name = "NAME=HOST[:PORT],...")]
    horizons: Vec<String>,
    /// The server version of each member, comma-separated (`7.0,7.0,4.4`; `-` keeps
    /// --server-version): maxWireVersion and buildInfo differ across members.
    #[arg(long, value_name = "V,V,...", allow_hyphen_values = true)]
    member_versions: Option<String>,
    /// The initial state of each member, comma-separated: startup (RSGhost to clients),
    /// startup2 or recovering (RSOther), `-` or normal.
    #[arg(long, value_name = "STATE,...", allow_hyphen_values = true)]
    member_states: Option<String>,
    /// The SCRAM mechanisms offered (the server's authenticationMechanisms), with --auth:
    /// `SCRAM-SHA-1` answers saslSupportedMechs with SCRAM-SHA-1 only and refuses
    /// SCRAM-SHA-256 (MechanismUnavailable).
    #[arg(long, value_name = "MECH,...", requires = "users", value_parser = parse_mechanisms)]
    auth_mechanisms: Option<Mechanisms>,
}

/// The value of `--auth-mechanisms` (a newtype: clap takes a bare `Vec` for a repeated flag).
#[derive(Debug, Clone)]
struct Mechanisms(Vec<ScramMechanism>);

fn parse_mechanisms(text: &str) -> Result<Mechanisms, String> {
    ScramMechanism::parse_list(text).map(Mechanisms)
}

impl WorldArgs {
    /// The extra names the server certificate must cover (advertised and horizon hosts).
    pub fn certificate_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let advertised = self.advertise.as_deref().map(parse_per_member);
        let horizons = self
            .horizons
            .iter()
            .filter_map(|h| parse_horizon(h).ok())
            .flat_map(|(_, addresses)| addresses.into_iter().map(Some));
        for address in advertised.into_iter().flatten().chain(horizons).flatten() {
            let host = with_port(&address, 0)
                .rsplit_once(':')
                .map(|(h, _)| h.to_owned())
                .unwrap_or_default();
            if !host.is_empty() && !names.contains(&host) {
                names.push(host);
            }
        }
        names
    }

    /// Applies the flags to `spec`; an error names the flag that does not fit.
    pub fn apply(&self, spec: &mut DeploymentSpec) -> Result<(), String> {
        spec.scram_mechanisms = self.auth_mechanisms.clone().map(|m| m.0);
        let staged = self.tags.is_some()
            || self.advertise.is_some()
            || !self.horizons.is_empty()
            || self.member_versions.is_some()
            || self.member_states.is_some();
        let members = match &mut spec.topology {
            TopologySpec::ReplicaSet { members, .. } => members,
            _ if staged => {
                return Err(
                    "--tags, --advertise, --horizon, --member-versions and --member-states \
                     need a replica set"
                        .into(),
                )
            }
            _ => return Ok(()),
        };
        let count = members.len();
        let too_many = |flag: &str, n: usize| {
            (n > count).then(|| format!("{flag}: {n} entries for {count} member(s)"))
        };
        if let Some(text) = &self.tags {
            let tags = parse_member_tags(text).map_err(|e| format!("--tags: {e}"))?;
            too_many("--tags", tags.len()).map_or(Ok(()), Err)?;
            for (member, tags) in members.iter_mut().zip(tags) {
                member.config.tags = tags;
            }
        }
        if let Some(text) = &self.advertise {
            let names = parse_per_member(text);
            too_many("--advertise", names.len()).map_or(Ok(()), Err)?;
            for (member, name) in members.iter_mut().zip(names) {
                member.advertise = name;
            }
        }
        for horizon in &self.horizons {
            let (name, addresses) =
                parse_horizon(horizon).map_err(|e| format!("--horizon: {e}"))?;
            if addresses.len() != count {
                return Err(format!(
                    "--horizon {name}: {} address(es) for {count} member(s): every member \
                     needs one in each horizon",
                    addresses.len()
                ));
            }
            for (member, address) in members.iter_mut().zip(addresses) {
                member.config.horizons.insert(name.clone(), address);
            }
        }
        if let Some(text) = &self.member_versions {
            let versions =
                parse_member_versions(text).map_err(|e| format!("--member-versions: {e}"))?;
            too_many("--member-versions", versions.len()).map_or(Ok(()), Err)?;
            for (member, version) in members.iter_mut().zip(versions) {
                member.version = version;
            }
        }
        if let Some(text) = &self.member_states {
            let states = parse_member_states(text).map_err(|e| format!("--member-states: {e}"))?;
            too_many("--member-states", states.len()).map_or(Ok(()), Err)?;
            for (member, state) in members.iter_mut().zip(states) {
                member.startup = state.startup();
                member.recovering = state == mongo_topology_sim::StagedState::Recovering;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_covers_advertised_and_horizon_hosts() {
        let args = WorldArgs {
            tags: None,
            advertise: Some("m0.internal,-,m2.internal:4000".into()),
            horizons: vec![
                "external=ext-0.example:30000,ext-1.example,ext-2.example".into(),
                "local=localhost,localhost,localhost".into(),
            ],
            member_versions: None,
            member_states: None,
            auth_mechanisms: None,
        };
        assert_eq!(
            args.certificate_names(),
            [
                "m0.internal",
                "m2.internal",
                "ext-0.example",
                "ext-1.example",
                "ext-2.example",
                "localhost"
            ]
        );
    }
}
