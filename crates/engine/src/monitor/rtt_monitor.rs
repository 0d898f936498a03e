//! The RTT monitor of a streaming server ("Server Monitoring", "Measuring RTT"): while the
//! server monitor waits on an awaitable hello, this loop (run inside the monitor's task)
//! measures round trips on its own monitoring connection, one hello every
//! heartbeatFrequencyMS, and reports each sample. As in the spec's "RTT thread", it connects
//! at once (the handshake's round trip is its first sample), then waits between pings. Its
//! failures never change the server's description: it reconnects at its next turn.

use tokio::time::{sleep_until, Instant};

use crate::address::ServerAddress;
use crate::monitor::monitoring_connection::MonitoringConnection;
use crate::monitor::shared::{MonitorReport, MonitorShared};
use crate::recorder::Record;

/// Measures round trips to `address` until the task running it is aborted or the cluster
/// task stops listening.
pub(crate) async fn run_rtt_monitor(
    address: ServerAddress,
    monitor_id: u64,
    shared: MonitorShared,
) {
    let mut connection: Option<MonitoringConnection> = None;
    loop {
        let sample = shared
            .connector
            .check(&mut connection, &address)
            .await
            .map(|(_reply, round_trip)| round_trip);
        match sample {
            Ok(sample) => {
                shared.events.record(Record::RoundTrip {
                    address: address.clone(),
                    sample,
                });
                let report = MonitorReport::RoundTrip {
                    address: address.clone(),
                    monitor_id,
                    sample,
                };
                if shared.reports.send(report).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                tracing::debug!(%address, %error, "RTT check failed; reconnecting at the next one");
                connection = None;
            }
        }
        // heartbeatFrequencyMS from now, on the cluster's tick (see `schedule.rs`).
        let heartbeat = shared.settings.heartbeat_frequency;
        sleep_until(shared.clock.due_after(Instant::now(), heartbeat)).await;
    }
}
