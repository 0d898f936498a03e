//! The flight recorder: what a cluster's client received, written to a file as it happens
//! (the format is documented in `docs/recording.md`).
//!
//! The cluster owns the [`Recorder`]; the monitors and the cluster task feed it through the
//! event emitter (hello replies, failed checks, SDAM events), the RTT monitor and the SRV
//! poller. Feeding it never blocks: records go through a bounded queue to a writer thread
//! (`writer.rs`), which turns them into lines (`format.rs`) and rotates the files; a record
//! that finds the queue full is dropped and counted, and the count is written as a
//! `records_missed` line. Secrets are stripped before anything is queued (`format.rs`).

mod format;
mod record;
#[cfg(test)]
mod tests;
mod writer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bson::Document;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::address::ServerAddress;
use crate::settings::cluster_settings::ClusterSettings;

pub(crate) use record::Record;
use record::Stamped;
pub use record::{
    RecordingError, RecordingSettings, DEFAULT_RECORDING_KEEP_FILES, DEFAULT_RECORDING_MAX_BYTES,
    RECORDING_FORMAT_VERSION,
};

/// How many records may wait for the writer before new ones are dropped (and counted).
const RECORD_QUEUE: usize = 8192;

/// The feeding side of a recording, shared by everything that reports to it.
#[derive(Clone, Debug)]
pub(crate) struct Recorder {
    queue: mpsc::Sender<Stamped>,
    missed: Arc<AtomicU64>,
}

impl Recorder {
    /// Opens the file, writes the header and starts the writer thread. `epoch` is the
    /// cluster's time zero (the records' monotonic offsets count from it).
    pub(crate) fn start(
        recording: &RecordingSettings,
        settings: &ClusterSettings,
        epoch: Instant,
    ) -> Result<Recorder, RecordingError> {
        if recording.max_bytes == 0 {
            return Err(RecordingError::Settings("max_bytes must be at least 1"));
        }
        // The wall-clock time of `epoch`, so that every record's two times agree.
        let now = SystemTime::now();
        let started_wall = now.checked_sub(epoch.elapsed()).unwrap_or(now);
        let header = format::Header::new(recording, settings, started_wall);
        let missed = Arc::new(AtomicU64::new(0));
        let (queue, receiver) = mpsc::channel(RECORD_QUEUE);
        let file = writer::RotatingFile::create(recording, header)?;
        writer::spawn(
            file,
            receiver,
            missed.clone(),
            format::Clock::new(epoch, started_wall),
        )
        .map_err(|source| RecordingError::Io {
            path: recording.path.clone(),
            source,
        })?;
        // The thread ends by itself once every `Recorder` is dropped and the queue drained.
        Ok(Recorder { queue, missed })
    }

    /// Queues `record`, stamped `at`; drops and counts it if the writer is behind.
    pub(crate) fn record(&self, at: Instant, record: Record) {
        if self.queue.try_send(Stamped { at, record }).is_err() {
            self.missed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues a hello reply, stripped of secrets.
    pub(crate) fn hello(
        &self,
        at: Instant,
        address: &ServerAddress,
        duration: Duration,
        reply: &Document,
        awaited: bool,
    ) {
        self.record(
            at,
            Record::Hello {
                address: address.clone(),
                duration,
                reply: format::without_secrets(reply),
                awaited,
            },
        );
    }
}
