//! What `watch` reports: the engine's events turned into [`Record`]s, each stamped with its
//! wall-clock time and the time since the watch started, plus the one record the engine does
//! not emit itself, [`What::PrimaryChanged`], with how long the client took to show a new
//! primary after that server first reported itself primary.
//!
//! Pure: events in, records out; no clock is read (every time comes from the events).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use bson::oid::ObjectId;
use bson::Document;
use mongo_topology::sdam::{RemovalReason, SdamEvent, ServerType, TopologyType};
use mongo_topology::{ClusterEvent, EventKind, ServerAddress};
use tokio::time::Instant;

pub mod changes;

use changes::Change;

/// One line of the watch: when, and what happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Wall-clock time of the event.
    pub ts: SystemTime,
    /// Time from the start of the watch to the event.
    pub elapsed: Duration,
    /// What happened.
    pub what: What,
}

/// A server's last error, for people: its cause class and message.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorText {
    /// The cause class (`DNS`, `connect`, `timeout`, ...).
    pub cause: String,
    /// The message.
    pub message: String,
}

/// What a [`Record`] reports. The variant names, in snake case, are the NDJSON `event`
/// values.
#[derive(Clone, Debug, PartialEq)]
pub enum What {
    /// The client started.
    TopologyOpening,
    /// A server entered the description.
    ServerOpening {
        /// The server.
        address: ServerAddress,
    },
    /// A server's description changed (SDAM's equality: RTT changes alone do not count).
    ServerDescriptionChanged {
        /// The server.
        address: ServerAddress,
        /// Its type before.
        previous_type: ServerType,
        /// Its type now.
        new_type: ServerType,
        /// Its error now, if it is Unknown because of one.
        error: Option<ErrorText>,
        /// The fields that changed (see [`changes::changes`]).
        changes: Vec<Change>,
    },
    /// The topology description changed.
    TopologyDescriptionChanged {
        /// The topology type before.
        previous_type: TopologyType,
        /// The topology type now.
        new_type: TopologyType,
        /// The primary now.
        primary: Option<ServerAddress>,
    },
    /// The client's view shows another primary (or none, or one after none).
    PrimaryChanged {
        /// The primary before.
        from: Option<ServerAddress>,
        /// The primary now.
        to: Option<ServerAddress>,
        /// From the first successful check in which `to` reported itself primary (with its
        /// current electionId) to this change of the client's view; `None` when no such
        /// check was seen (no new primary, or its report predates the watch).
        after_election: Option<Duration>,
        /// How long the client's view had no primary before `to`: from the change that
        /// lost the previous primary to this one; `None` when `to` is none or no primary
        /// was lost before (first discovery).
        without_primary: Option<Duration>,
    },
    /// A check of a server failed.
    HeartbeatFailed {
        /// The server.
        address: ServerAddress,
        /// How long the check ran.
        duration: Duration,
        /// Whether it was an awaited (streaming) check.
        awaited: bool,
        /// Why it failed.
        error: ErrorText,
    },
    /// A server left the description.
    ServerClosed {
        /// The server.
        address: ServerAddress,
        /// Why the client removed it.
        reason: RemovalReason,
    },
    /// The client stopped.
    TopologyClosed,
    /// The watch fell behind the engine and lost this many events.
    EventsMissed {
        /// How many.
        count: u64,
    },
}

impl What {
    /// The NDJSON `event` name.
    pub fn name(&self) -> &'static str {
        match self {
            What::TopologyOpening => "topology_opening",
            What::ServerOpening { .. } => "server_opening",
            What::ServerDescriptionChanged { .. } => "server_description_changed",
            What::TopologyDescriptionChanged { .. } => "topology_description_changed",
            What::PrimaryChanged { .. } => "primary_changed",
            What::HeartbeatFailed { .. } => "heartbeat_failed",
            What::ServerClosed { .. } => "server_closed",
            What::TopologyClosed => "topology_closed",
            What::EventsMissed { .. } => "events_missed",
        }
    }
}

/// When a server began reporting itself primary, under which electionId.
#[derive(Clone, Copy, Debug)]
struct PrimaryReport {
    election_id: Option<ObjectId>,
    since: Instant,
}

/// Turns events into records; remembers the primary and each server's primary reports.
#[derive(Debug)]
pub struct Timeline {
    started: Instant,
    started_wall: SystemTime,
    primary: Option<ServerAddress>,
    /// When the view last lost its primary, while it has none.
    primary_lost_at: Option<Instant>,
    reports: HashMap<ServerAddress, PrimaryReport>,
}

impl Timeline {
    /// A timeline whose elapsed times count from `started`, which was wall-clock time
    /// `started_wall`.
    pub fn new(started: Instant, started_wall: SystemTime) -> Timeline {
        Timeline {
            started,
            started_wall,
            primary: None,
            primary_lost_at: None,
            reports: HashMap::new(),
        }
    }

    /// A record of `what` at `at`.
    pub fn record(&self, at: Instant, what: What) -> Record {
        let elapsed = at.saturating_duration_since(self.started);
        Record {
            ts: self.started_wall + elapsed,
            elapsed,
            what,
        }
    }

    /// The records `event` makes (none for the events `watch` does not show).
    pub fn on_event(&mut self, event: &ClusterEvent) -> Vec<Record> {
        let at = event.at;
        match &event.kind {
            EventKind::HeartbeatSucceeded { address, reply, .. } => {
                self.note_reply(address, reply.document(), at);
                Vec::new()
            }
            EventKind::HeartbeatFailed {
                address,
                duration,
                failure,
                awaited,
            } => {
                self.reports.remove(address);
                vec![self.record(
                    at,
                    What::HeartbeatFailed {
                        address: address.clone(),
                        duration: *duration,
                        awaited: *awaited,
                        error: ErrorText {
                            cause: failure.kind.describe().to_string(),
                            message: failure.message.clone(),
                        },
                    },
                )]
            }
            EventKind::Sdam(sdam) => self.on_sdam(sdam, at),
            _ => Vec::new(),
        }
    }

    /// A successful check: remembers when the server began reporting itself primary.
    fn note_reply(&mut self, address: &ServerAddress, reply: &Document, at: Instant) {
        let says_primary = reply
            .get_bool("isWritablePrimary")
            .or_else(|_| reply.get_bool("ismaster"))
            .unwrap_or(false);
        if !says_primary {
            self.reports.remove(address);
            return;
        }
        let election_id = reply.get_object_id("electionId").ok();
        let known = self
            .reports
            .get(address)
            .is_some_and(|report| report.election_id == election_id);
        if !known {
            self.reports.insert(
                address.clone(),
                PrimaryReport {
                    election_id,
                    since: at,
                },
            );
        }
    }

    fn on_sdam(&mut self, event: &SdamEvent, at: Instant) -> Vec<Record> {
        let what = match event {
            SdamEvent::TopologyOpening => What::TopologyOpening,
            SdamEvent::ServerOpening { address } => What::ServerOpening {
                address: address.clone(),
            },
            SdamEvent::ServerDescriptionChanged {
                address,
                previous,
                new,
            } => What::ServerDescriptionChanged {
                address: address.clone(),
                previous_type: previous.server_type,
                new_type: new.server_type,
                error: new.error.as_ref().map(|error| ErrorText {
                    cause: error.kind.describe().to_string(),
                    message: error.message.clone(),
                }),
                changes: changes::changes(previous, new),
            },
            SdamEvent::TopologyDescriptionChanged { previous, new } => {
                let primary = new.primary().map(|server| server.address.clone());
                let mut records = vec![self.record(
                    at,
                    What::TopologyDescriptionChanged {
                        previous_type: previous.topology_type,
                        new_type: new.topology_type,
                        primary: primary.clone(),
                    },
                )];
                // A closed client's empty description is no change of primary.
                if primary != self.primary && !new.servers.is_empty() {
                    let after_election = primary
                        .as_ref()
                        .and_then(|to| self.reports.get(to))
                        .map(|report| at.saturating_duration_since(report.since));
                    let without_primary = match &primary {
                        Some(_) => self
                            .primary_lost_at
                            .take()
                            .map(|lost| at.saturating_duration_since(lost)),
                        None => {
                            self.primary_lost_at = Some(at);
                            None
                        }
                    };
                    let from = std::mem::replace(&mut self.primary, primary.clone());
                    records.push(self.record(
                        at,
                        What::PrimaryChanged {
                            from,
                            to: primary,
                            after_election,
                            without_primary,
                        },
                    ));
                }
                return records;
            }
            SdamEvent::ServerClosed { address, reason } => What::ServerClosed {
                address: address.clone(),
                reason: reason.clone(),
            },
            SdamEvent::TopologyClosed => What::TopologyClosed,
            _ => return Vec::new(),
        };
        vec![self.record(at, what)]
    }
}
