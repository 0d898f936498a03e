//! Support for the fault matrix (tests/reliability_faults.rs): the timings, the callers
//! that run commands while a fault is applied, the cells (fault × role × mode) and the
//! topology each cell must converge to once healed.
#![allow(dead_code)]

pub mod callers;
pub mod cell;
pub mod dns_cell;
pub mod faults;
pub mod tls_cell;

use std::time::Duration;

/// heartbeatFrequencyMS: the 500 ms minimum, so that failures and recoveries show quickly.
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// serverSelectionTimeoutMS.
pub const SELECTION_TIMEOUT: Duration = Duration::from_millis(800);
/// connectTimeoutMS (also the monitors' socket timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(700);
/// socketTimeoutMS for the callers' commands.
pub const SOCKET_TIMEOUT: Duration = Duration::from_millis(1_000);
/// Allowance for scheduling on a loaded machine, added to the per-call bounds.
pub const MARGIN: Duration = Duration::from_millis(1_000);
/// The longest a caller's call may take: select, connect, command, plus [`MARGIN`].
pub const CALL_BOUND: Duration = Duration::from_millis(
    SELECTION_TIMEOUT.as_millis() as u64
        + CONNECT_TIMEOUT.as_millis() as u64
        + SOCKET_TIMEOUT.as_millis() as u64
        + MARGIN.as_millis() as u64,
);
/// How long to wait for anything that should take milliseconds (only hit on failure).
pub const PATIENCE: Duration = Duration::from_secs(15);

/// `RELIABILITY_LONG=1` selects the long form (scripts/soak).
pub fn long_form() -> bool {
    std::env::var("RELIABILITY_LONG").is_ok_and(|v| v == "1")
}

/// How long each fault stays applied.
pub fn fault_window() -> Duration {
    if long_form() {
        Duration::from_secs(10)
    } else {
        Duration::from_millis(1_200)
    }
}

/// Callers per cell.
pub fn caller_count() -> usize {
    if long_form() {
        6
    } else {
        3
    }
}

/// How the monitors check servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// serverMonitoringMode=stream (awaitable hello, 4.4+).
    Stream,
    /// serverMonitoringMode=poll.
    Poll,
}

impl Mode {
    /// The URI option value.
    pub fn option(self) -> &'static str {
        match self {
            Mode::Stream => "stream",
            Mode::Poll => "poll",
        }
    }

    /// How soon after healing the view must have converged.
    pub fn convergence_bound(self) -> Duration {
        match self {
            Mode::Stream => Duration::from_secs(1),
            Mode::Poll => HEARTBEAT + Duration::from_secs(1),
        }
    }
}

/// Which members the fault is applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The replica set's primary.
    Primary,
    /// One secondary.
    Secondary,
    /// One of two mongos.
    Mongos,
    /// The primary and one secondary (a partition: only one secondary stays reachable).
    PrimaryAndSecondary,
    /// The SRV records of a `mongodb+srv` string (three mongos).
    Dns,
}

impl Role {
    /// The name printed in the cell's line.
    pub fn name(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
            Role::Mongos => "mongos",
            Role::PrimaryAndSecondary => "P+S",
            Role::Dns => "srv",
        }
    }
}

/// The URI options every cell uses.
pub fn options(mode: Mode) -> String {
    format!(
        "heartbeatFrequencyMS={}&serverSelectionTimeoutMS={}&connectTimeoutMS={}&socketTimeoutMS={}&serverMonitoringMode={}",
        HEARTBEAT.as_millis(),
        SELECTION_TIMEOUT.as_millis(),
        CONNECT_TIMEOUT.as_millis(),
        SOCKET_TIMEOUT.as_millis(),
        mode.option()
    )
}
