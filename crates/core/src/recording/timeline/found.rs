//! A stage as found in a recording, before its duration is known, and the advice texts
//! shared by several stages.

use crate::recording::timeline::model::{Bound, StageKind};

/// A stage found (or not), before durations are filled in.
pub(super) struct Found {
    pub(super) kind: StageKind,
    /// The index of its record.
    pub(super) at: Option<usize>,
    pub(super) address: Option<String>,
    pub(super) detail: String,
    pub(super) bounds: Vec<Bound>,
    pub(super) shorten: String,
}

impl Found {
    /// A stage at the record `at` (`None`: it did not happen), about `address`.
    pub(super) fn new(kind: StageKind, at: Option<usize>, address: Option<&str>) -> Found {
        Found {
            kind,
            at,
            address: address.map(str::to_owned),
            detail: String::new(),
            bounds: Vec::new(),
            shorten: String::new(),
        }
    }

    /// With what happened (or why not), its bounds and how to shorten it.
    pub(super) fn said(mut self, detail: String, bounds: Vec<Bound>, shorten: &str) -> Found {
        self.detail = detail;
        self.bounds = bounds;
        self.shorten = shorten.to_owned();
        self
    }
}

/// The advice when a step-down or a failure was heard at a poll.
pub(super) const STREAM_OR_POLL_FASTER: &str =
    "use streaming monitoring (serverMonitoringMode=stream, \
     servers 4.4+) to hear of it at once; when polling, lower heartbeatFrequencyMS";

/// The advice on the election's stage.
pub(super) const ELECTION: &str =
    "on the servers: the replica set's settings.electionTimeoutMillis \
     (10 s by default) and catchUpTimeoutMillis; on the client: streaming monitoring hears \
     the new primary at once, polling at the next check";
