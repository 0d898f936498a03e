//! The SRV poller (Polling SRV Records for mongos Discovery spec): a task beside the
//! cluster task that rescans the SRV records every rescan interval while the topology is
//! Sharded or Unknown, and hands the verified hosts to the cluster task, which applies them
//! with [`crate::sdam::Topology::apply_srv_records`]. A failed rescan changes nothing and
//! is retried after heartbeatFrequencyMS. The poller stops for good once the topology is
//! of another type, and is aborted when the cluster closes.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::cluster::publication::Subscription;
use crate::cluster::task::Request;
use crate::connection::dns::{DnsSettings, SrvResolver};
use crate::sdam::{polled_hosts, rescan_interval, TopologyType};
use crate::settings::cluster_settings::SrvSettings;

/// Runs until the topology stops being Sharded or Unknown, or the cluster task is gone.
pub(crate) async fn poll_srv_records(
    srv: SrvSettings,
    dns: DnsSettings,
    heartbeat_frequency: Duration,
    snapshots: Subscription,
    requests: mpsc::Sender<Request>,
) {
    let resolver = match SrvResolver::new(&dns) {
        Ok(resolver) => resolver,
        Err(error) => {
            tracing::warn!(%error, "SRV polling disabled");
            return;
        }
    };
    let query = srv.query_name();
    let next_interval = |succeeded: bool, records: &[_]| match dns.rescan_interval {
        Some(interval) if succeeded => interval,
        Some(interval) => interval.min(heartbeat_frequency),
        None => rescan_interval(succeeded, records, heartbeat_frequency),
    };
    let mut interval = next_interval(true, &srv.initial_records);
    loop {
        tokio::time::sleep(interval).await;
        let snapshot = snapshots.latest();
        let topology_type = snapshot.description.topology_type;
        if snapshot.closed
            || !matches!(topology_type, TopologyType::Sharded | TopologyType::Unknown)
        {
            tracing::debug!(%topology_type, "SRV polling stops: the topology is not sharded");
            return;
        }
        let (succeeded, records) = match resolver.lookup_srv(&query).await {
            Ok(records) => {
                let hosts = polled_hosts(&srv.hostname, &records);
                if hosts.is_empty() {
                    tracing::warn!(
                        query,
                        records = records.len(),
                        "SRV polling found no valid host: keeping the current list"
                    );
                    (false, records)
                } else {
                    let request = Request::SrvHosts {
                        hosts,
                        max_hosts: srv.max_hosts,
                    };
                    if requests.send(request).await.is_err() {
                        return;
                    }
                    (true, records)
                }
            }
            Err(error) => {
                tracing::warn!(%error, "SRV polling failed: keeping the current list");
                (false, Vec::new())
            }
        };
        interval = next_interval(succeeded, &records);
    }
}
