//! One monitor per server ("Server Monitoring" spec): a task with a dedicated connection
//! that checks the server and reports each outcome to the cluster task, which applies it to
//! the SDAM core.
//!
//! - **Polling**: a hello every heartbeatFrequencyMS; between checks the monitor sleeps, and
//!   wakes early when a check is requested (never sooner than minHeartbeatFrequencyMS after
//!   the previous check began) or at once when the core says a known server must be
//!   re-checked after a network error.
//! - **Streaming**: when the server's reply carries a `topologyVersion` and the monitoring
//!   mode allows it, the monitor sends one awaitable hello with `exhaustAllowed`, and the
//!   server pushes a reply whenever its state changes (or every heartbeatFrequencyMS). A
//!   separate RTT monitor ([`crate::monitor::rtt_monitor`]) measures round trips meanwhile, on its own
//!   connection but inside the same task. A server that replies faster than the spec allows
//!   (the core's [`crate::sdam::stream_pace`] rule) loses its stream past a small budget: the
//!   monitor warns once and checks afresh after the normal interval.
//!
//! The cluster task holds each monitor's [`crate::monitor::handle::MonitorHandle`]; dropping
//! it aborts the task, which closes both its sockets.

use std::time::Duration;

use bson::RawDocumentBuf;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use crate::address::ServerAddress;
use crate::connection::channel::reserve_connection_id;
use crate::connection::error::ConnectionError;
use crate::deadline::deadline_after;
use crate::events::{EventKind, HelloReply};
use crate::logging::{
    log_heartbeat_failed, log_heartbeat_started, log_heartbeat_succeeded, HeartbeatConnection,
};
use crate::metrics::HeartbeatMetrics;
use crate::monitor::monitoring_connection::MonitoringConnection;
use crate::monitor::rtt_monitor::run_rtt_monitor;
use crate::monitor::shared::{CheckOutcome, MonitorReport, MonitorShared, RttSamples};
use crate::monitor::stream_version::{update_topology_version, StreamVersion};
use crate::sdam::{CheckTiming, ServerDescription, StreamPace, StreamVerdict, EARLY_REPLY_BUDGET};
use crate::MonotonicTime;

/// Whether the monitor keeps its connection after a check.
enum Next {
    /// Stream from this server.
    Stream,
    /// Wait for the next polling check.
    Poll,
    /// The check was cancelled: drop the connection, then wait for the next check.
    Cancelled,
}

pub(crate) struct Monitor {
    address: ServerAddress,
    id: u64,
    shared: MonitorShared,
    connection: Option<MonitoringConnection>,
    /// The last monitoring connection's ids (what a failed check's log message names).
    last_connection: HeartbeatConnection,
    /// The id the next monitoring connection opened will get.
    next_connection_id: Option<u64>,
    /// The topologyVersion of the last reply, which makes streaming possible.
    topology_version: Option<StreamVersion>,
    request: watch::Receiver<()>,
    retry: watch::Receiver<()>,
    /// Whether the warning about a server streaming too fast was logged (once per monitor).
    warned_early_replies: bool,
    /// The heartbeat histograms for the `metrics` facade (nothing without the feature).
    metrics: HeartbeatMetrics,
    /// The RTT monitor's samples, handed on with the next report (streaming).
    rtt_samples: RttSamples,
}

impl Monitor {
    /// The monitor of `address` (numbered `id`), woken early by `request` (a check
    /// requested) and `retry` (check again at once).
    pub(crate) fn new(
        address: ServerAddress,
        id: u64,
        shared: MonitorShared,
        request: watch::Receiver<()>,
        retry: watch::Receiver<()>,
    ) -> Self {
        let metrics = HeartbeatMetrics::new(&address);
        Monitor {
            address,
            id,
            shared,
            connection: None,
            last_connection: HeartbeatConnection::default(),
            next_connection_id: None,
            topology_version: None,
            request,
            retry,
            warned_early_replies: false,
            metrics,
            rtt_samples: RttSamples::default(),
        }
    }

    /// Checks until aborted; `cancel` abandons the check in progress.
    pub(crate) async fn run(mut self, mut cancel: watch::Receiver<()>) {
        loop {
            let started = Instant::now();
            self.mark_requests_seen();
            cancel.borrow_and_update();
            let next = tokio::select! {
                biased;
                next = self.check() => next,
                changed = cancel.changed() => match changed {
                    Ok(()) => Next::Cancelled,
                    // The handle is gone: the monitor was stopped.
                    Err(_) => return,
                },
            };
            if self.shared.reports.is_closed() {
                return;
            }
            match next {
                Next::Stream => {
                    self.stream(&mut cancel).await;
                    // The stream ended (an error, a cancel, a server that stopped streaming):
                    // the next check waits a heartbeat unless the core asks for a retry
                    // (a known server's network error) or a check is requested.
                    self.wait_for_next_check(Instant::now()).await;
                }
                Next::Poll => self.wait_for_next_check(started).await,
                Next::Cancelled => {
                    self.drop_connection();
                    self.wait_for_next_check(started).await;
                }
            }
        }
    }

    /// Requests that arrived before this check began are answered by it.
    fn mark_requests_seen(&mut self) {
        self.request.borrow_and_update();
        self.retry.borrow_and_update();
        self.shared.check_all.borrow_and_update();
    }

    /// One non-awaited check: connect and handshake if there is no connection, else hello.
    async fn check(&mut self) -> Next {
        self.heartbeat_started(false);
        let started = Instant::now();
        match self.hello().await {
            Ok((reply, round_trip)) => {
                let description = self.describe(&reply);
                let may_stream = self.shared.settings.server_monitoring_mode.streams();
                self.topology_version = None;
                if may_stream {
                    let version = description.topology_version.as_ref();
                    update_topology_version(&mut self.topology_version, version);
                }
                let streams = self.topology_version.is_some();
                let duration = started.elapsed();
                self.succeeded(reply, description, Some(round_trip), duration, false)
                    .await;
                if streams {
                    Next::Stream
                } else {
                    Next::Poll
                }
            }
            Err(error) => {
                self.failed(error, started.elapsed(), false).await;
                Next::Poll
            }
        }
    }

    async fn hello(&mut self) -> Result<(RawDocumentBuf, Duration), ConnectionError> {
        let connector = &self.shared.connector;
        let new_id = self
            .next_connection_id
            .take()
            .unwrap_or_else(reserve_connection_id);
        connector
            .check_as(&mut self.connection, &self.address, new_id)
            .await
    }

    /// The streaming protocol, with the RTT monitor running beside it in the same task (so
    /// that stopping the monitor stops both at once). Returns when the stream ends.
    async fn stream(&mut self, cancel: &mut watch::Receiver<()>) {
        let rtt_monitor = run_rtt_monitor(
            self.address.clone(),
            self.shared.clone(),
            self.rtt_samples.clone(),
        );
        tokio::select! {
            biased;
            () = self.stream_replies() => {}
            () = rtt_monitor => {}
            changed = cancel.changed() => {
                if changed.is_ok() {
                    self.drop_connection();
                }
            }
        }
    }

    /// One awaitable hello with exhaustAllowed, then the replies the server pushes, until an
    /// error, a cancel, or a server that no longer streams.
    async fn stream_replies(&mut self) {
        let heartbeat = self.shared.settings.heartbeat_frequency;
        // The server holds each reply up to heartbeatFrequencyMS; allow connectTimeoutMS more.
        let read_timeout = self
            .shared
            .settings
            .connect_timeout
            .map(|t| t.saturating_add(heartbeat));
        let mut must_send = true;
        // Times of this stream, as offsets from its start, for the core's pace rule.
        let origin = Instant::now();
        let mut pace = StreamPace::new(
            MonotonicTime::ZERO,
            heartbeat,
            self.shared.settings.min_heartbeat_frequency,
        );
        loop {
            // A reply without a (well-formed) topologyVersion ends the stream.
            if self.topology_version.is_none() {
                return;
            }
            if must_send {
                let (Some(connection), Some(version)) =
                    (self.connection.as_mut(), self.topology_version.as_ref())
                else {
                    return;
                };
                let sent = connection
                    .send_awaitable_hello(&version.as_sent, heartbeat)
                    .await;
                if let Err(error) = sent {
                    self.failed(error, Duration::ZERO, true).await;
                    return;
                }
            }
            self.heartbeat_started(true);
            let started = Instant::now();
            let Some(connection) = self.connection.as_mut() else {
                return;
            };
            let received = connection.receive_within(read_timeout).await;
            match received {
                Ok(reply) => {
                    must_send = !reply.more_to_come;
                    let description = self.describe(&reply.body);
                    // A reply the core rejects (`ok` not 1, or malformed) ends the stream;
                    // the next check starts afresh.
                    let rejected = description.error.is_some();
                    let version = description.topology_version.as_ref();
                    let changed = update_topology_version(&mut self.topology_version, version);
                    let duration = started.elapsed();
                    self.succeeded(reply.body, description, None, duration, true)
                        .await;
                    if rejected {
                        self.drop_connection();
                        return;
                    }
                    let at = MonotonicTime::from_offset(origin.elapsed());
                    if pace.on_reply(at, changed) == StreamVerdict::Abandon {
                        self.abandon_fast_stream();
                        return;
                    }
                }
                Err(error) => {
                    self.failed(error, started.elapsed(), true).await;
                    return;
                }
            }
        }
    }

    /// The server streams faster than the spec allows: drop the stream (the caller then
    /// waits for the next check as after any stream), warning once per monitor.
    fn abandon_fast_stream(&mut self) {
        if !self.warned_early_replies {
            self.warned_early_replies = true;
            tracing::warn!(
                server = %self.address,
                budget = EARLY_REPLY_BUDGET,
                "the server streams hello replies faster than the spec allows (past the budget \
                 of early replies or fast changes per minHeartbeatFrequencyMS): dropping its \
                 stream and checking it again after heartbeatFrequencyMS"
            );
        }
        self.drop_connection();
    }

    /// Sleeps until the next polling check is due, or until a check is requested.
    async fn wait_for_next_check(&mut self, previous_started: Instant) {
        let settings = &self.shared.settings;
        let due = self
            .shared
            .clock
            .due_after(previous_started, settings.heartbeat_frequency);
        let earliest = deadline_after(previous_started, settings.min_heartbeat_frequency);
        let check_all = &mut self.shared.check_all;
        tokio::select! {
            biased;
            _ = sleep_until(due) => {}
            Ok(()) = self.retry.changed() => {}
            Ok(()) = self.request.changed() => sleep_until(earliest).await,
            Ok(()) = check_all.changed() => sleep_until(earliest).await,
        }
    }

    fn heartbeat_started(&mut self, awaited: bool) {
        let connection = self.heartbeat_connection();
        log_heartbeat_started(
            &self.shared.events.topology_id(),
            &self.address,
            awaited,
            connection,
        );
        self.emit(EventKind::HeartbeatStarted {
            address: self.address.clone(),
            awaited,
        });
    }

    /// The server's description as the core reads `reply` (once per reply: the stream
    /// steers by it and the cluster task applies it), stamped with the time it arrived.
    /// Boxed: it is held across awaits, and each of thousands of monitors' futures would
    /// otherwise carry its whole size.
    fn describe(&self, reply: &RawDocumentBuf) -> Box<ServerDescription> {
        let timing = CheckTiming::at(self.shared.now());
        Box::new(ServerDescription::from_hello(
            self.address.clone(),
            reply.as_ref(),
            timing,
        ))
    }

    async fn succeeded(
        &mut self,
        reply: RawDocumentBuf,
        description: Box<ServerDescription>,
        round_trip: Option<Duration>,
        duration: Duration,
        awaited: bool,
    ) {
        self.metrics.record(duration, true);
        let topology_id = self.shared.events.topology_id();
        let connection = self.heartbeat_connection();
        log_heartbeat_succeeded(
            &topology_id,
            &self.address,
            awaited,
            duration,
            &reply,
            connection,
        );
        // The reply as received goes to the event only, decoded if a subscriber reads it;
        // the report carries what the core read of it.
        if self.shared.events.has_subscribers() {
            self.emit(EventKind::HeartbeatSucceeded {
                address: self.address.clone(),
                duration,
                reply: HelloReply::from_raw(reply),
                awaited,
            });
        }
        let rtt_samples = self.rtt_samples.take();
        self.report(CheckOutcome::Hello {
            description,
            round_trip,
            rtt_samples,
        })
        .await;
    }

    async fn failed(&mut self, error: ConnectionError, duration: Duration, awaited: bool) {
        self.metrics.record(duration, false);
        let connection = self.heartbeat_connection();
        self.drop_connection();
        let failure = error.to_server_error_of(&self.address);
        let topology_id = self.shared.events.topology_id();
        log_heartbeat_failed(
            &topology_id,
            &self.address,
            awaited,
            duration,
            &failure,
            connection,
        );
        self.emit(EventKind::HeartbeatFailed {
            address: self.address.clone(),
            duration,
            failure: failure.clone(),
            awaited,
        });
        // The average restarts after a failure (the cluster task resets it): samples taken
        // before it are dropped with it.
        self.rtt_samples.take();
        self.report(CheckOutcome::Failed(failure)).await;
    }

    /// The connection of the check in progress (or, while a new one is being opened, the
    /// last one), for the heartbeat log messages.
    fn heartbeat_connection(&mut self) -> HeartbeatConnection {
        match &self.connection {
            Some(connection) => self.last_connection = connection.ids(),
            None => {
                // The check opens a connection: it gets this id, named from its start.
                let id = *self
                    .next_connection_id
                    .get_or_insert_with(reserve_connection_id);
                self.last_connection = HeartbeatConnection {
                    driver: Some(id),
                    server: None,
                };
            }
        }
        self.last_connection
    }

    fn drop_connection(&mut self) {
        self.connection = None;
        self.topology_version = None;
    }

    async fn report(&self, outcome: CheckOutcome) {
        let report = MonitorReport::Checked {
            address: self.address.clone(),
            monitor_id: self.id,
            outcome,
        };
        // An error means the cluster task is gone; `run` notices and returns.
        let _ = self.shared.reports.send(report).await;
    }

    fn emit(&self, kind: EventKind) {
        self.shared.events.emit(kind);
    }
}
