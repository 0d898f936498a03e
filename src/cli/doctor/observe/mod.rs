//! Gathering the [`Observations`]: the connection string and its options, the `mongodb+srv`
//! lookups, discovery, one direct probe per server (hello with the raw reply, buildInfo,
//! replSetGetStatus, the TLS handshake), hellos through a load balancer, and the verdicts
//! proven by doing. Every wait is bounded by one deadline derived from connectTimeoutMS.

mod probe;
mod proof;

use probe::{balancer_hellos, probe_all, probe_context};
use proof::prove;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mongo_topology::options::{ConnectionString, OptionValue};
use mongo_topology::sdam::{ServerType, TopologyDescription};
use mongo_topology::{resolve_srv, Cluster, ClusterError, ClusterSettings, DnsSettings};

use super::observations::{Observations, SrvObservation};
use crate::cli::discover::Failure;

/// What remains of the run's time after discovery, at least, for the verdicts.
const PROOF_MINIMUM: Duration = Duration::from_millis(300);

/// The time `doctor` may take when `--timeout-ms` is not given: connectTimeoutMS (10 s by
/// default; 10 s when disabled) plus this margin, so that a silent server is given up by
/// its own connect timeout and named.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(750);

/// Whether discovery is done: every server is known, or its last check failed.
fn every_server_checked(topology: &TopologyDescription) -> bool {
    topology.servers.values().all(|server| {
        !matches!(
            server.server_type,
            ServerType::Unknown | ServerType::PossiblePrimary
        ) || server.error.is_some()
    })
}

/// The text of an option value, secrets hidden.
fn option_text(value: &OptionValue) -> String {
    match value {
        OptionValue::Bool(b) => b.to_string(),
        OptionValue::Int(n) => n.to_string(),
        OptionValue::String(s) => s.clone(),
        OptionValue::List(items) => items.join(","),
        OptionValue::Secret(_) | OptionValue::Properties(_) => "(hidden)".to_owned(),
        OptionValue::TagSets(sets) => format!("{} tag set(s)", sets.len()),
    }
}

/// Runs everything and returns the observations; only a usage error or Ctrl-C is an
/// error (an unreachable deployment is an observation).
pub async fn observe(
    text: &str,
    dns_server: Option<SocketAddr>,
    timeout: Option<Duration>,
) -> Result<Observations, Failure> {
    let started = Instant::now();
    let uri = ConnectionString::parse(text)
        .map_err(|error| Failure::Usage(format!("invalid connection string: {error}")))?;
    let mut observations = Observations::from_uri(uri.clone());
    observations.now = SystemTime::now();
    let connect_timeout = observations.timings().connect_timeout;
    let budget =
        timeout.unwrap_or(connect_timeout.unwrap_or(Duration::from_secs(10)) + DEADLINE_MARGIN);
    let deadline = started + budget;
    let dns = DnsSettings {
        name_server: dns_server,
        ..DnsSettings::default()
    };

    // The seed list: the string's hosts, or the SRV lookups.
    let effective = if let Some(hostname) = uri.srv_hostname() {
        let mut srv = SrvObservation {
            hostname: hostname.to_owned(),
            ..SrvObservation::default()
        };
        let lookup = tokio::time::timeout_at(deadline.into(), resolve_srv(&uri, &dns)).await;
        match lookup {
            Ok(Ok((resolved, records))) => {
                srv.records = records;
                srv.txt_options = resolved
                    .options()
                    .filter(|(name, _)| uri.option(name).is_none())
                    .map(|(name, value)| (name.to_owned(), option_text(value)))
                    .collect();
                observations.srv = Some(srv);
                resolved
            }
            Ok(Err(error)) => {
                srv.error = Some(error.to_string());
                observations.srv = Some(srv);
                return Ok(observations);
            }
            Err(_) => {
                srv.error = Some(format!(
                    "the DNS lookups did not finish within {} ms",
                    budget.as_millis()
                ));
                observations.srv = Some(srv);
                return Ok(observations);
            }
        }
    } else {
        uri.clone()
    };
    observations.seeds = effective.hosts().to_vec();
    let mut settings = ClusterSettings::from_connection_string(&effective)
        .map_err(|error| Failure::Usage(format!("invalid connection string: {error}")))?;
    if let Some(srv) = settings.srv.as_mut() {
        srv.initial_records = observations
            .srv
            .as_ref()
            .map(|s| s.records.clone())
            .unwrap_or_default();
    }
    settings.dns = dns;
    settings.warm_up = false;

    let context = Arc::new(probe_context(&observations, &settings)?);
    let cluster =
        Cluster::new(settings.clone()).map_err(|error| Failure::Usage(error.to_string()))?;
    // Discovery then the verdicts, while the probes run beside them.
    let discovery_and_proof = async {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let outcome = cluster.wait_for(every_server_checked, remaining).await;
        let elapsed = started.elapsed();
        let (topology, complete) = match outcome {
            Ok(topology) => (topology, true),
            Err(ClusterError::WaitTimedOut { topology, .. }) => (topology, false),
            Err(error) => return Err(error),
        };
        let proof_time = deadline
            .saturating_duration_since(Instant::now())
            .max(PROOF_MINIMUM);
        let proof = prove(&cluster, &settings, &topology, proof_time).await;
        Ok((topology, complete, elapsed, proof))
    };
    let probes = probe_all(&observations.seeds, &context, deadline);
    let balancer = balancer_hellos(&observations, &context, deadline);
    let (discovered, (probes, tls), balancer_hellos) =
        tokio::join!(discovery_and_proof, probes, balancer);
    let (topology, complete, elapsed, proof) = match discovered {
        Ok(discovered) => discovered,
        Err(error) => {
            cluster.close().await;
            return Err(Failure::Usage(error.to_string()));
        }
    };
    observations.discovery_elapsed = elapsed;
    observations.discovery_complete = complete;
    observations.probes = probes;
    observations.tls = tls;
    observations.balancer_hellos = balancer_hellos;
    observations.proof = Some(proof);
    // The view discovery ended with: a failed verdict (authentication) may mark servers
    // Unknown afterwards.
    observations.topology = Some(topology);
    observations.total_elapsed = started.elapsed();
    cluster.close().await;
    Ok(observations)
}
