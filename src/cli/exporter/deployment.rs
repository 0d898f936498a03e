//! One monitored deployment of the exporter: a task that resolves its connection string,
//! runs a [`Cluster`] for it and keeps its series up to date from the cluster's events,
//! until told to stop; its series are removed when it stops. What changes without an event
//! (ages, durations, RTTs) is refreshed when a scrape reads it ([`Live::refresh`]), not on
//! a timer per deployment: an idle fleet of a thousand costs no wake-up per second each.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mongo_topology::{Cluster, EventRecvError, ServerAddress};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::DeploymentConfig;
use crate::cli::connect::{self, ResolveError};
use crate::cli::metrics::{DeploymentSeries, Families};
use crate::cli::tls_state::{self, TlsStates};
use crate::cli::untrusted::{display_untrusted, LINE_CHARS};

/// How long to wait before resolving a `mongodb+srv` seed list again after a failure.
const RETRY_RESOLVE: Duration = Duration::from_secs(5);
/// How long the SRV and TXT lookups of one attempt may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the TLS certificates of a TLS deployment's servers are read (the first time a
/// few seconds after the start, once the members are known).
const CERTIFICATE_PROBE: Duration = Duration::from_secs(3600);
/// When the first certificate probe runs.
const FIRST_CERTIFICATE_PROBE: Duration = Duration::from_secs(2);
/// How long one certificate probe may take.
const CERTIFICATE_PROBE_BUDGET: Duration = Duration::from_secs(10);
/// How long closing a cluster may take.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// A running deployment: its configuration and the means to stop it.
pub struct Running {
    /// What it was started with (a changed configuration restarts it).
    pub config: DeploymentConfig,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    /// Its series and cluster, for scrapes; also held here, so that the series go even when
    /// the task must be aborted.
    live: Arc<Live>,
}

/// What a scrape reads of a running deployment: its series and, while it runs, its cluster.
pub struct Live {
    series: Arc<DeploymentSeries>,
    /// The cluster, once started and until it is closed. Held locked while a scrape
    /// refreshes the series, so that a deployment that stops (takes it, then removes its
    /// series) never has its series put back by a scrape in between.
    cluster: Mutex<Option<Cluster>>,
}

impl Live {
    /// Sets the gauges that change without an event (ages, durations, RTTs) from the
    /// cluster's latest description, as of `now`.
    pub fn refresh(&self, now: Instant) {
        let Ok(cluster) = self.cluster.lock() else {
            return;
        };
        if let Some(cluster) = cluster.as_ref() {
            self.series.refresh(&cluster.topology(), now);
        }
    }

    fn set_cluster(&self, cluster: Option<Cluster>) {
        if let Ok(mut slot) = self.cluster.lock() {
            *slot = cluster;
        }
    }

    /// Forgets the cluster (no scrape refreshes the series any more) and removes the series.
    fn retire(&self) {
        self.set_cluster(None);
        self.series.remove_all();
    }
}

impl Running {
    /// Starts monitoring `config`; its series carry `deployment="<name>"`.
    pub fn start(
        config: DeploymentConfig,
        families: Arc<Families>,
        dns_server: Option<SocketAddr>,
    ) -> Running {
        let (stop, stopped) = oneshot::channel();
        let live = Arc::new(Live {
            series: Arc::new(DeploymentSeries::new(
                families,
                vec![("deployment", config.name.clone())],
            )),
            cluster: Mutex::new(None),
        });
        let task = tokio::spawn(monitor(config.clone(), live.clone(), dns_server, stopped));
        Running {
            config,
            stop: Some(stop),
            task,
            live,
        }
    }

    /// Its series and cluster, for scrapes.
    pub fn live(&self) -> Arc<Live> {
        self.live.clone()
    }

    /// Stops monitoring, closes the cluster and removes the deployment's series.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let grace = CLOSE_GRACE + Duration::from_secs(1);
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            self.task.abort();
            self.live.retire();
        }
    }
}

/// The deployment's name as it may be logged.
fn shown(config: &DeploymentConfig) -> String {
    display_untrusted(&config.name, LINE_CHARS).into_owned()
}

async fn monitor(
    config: DeploymentConfig,
    live: Arc<Live>,
    dns_server: Option<SocketAddr>,
    mut stopped: oneshot::Receiver<()>,
) {
    let series = live.series.clone();
    let resolved = loop {
        let attempt =
            tokio::time::timeout(RESOLVE_TIMEOUT, connect::resolve(&config.uri, dns_server));
        let outcome = tokio::select! {
            outcome = attempt => outcome,
            _ = &mut stopped => {
                series.remove_all();
                return;
            }
        };
        match outcome {
            Ok(Ok(resolved)) => break resolved,
            Ok(Err(ResolveError::Usage(_))) => {
                // The parser's message may quote the string: only the deployment is named.
                tracing::error!(
                    deployment = %shown(&config),
                    "exporter: invalid connection string; not monitored"
                );
                let _ = (&mut stopped).await;
                series.remove_all();
                return;
            }
            Ok(Err(ResolveError::SeedList(message))) => {
                series.srv_lookup_failed();
                tracing::warn!(
                    deployment = %shown(&config),
                    error = %display_untrusted(&message, LINE_CHARS),
                    "exporter: seed list lookup failed; retrying"
                );
            }
            Err(_) => {
                series.srv_lookup_failed();
                tracing::warn!(deployment = %shown(&config), "exporter: seed list lookup timed out; retrying");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY_RESOLVE) => {}
            _ = &mut stopped => {
                series.remove_all();
                return;
            }
        }
    };
    if resolved.settings.srv.is_some() {
        series.srv_records(resolved.srv_records.len());
    }
    let mut settings = resolved.settings;
    // Monitoring only: no pool connection, so no authentication attempt.
    settings.warm_up = false;
    let tls_settings = settings.tls.is_some().then(|| settings.clone());
    series.set_heartbeat_frequency(settings.heartbeat_frequency);
    let (cluster, mut events) = match Cluster::with_events(settings) {
        Ok(started) => started,
        Err(error) => {
            tracing::error!(
                deployment = %shown(&config),
                error = %display_untrusted(&error.to_string(), LINE_CHARS),
                "exporter: cannot start monitoring"
            );
            let _ = (&mut stopped).await;
            series.remove_all();
            return;
        }
    };
    // The set name known before the first event: series are labelled with it from the start.
    series.update(&cluster.topology(), Instant::now());
    live.set_cluster(Some(cluster.clone()));
    let mut probe_certificates =
        tokio::time::interval_at(Instant::now() + FIRST_CERTIFICATE_PROBE, CERTIFICATE_PROBE);
    let mut probing: Option<JoinHandle<TlsStates>> = None;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => series.on_event(&event),
                Err(EventRecvError::Missed(_)) => series.update(&cluster.topology(), Instant::now()),
                Err(_) => break,
            },
            _ = probe_certificates.tick(), if tls_settings.is_some() && probing.is_none() => {
                if let Some(settings) = tls_settings.clone() {
                    let servers: Vec<ServerAddress> =
                        cluster.topology().servers.keys().cloned().collect();
                    probing = Some(tokio::spawn(async move {
                        tls_state::probe(&settings, &servers, CERTIFICATE_PROBE_BUDGET).await
                    }));
                }
            }
            states = finished(&mut probing) => {
                probing = None;
                for (address, state) in states {
                    if let Ok(Some(not_after)) = state.map(|info| info.peer_not_after) {
                        series.certificate_expiry(&address, not_after);
                    }
                }
            }
            _ = &mut stopped => break,
        }
    }
    if let Some(probe) = probing {
        probe.abort();
    }
    live.set_cluster(None);
    let _ = tokio::time::timeout(CLOSE_GRACE, cluster.close()).await;
    live.retire();
}

/// What the running certificate probe found, once it has finished; never without one.
async fn finished(probing: &mut Option<JoinHandle<TlsStates>>) -> TlsStates {
    match probing {
        Some(probe) => probe.await.unwrap_or_default(),
        None => std::future::pending().await,
    }
}
