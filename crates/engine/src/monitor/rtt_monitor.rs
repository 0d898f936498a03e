//! The RTT monitor of a streaming server ("Server Monitoring", "Measuring RTT"): while the
//! server monitor waits on an awaitable hello, this loop (run inside the monitor's task)
//! measures round trips on its own
//! connection, one hello every heartbeatFrequencyMS, and reports each sample. Its failures
//! never change the server's description: it reconnects at its next turn.

use tokio::time::{sleep, Instant};

use crate::address::ServerAddress;
use crate::connection::channel::{Connection, MAX_HELLO_REPLY_SIZE};
use crate::connection::handshake::{handshake, hello_command};
use crate::monitor::server_monitor::{MonitorReport, MonitorShared};

pub(crate) async fn run_rtt_monitor(
    address: ServerAddress,
    monitor_id: u64,
    shared: MonitorShared,
) {
    let mut connection: Option<Connection> = None;
    let mut hello_ok = false;
    loop {
        sleep(shared.settings.heartbeat_frequency).await;
        let sample = match connection.as_mut() {
            Some(open) => {
                let command = hello_command(!hello_ok, None, shared.handshake.load_balanced, None);
                let started = Instant::now();
                open.command("admin", command)
                    .await
                    .map(|_| started.elapsed())
            }
            None => match Connection::connect_with_tls(
                &address,
                &shared.connect_options(),
                shared.tls.as_ref(),
            )
            .await
            {
                Ok(mut open) => {
                    let outcome = handshake(&mut open, &shared.handshake).await;
                    open.set_max_message_size(MAX_HELLO_REPLY_SIZE);
                    outcome.map(|outcome| {
                        hello_ok = outcome.hello_ok;
                        connection = Some(open);
                        outcome.round_trip_time
                    })
                }
                Err(error) => Err(error),
            },
        };
        match sample {
            Ok(sample) => {
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
    }
}
