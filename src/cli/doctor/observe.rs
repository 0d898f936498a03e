//! Gathering the [`Observations`]: the connection string and its options, the `mongodb+srv`
//! lookups, discovery, one direct probe per server (hello with the raw reply, buildInfo,
//! replSetGetStatus, the TLS handshake), hellos through a load balancer, and the verdicts
//! proven by doing. Every wait is bounded by one deadline derived from connectTimeoutMS.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mongo_topology::bson::{doc, Document};
use mongo_topology::options::{ConnectionString, OptionValue};
use mongo_topology::sdam::{ServerType, TopologyDescription};
use mongo_topology::selection::{explain_selection, SelectionCriteria};
use mongo_topology::{
    resolve_srv, Cluster, ClusterError, ClusterSettings, ConnectOptions, Connection,
    ConnectionError, DnsSettings, PoolError, ServerAddress, TlsConnector, TlsInfo, TlsSettings,
};
use tokio::task::JoinSet;

use super::observations::{
    member_list, FailureClass, Observations, Probe, Proof, ProofFailure, ProvenServer,
    SrvObservation,
};
use crate::cli::discover::Failure;

/// How many new connections to a load balancer are compared.
const BALANCER_HELLOS: usize = 4;

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

/// What every probe shares.
struct ProbeContext {
    options: ConnectOptions,
    tls: Option<TlsConnector>,
    /// With TLS off: a connector that accepts any certificate, to tell a TLS-only server.
    insecure_tls: Option<TlsConnector>,
    hello: Document,
    load_balanced: bool,
    look_up_names: bool,
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

fn probe_context(
    observations: &Observations,
    settings: &ClusterSettings,
) -> Result<ProbeContext, Failure> {
    let uri = &observations.uri;
    let tls = match &settings.tls {
        Some(tls) => {
            Some(TlsConnector::new(tls).map_err(|error| Failure::Usage(error.to_string()))?)
        }
        None => None,
    };
    let insecure_tls = if tls.is_none() {
        TlsConnector::new(&TlsSettings {
            allow_invalid_certificates: true,
            allow_invalid_hostnames: true,
            ..TlsSettings::default()
        })
        .ok()
    } else {
        None
    };
    let mut hello = doc! { "hello": 1 };
    if observations.load_balanced() {
        hello.insert("loadBalanced", true);
    }
    if let Some(credential) = uri.credential() {
        let scram = credential
            .mechanism
            .as_deref()
            .is_none_or(|m| m.starts_with("SCRAM-"));
        if let (Some(user), true) = (&credential.username, scram) {
            let source = credential.source.as_deref().unwrap_or("admin");
            hello.insert("saslSupportedMechs", format!("{source}.{user}"));
        }
    }
    Ok(ProbeContext {
        options: ConnectOptions {
            connect_timeout: settings.connect_timeout,
            socket_timeout: settings.connect_timeout,
            name_server: settings.dns.name_server,
        },
        tls,
        insecure_tls,
        hello,
        load_balanced: observations.load_balanced(),
        look_up_names: settings.dns.name_server.is_none(),
    })
}

type TlsStates = std::collections::BTreeMap<ServerAddress, Result<TlsInfo, String>>;

/// Probes the seeds, then every member a reply names, as soon as its hello names it
/// (before that probe's other commands).
async fn probe_all(
    seeds: &[ServerAddress],
    context: &Arc<ProbeContext>,
    deadline: Instant,
) -> (std::collections::BTreeMap<ServerAddress, Probe>, TlsStates) {
    let mut probes = std::collections::BTreeMap::new();
    let mut tls = TlsStates::new();
    let mut started: BTreeSet<ServerAddress> = BTreeSet::new();
    let mut running = JoinSet::new();
    let (named_sender, mut named) = tokio::sync::mpsc::unbounded_channel::<Vec<ServerAddress>>();
    let spawn = |running: &mut JoinSet<_>, address: ServerAddress| {
        let context = Arc::clone(context);
        let named = named_sender.clone();
        running.spawn(async move {
            let outcome =
                tokio::time::timeout_at(deadline.into(), probe(&address, &context, &named)).await;
            match outcome {
                Ok((probe, tls)) => (address, probe, tls),
                Err(_) => {
                    let probe = Probe {
                        hello: Some(Err("no answer before doctor's deadline".to_owned())),
                        ..Probe::default()
                    };
                    (address, probe, None)
                }
            }
        });
    };
    for seed in seeds {
        if started.insert(seed.clone()) {
            spawn(&mut running, seed.clone());
        }
    }
    loop {
        tokio::select! {
            Some(members) = named.recv() => {
                for member in members {
                    if started.insert(member.clone()) {
                        spawn(&mut running, member);
                    }
                }
            }
            joined = running.join_next() => match joined {
                Some(Ok((address, probe, state))) => {
                    if let Some(state) = state {
                        tls.insert(address.clone(), state);
                    }
                    probes.insert(address, probe);
                }
                Some(Err(_)) => {}
                None => {
                    // Names sent by the last probes may still wait in the channel.
                    let mut more = false;
                    while let Ok(members) = named.try_recv() {
                        for member in members {
                            if started.insert(member.clone()) {
                                spawn(&mut running, member);
                                more = true;
                            }
                        }
                    }
                    if !more {
                        break;
                    }
                }
            },
        }
    }
    (probes, tls)
}

/// The IP addresses `address` resolves to, as the system resolver answers.
async fn resolve(
    address: &ServerAddress,
    timeout: Option<Duration>,
) -> Option<Result<Vec<IpAddr>, String>> {
    let port = address.port()?;
    let host = address.host();
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(Ok(vec![ip]));
    }
    let lookup = tokio::net::lookup_host((host, port));
    let outcome = match timeout {
        Some(timeout) => tokio::time::timeout(timeout, lookup)
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("the lookup timed out"))),
        None => lookup.await,
    };
    Some(
        outcome
            .map(|addrs| {
                let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                ips.dedup();
                ips
            })
            .map_err(|error| error.to_string()),
    )
}

/// One server: name resolution, a connection (TLS as configured), hello, then buildInfo
/// and replSetGetStatus on a set member.
async fn probe(
    address: &ServerAddress,
    context: &ProbeContext,
    named: &tokio::sync::mpsc::UnboundedSender<Vec<ServerAddress>>,
) -> (Probe, Option<Result<TlsInfo, String>>) {
    let mut probe = Probe::default();
    if context.look_up_names {
        probe.resolved = resolve(address, context.options.connect_timeout).await;
    }
    let connected =
        Connection::connect_with_tls(address, &context.options, context.tls.as_ref()).await;
    let mut connection = match connected {
        Ok(connection) => connection,
        Err(error) => {
            let tls = match (&context.tls, &error) {
                (Some(_), ConnectionError::Tls { .. }) => Some(Err(error.to_string())),
                _ => None,
            };
            probe.hello = Some(Err(error.to_string()));
            return (probe, tls);
        }
    };
    let tls = connection.tls_info().cloned().map(Ok);
    let sent = Instant::now();
    let hello = connection
        .command_within(
            "admin",
            context.hello.clone(),
            context.options.connect_timeout,
        )
        .await;
    probe.round_trip = Some(sent.elapsed());
    let hello = match hello {
        Ok(hello) => hello,
        Err(error) => {
            let dropped = matches!(
                error,
                ConnectionError::Network { .. } | ConnectionError::Protocol { .. }
            );
            probe.hello = Some(Err(error.to_string()));
            probe.round_trip = None;
            let tls = match (&context.insecure_tls, dropped) {
                (Some(insecure), true) => tls_only(address, &context.options, insecure)
                    .await
                    .map(Ok)
                    .or(tls),
                _ => tls,
            };
            return (probe, tls);
        }
    };
    if !context.load_balanced {
        // The members it names are probed from now on, beside the rest of this probe.
        let _ = named.send(member_list(&hello).into_iter().collect());
        let timeout = context.options.connect_timeout;
        if let Ok(info) = connection
            .command_within("admin", doc! { "buildInfo": 1 }, timeout)
            .await
        {
            probe.version = info.get_str("version").ok().map(str::to_owned);
        }
        if hello.get_str("setName").is_ok() {
            probe.set_status = connection
                .command_within("admin", doc! { "replSetGetStatus": 1 }, timeout)
                .await
                .ok();
        }
    }
    probe.hello = Some(Ok(hello));
    (probe, tls)
}

/// A TLS handshake that accepts any certificate: whether the server speaks TLS.
async fn tls_only(
    address: &ServerAddress,
    options: &ConnectOptions,
    insecure: &TlsConnector,
) -> Option<TlsInfo> {
    let connection = Connection::connect_with_tls(address, options, Some(insecure))
        .await
        .ok()?;
    connection.tls_info().cloned()
}

/// Load-balanced mode: the hello replies of [`BALANCER_HELLOS`] new connections to the
/// balancer.
async fn balancer_hellos(
    observations: &Observations,
    context: &Arc<ProbeContext>,
    deadline: Instant,
) -> Vec<Result<Document, String>> {
    if !observations.load_balanced() {
        return Vec::new();
    }
    let Some(address) = observations.seeds.first().cloned() else {
        return Vec::new();
    };
    let mut replies = Vec::new();
    for _ in 0..BALANCER_HELLOS {
        let attempt = async {
            let mut connection =
                Connection::connect_with_tls(&address, &context.options, context.tls.as_ref())
                    .await
                    .map_err(|error| error.to_string())?;
            connection
                .command_within(
                    "admin",
                    context.hello.clone(),
                    context.options.connect_timeout,
                )
                .await
                .map_err(|error| error.to_string())
        };
        match tokio::time::timeout_at(deadline.into(), attempt).await {
            Ok(reply) => replies.push(reply),
            Err(_) => {
                replies.push(Err("no answer before doctor's deadline".to_owned()));
                break;
            }
        }
    }
    replies
}

/// The cause class of a failed check-out or command.
fn classify(error: &ClusterError) -> (FailureClass, Option<ServerAddress>) {
    match error {
        ClusterError::Pool(PoolError::Establishment {
            address, source, ..
        }) => (classify_connection(source), Some(address.clone())),
        ClusterError::Connection { address, source } => {
            (classify_connection(source), Some(address.clone()))
        }
        ClusterError::Pool(PoolError::CheckOut { address, .. }) => {
            (FailureClass::Other, Some(address.clone()))
        }
        ClusterError::Command { address, .. } => (FailureClass::Other, Some(address.clone())),
        ClusterError::ServerSelectionTimeout { .. } | ClusterError::Selection(_) => {
            (FailureClass::NoSuitableServer, None)
        }
        _ => (FailureClass::Other, None),
    }
}

fn classify_connection(error: &ConnectionError) -> FailureClass {
    match error {
        ConnectionError::Tls { .. } => FailureClass::Tls,
        ConnectionError::NoServiceId => FailureClass::NoServiceId,
        ConnectionError::Authentication(_) => FailureClass::Authentication,
        ConnectionError::Dns { .. }
        | ConnectionError::Connect { .. }
        | ConnectionError::Timeout { .. }
        | ConnectionError::Network { .. } => FailureClass::Connect,
        _ => FailureClass::Other,
    }
}

/// Reads and writes as the application would do them: select (only when a server is
/// selectable now), check a connection out of the pool (handshake, authentication), ping.
/// A write also needs a server that reports itself writable.
async fn prove(
    cluster: &Cluster,
    settings: &ClusterSettings,
    topology: &TopologyDescription,
    time: Duration,
) -> Proof {
    let read = SelectionCriteria::read(settings.read_preference.clone());
    let write = SelectionCriteria::write();
    // Both at once, as an application's first read and write would be.
    let (read, write) = tokio::join!(
        prove_one(cluster, settings, topology, &read, time, false),
        prove_one(cluster, settings, topology, &write, time, true)
    );
    Proof { read, write }
}

async fn prove_one(
    cluster: &Cluster,
    settings: &ClusterSettings,
    topology: &TopologyDescription,
    criteria: &SelectionCriteria,
    time: Duration,
    write: bool,
) -> Result<ProvenServer, ProofFailure> {
    let explanation = explain_selection(topology, criteria, &settings.selection(), &[]);
    if !explanation.has_selectable_server() {
        return Err(ProofFailure {
            class: FailureClass::NoSuitableServer,
            address: None,
            message: format!("no server is suitable: {explanation}"),
        });
    }
    let attempt = async {
        let mut connection = cluster.checkout(criteria).await?;
        connection.run_command("admin", doc! { "ping": 1 }).await?;
        Ok::<_, ClusterError>(connection)
    };
    let connection = match tokio::time::timeout(time, attempt).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => {
            let (class, address) = classify(&error);
            return Err(ProofFailure {
                class,
                address,
                message: error.to_string(),
            });
        }
        Err(_) => {
            return Err(ProofFailure {
                class: FailureClass::Other,
                address: None,
                message: format!("no answer within {} ms", time.as_millis()),
            })
        }
    };
    let description = connection.description();
    let server = ProvenServer {
        address: connection.address().clone(),
        server_type: description.server_type,
        service_id: connection.service_id(),
    };
    let writable = matches!(
        server.server_type,
        ServerType::RsPrimary
            | ServerType::Mongos
            | ServerType::Standalone
            | ServerType::LoadBalancer
    );
    if write && !writable {
        return Err(ProofFailure {
            class: FailureClass::NotWritable,
            address: Some(server.address.clone()),
            message: format!(
                "{} is {}: it does not accept writes (NotWritablePrimary)",
                server.address, server.server_type
            ),
        });
    }
    Ok(server)
}
