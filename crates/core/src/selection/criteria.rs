//! What an operation asks of selection ([`SelectionCriteria`]) and the client-level settings
//! selection depends on ([`SelectionSettings`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::sdam::ServerDescription;
use crate::selection::read_preference::ReadPreference;

/// `localThresholdMS` default (Server Selection spec, "localThresholdMS"): 15 ms.
pub const DEFAULT_LOCAL_THRESHOLD: Duration = Duration::from_millis(15);

/// `heartbeatFrequencyMS` default for multi-threaded clients (SDAM spec): 10 s.
pub const DEFAULT_HEARTBEAT_FREQUENCY: Duration = Duration::from_secs(10);

/// Client-level settings that selection reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelectionSettings {
    /// `localThresholdMS`: the width of the latency window.
    pub local_threshold: Duration,
    /// `heartbeatFrequencyMS`: used by staleness estimates and their validation.
    pub heartbeat_frequency: Duration,
}

impl Default for SelectionSettings {
    fn default() -> Self {
        SelectionSettings {
            local_threshold: DEFAULT_LOCAL_THRESHOLD,
            heartbeat_frequency: DEFAULT_HEARTBEAT_FREQUENCY,
        }
    }
}

/// An application-provided server filter (the spec's optional "serverSelector"), as a
/// predicate on one server.
///
/// It runs after the spec's rules (topology type, mode, max staleness, tag sets, and
/// deprioritization) have found the suitable servers and before the latency window is
/// applied, exactly where the spec places the application's selector: a server it rejects
/// is not suitable, and the latency window is anchored at the fastest server it accepts. It
/// never widens the spec's choice, and it does not change the fallback decisions of
/// primaryPreferred / secondaryPreferred. The predicate must be cheap and must not block:
/// it runs on every selection attempt.
#[derive(Clone)]
pub struct ServerFilter(Arc<dyn Fn(&ServerDescription) -> bool + Send + Sync>);

impl ServerFilter {
    /// Wraps `predicate`: it returns `true` for servers that stay suitable.
    pub fn new(predicate: impl Fn(&ServerDescription) -> bool + Send + Sync + 'static) -> Self {
        ServerFilter(Arc::new(predicate))
    }

    /// Whether `server` passes the filter.
    pub fn accepts(&self, server: &ServerDescription) -> bool {
        (self.0)(server)
    }
}

impl fmt::Debug for ServerFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerFilter(<application predicate>)")
    }
}

/// The kind of operation a server is selected for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A read, with its read preference.
    Read(ReadPreference),
    /// A write: only a primary (or mongos, standalone, load balancer) is suitable.
    Write,
}

/// Everything one selection asks for: the operation (with its read preference) and an
/// optional application filter.
#[derive(Clone, Debug)]
pub struct SelectionCriteria {
    operation: Operation,
    filter: Option<ServerFilter>,
}

impl SelectionCriteria {
    /// Criteria for a read with `read_preference`.
    pub fn read(read_preference: ReadPreference) -> Self {
        SelectionCriteria {
            operation: Operation::Read(read_preference),
            filter: None,
        }
    }

    /// Criteria for a write.
    pub fn write() -> Self {
        SelectionCriteria {
            operation: Operation::Write,
            filter: None,
        }
    }

    /// These criteria with an application filter applied after the spec's rules
    /// (see [`ServerFilter`]).
    pub fn with_filter(mut self, filter: ServerFilter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// The operation.
    pub fn operation(&self) -> &Operation {
        &self.operation
    }

    /// The read preference of a read; `None` for a write.
    pub fn read_preference(&self) -> Option<&ReadPreference> {
        match &self.operation {
            Operation::Read(read_preference) => Some(read_preference),
            Operation::Write => None,
        }
    }

    /// The application filter, if any.
    pub fn filter(&self) -> Option<&ServerFilter> {
        self.filter.as_ref()
    }
}

impl fmt::Display for SelectionCriteria {
    /// `read with mode secondary, tag sets [{dc: ny}]`, `write`, plus ` and an application
    /// filter` when one is set (the spec's "selector" log field).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.operation {
            Operation::Read(read_preference) => write!(f, "read with {read_preference}")?,
            Operation::Write => f.write_str("write")?,
        }
        if self.filter.is_some() {
            f.write_str(" and an application filter")?;
        }
        Ok(())
    }
}
