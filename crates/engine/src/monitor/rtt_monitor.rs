//! The RTT monitor of a streaming server ("Server Monitoring", "Measuring RTT"): while the
//! server monitor waits on an awaitable hello, this loop (run inside the monitor's task)
//! measures round trips on its own monitoring connection, one hello every
//! heartbeatFrequencyMS, and reports each sample. As in the spec's "RTT thread", it connects
//! at once (the handshake's round trip is its first sample), then waits between pings. Its
//! failures never change the server's description: it reconnects at its next turn.

use tokio::time::{sleep_until, Instant};

use crate::address::ServerAddress;
use crate::monitor::monitoring_connection::MonitoringConnection;
use crate::monitor::shared::{MonitorShared, RttSamples};
use crate::recorder::Record;

/// Measures round trips to `address` until the task running it is aborted, adding each
/// sample to `samples`: the server monitor hands them to the cluster task with its next
/// streamed reply, whose description carries the new average (as in the spec's pseudocode,
/// where a description takes `rttMonitor.average()` when it is built). A sample therefore
/// wakes no other task.
pub(crate) async fn run_rtt_monitor(
    address: ServerAddress,
    shared: MonitorShared,
    samples: RttSamples,
) {
    let mut connection: Option<MonitoringConnection> = None;
    loop {
        let sample = shared
            .connector
            .measure_round_trip(&mut connection, &address)
            .await;
        match sample {
            Ok(sample) => {
                shared.events.record(Record::RoundTrip {
                    address: address.clone(),
                    sample,
                });
                samples.push(sample);
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
