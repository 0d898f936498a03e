//! What a recording is made of: its settings, its errors, and the records queued for its
//! writer (shared by `mod.rs`, `format.rs` and `writer.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bson::Document;
use tokio::time::Instant;

use crate::address::ServerAddress;
use crate::sdam::{SdamEvent, ServerError};

/// The version of the recording format written (the header's `version`).
pub const RECORDING_FORMAT_VERSION: u32 = 1;

/// The default size at which a recording file is rotated: 64 MiB.
pub const DEFAULT_RECORDING_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The default number of files kept (`FILE`, `FILE.1`, … `FILE.3`).
pub const DEFAULT_RECORDING_KEEP_FILES: usize = 4;

/// Where and how a cluster records what it receives (see [`crate::Cluster::with_recording`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingSettings {
    /// The file written; older parts are `FILE.1`, `FILE.2`, … (`FILE.1` the most recent).
    pub path: PathBuf,
    /// The size past which the file is rotated (a file always holds its header and at
    /// least one record).
    pub max_bytes: u64,
    /// How many files are kept, the current one included (at least 1; with 1 the file is
    /// started over when full).
    pub keep_files: usize,
    /// The connection string, written to the header with its secrets (password, secret
    /// options) redacted; `None` writes none.
    pub connection_string: Option<String>,
}

impl RecordingSettings {
    /// Recording to `path` with the default size bound and number of files.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        RecordingSettings {
            path: path.into(),
            max_bytes: DEFAULT_RECORDING_MAX_BYTES,
            keep_files: DEFAULT_RECORDING_KEEP_FILES,
            connection_string: None,
        }
    }
}

/// Why a recording could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    /// The recording file could not be created or written.
    #[error("cannot write the recording file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The settings are unusable (e.g. `max_bytes` of 0).
    #[error("invalid recording settings: {0}")]
    Settings(&'static str),
}

/// One thing the client received or decided, as queued for the writer.
#[derive(Debug)]
pub(crate) enum Record {
    /// A monitor's check succeeded (the reply already stripped of secrets).
    Hello {
        address: ServerAddress,
        duration: Duration,
        reply: Arc<Document>,
        awaited: bool,
    },
    /// A monitor's check failed.
    CheckFailed {
        address: ServerAddress,
        duration: Duration,
        failure: ServerError,
        awaited: bool,
    },
    /// An RTT monitor's sample.
    RoundTrip {
        address: ServerAddress,
        sample: Duration,
    },
    /// The hosts an SRV rescan found.
    SrvHosts { hosts: Vec<ServerAddress> },
    /// An SDAM event the core decided.
    Sdam(SdamEvent),
}

/// A record with the time it happened.
#[derive(Debug)]
pub(crate) struct Stamped {
    pub(crate) at: Instant,
    pub(crate) record: Record,
}
