//! What a timeline is made of: incidents, their stages and bounds, the lanes of a picture.

use crate::recording::read::RecordedSettings;

/// A stage of an incident, in the order they normally happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StageKind {
    /// The last check of the old primary that still reported it primary.
    LastGoodCheck,
    /// The first check of the old primary that failed after it.
    FirstFailedCheck,
    /// The old primary's own reply that it is no longer primary.
    StepDownReport,
    /// The client marks the old primary Unknown, secondary, or removes it.
    OldPrimaryDemoted,
    /// The client's view has no primary.
    NoPrimary,
    /// A server's check reports it the (new) primary.
    NewPrimaryReportsItself,
    /// The client's view shows that server as the primary.
    ClientShowsNewPrimary,
    /// The client's topology has a primary again: writes can be selected.
    SelectableForWrites,
}

impl StageKind {
    /// Every stage, in order.
    pub const ALL: [StageKind; 8] = [
        StageKind::LastGoodCheck,
        StageKind::FirstFailedCheck,
        StageKind::StepDownReport,
        StageKind::OldPrimaryDemoted,
        StageKind::NoPrimary,
        StageKind::NewPrimaryReportsItself,
        StageKind::ClientShowsNewPrimary,
        StageKind::SelectableForWrites,
    ];

    /// A stable id (snake case), as written in JSON.
    pub fn id(self) -> &'static str {
        match self {
            StageKind::LastGoodCheck => "last_good_check",
            StageKind::FirstFailedCheck => "first_failed_check",
            StageKind::StepDownReport => "step_down_report",
            StageKind::OldPrimaryDemoted => "old_primary_demoted",
            StageKind::NoPrimary => "no_primary",
            StageKind::NewPrimaryReportsItself => "new_primary_reports_itself",
            StageKind::ClientShowsNewPrimary => "client_shows_new_primary",
            StageKind::SelectableForWrites => "selectable_for_writes",
        }
    }

    /// A short title for people.
    pub fn title(self) -> &'static str {
        match self {
            StageKind::LastGoodCheck => "last good check of the old primary",
            StageKind::FirstFailedCheck => "first failed check",
            StageKind::StepDownReport => "step-down report",
            StageKind::OldPrimaryDemoted => "old primary Unknown / secondary",
            StageKind::NoPrimary => "no primary",
            StageKind::NewPrimaryReportsItself => "new primary reports itself",
            StageKind::ClientShowsNewPrimary => "client view shows it",
            StageKind::SelectableForWrites => "first server selectable for writes",
        }
    }
}

/// What bounds how long a stage takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Bound {
    /// The time between two checks of a server: heartbeatFrequencyMS.
    HeartbeatFrequency,
    /// The shortest time between two checks (requested ones): minHeartbeatFrequencyMS.
    MinHeartbeatFrequency,
    /// How long a monitor waits on a silent server: connectTimeoutMS (monitors use it as
    /// their socket timeout too).
    ConnectTimeout,
    /// How long an operation waits on a silent connection: socketTimeoutMS.
    SocketTimeout,
    /// How long an operation waits for a selectable server: serverSelectionTimeoutMS.
    ServerSelectionTimeout,
    /// The election among the servers (their `settings.electionTimeoutMillis`), not a
    /// client setting.
    Election,
    /// Nothing: the client applies it the moment it has the information.
    Immediate,
}

impl Bound {
    /// A stable id (snake case), as written in JSON.
    pub fn id(self) -> &'static str {
        match self {
            Bound::HeartbeatFrequency => "heartbeat_frequency",
            Bound::MinHeartbeatFrequency => "min_heartbeat_frequency",
            Bound::ConnectTimeout => "connect_timeout",
            Bound::SocketTimeout => "socket_timeout",
            Bound::ServerSelectionTimeout => "server_selection_timeout",
            Bound::Election => "election",
            Bound::Immediate => "immediate",
        }
    }

    /// The name of the client setting, or what it is when it is not one.
    pub fn name(self) -> &'static str {
        match self {
            Bound::HeartbeatFrequency => "heartbeatFrequencyMS",
            Bound::MinHeartbeatFrequency => "minHeartbeatFrequencyMS",
            Bound::ConnectTimeout => "connectTimeoutMS",
            Bound::SocketTimeout => "socketTimeoutMS",
            Bound::ServerSelectionTimeout => "serverSelectionTimeoutMS",
            Bound::Election => "the election",
            Bound::Immediate => "none (applied at once)",
        }
    }

    /// The setting's value in the recording's header (ms), `None` when it is not a client
    /// setting or was not set.
    pub fn value_ms(self, settings: &RecordedSettings) -> Option<u64> {
        match self {
            Bound::HeartbeatFrequency => settings.heartbeat_frequency_ms,
            Bound::MinHeartbeatFrequency => settings.min_heartbeat_frequency_ms,
            Bound::ConnectTimeout => settings.connect_timeout_ms,
            Bound::SocketTimeout => settings.socket_timeout_ms,
            Bound::ServerSelectionTimeout => settings.server_selection_timeout_ms,
            Bound::Election | Bound::Immediate => None,
        }
    }
}

/// One stage of an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// Which stage.
    pub kind: StageKind,
    /// When it happened (µs since the recording's start); `None`: it did not happen.
    pub at_us: Option<u64>,
    /// Time since the previous stage that happened (`None` for the first, and for one that
    /// did not happen).
    pub duration_us: Option<u64>,
    /// The server it is about, when there is one.
    pub address: Option<String>,
    /// What happened, or why it did not (may contain server-provided addresses: escape it
    /// before showing it).
    pub detail: String,
    /// What bounds its duration, the main bound first (empty for the first stage).
    pub bounds: Vec<Bound>,
    /// What to change to shorten it (empty when nothing on the client would).
    pub shorten: String,
}

impl Stage {
    /// Whether the stage happened within the recording.
    pub fn happened(&self) -> bool {
        self.at_us.is_some()
    }
}

/// One incident: the client lost its primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    /// The primary the client lost.
    pub old_primary: String,
    /// The primary it found next, if it did within the recording.
    pub new_primary: Option<String>,
    /// When the client's view lost the old primary.
    pub lost_at_us: u64,
    /// How long the client had no primary it could select for writes: from the loss to the
    /// new primary (or to the end of the recording when there is none).
    pub without_primary_us: u64,
    /// Every stage, in [`StageKind::ALL`] order, those that did not happen included.
    pub stages: Vec<Stage>,
}

impl Incident {
    /// The stage of that kind.
    pub fn stage(&self, kind: StageKind) -> Option<&Stage> {
        self.stages.iter().find(|stage| stage.kind == kind)
    }
}

/// A server's type over a span of time, in the client's view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeSpan {
    /// From (µs since the start).
    pub from_us: u64,
    /// To (µs since the start).
    pub to_us: u64,
    /// The server type's spec name (`RSPrimary`, `Unknown`, ...).
    pub server_type: String,
}

/// A failed check, for the picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedCheckMark {
    /// When it failed (µs since the start).
    pub at_us: u64,
    /// How long it ran.
    pub duration_us: u64,
    /// Its cause class.
    pub cause: String,
}

/// One server's lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    /// The server.
    pub address: String,
    /// Its types over time, in order.
    pub spans: Vec<TypeSpan>,
    /// Its failed checks, in order.
    pub failed_checks: Vec<FailedCheckMark>,
}

/// A recording's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// The recording's settings.
    pub settings: RecordedSettings,
    /// Wall-clock µs since the Unix epoch at time zero, when known.
    pub started_wall_us: Option<u64>,
    /// The time of the last record.
    pub end_us: u64,
    /// One lane per server, in order of first appearance.
    pub lanes: Vec<Lane>,
    /// The incidents, in order.
    pub incidents: Vec<Incident>,
}

/// A duration for people: `850 ms`, `12.3 s`.
pub fn human_duration(micros: u64) -> String {
    if micros < 1_000 {
        format!("{micros} µs")
    } else if micros < 10_000_000 {
        // Rounded to whole ms below 10 s.
        let millis = (micros + 500) / 1_000;
        if millis < 1_000 {
            format!("{millis} ms")
        } else {
            format!("{}.{:03} s", millis / 1_000, millis % 1_000)
        }
    } else {
        let tenths = (micros + 50_000) / 100_000;
        format!("{}.{} s", tenths / 10, tenths % 10)
    }
}
