//! One direct probe per server (name resolution, connection, hello, buildInfo,
//! replSetGetStatus, TLS), and the hellos through a load balancer.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mongo_topology::bson::{doc, Document};
use mongo_topology::{
    ClusterSettings, ConnectOptions, Connection, ConnectionError, ServerAddress, TlsConnector,
    TlsInfo, TlsSettings,
};
use tokio::task::JoinSet;

use crate::cli::discover::Failure;
use crate::cli::doctor::observations::{member_list, Observations, Probe};

/// How many new connections to a load balancer are compared.
const BALANCER_HELLOS: usize = 4;

/// What every probe shares.
pub(super) struct ProbeContext {
    options: ConnectOptions,
    tls: Option<TlsConnector>,
    /// With TLS off: a connector that accepts any certificate, to tell a TLS-only server.
    insecure_tls: Option<TlsConnector>,
    hello: Document,
    load_balanced: bool,
    look_up_names: bool,
}

pub(super) fn probe_context(
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

pub(super) type TlsStates = std::collections::BTreeMap<ServerAddress, Result<TlsInfo, String>>;

/// Probes the seeds, then every member a reply names, as soon as its hello names it
/// (before that probe's other commands).
pub(super) async fn probe_all(
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
pub(super) async fn balancer_hellos(
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
