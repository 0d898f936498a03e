//! The flight recorder: what a cluster's client received, written to a file as it happens
//! (the format is documented in `docs/recording.md`).
//!
//! The cluster owns the [`Recorder`]; the monitors and the cluster task feed it through the
//! event emitter (hello replies, failed checks, SDAM events), the RTT monitor and the SRV
//! poller. Feeding it never blocks: records go through a bounded queue (`queue.rs`) to a
//! writer thread (`writer.rs`), which takes them in batches, turns them into lines
//! (`format.rs`) and rotates the files; a record that finds the queue full is dropped and
//! counted, and the count is written as a `records_missed` line. Secrets are stripped before
//! anything is queued (`format.rs`). The cluster asks for a flush when it closes, so that a
//! closed cluster's recording is complete on disk.

mod format;
mod queue;
mod record;
mod relaxed;
#[cfg(test)]
mod tests;
mod writer;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bson::Document;
use tokio::sync::oneshot;
use tokio::time::Instant;

use queue::RecordQueue;

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
    feeder: Arc<Feeder>,
}

/// Tells the writer to stop once the last [`Recorder`] is dropped.
#[derive(Debug)]
struct Feeder {
    queue: Arc<RecordQueue>,
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.queue.close();
    }
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
        let queue = Arc::new(RecordQueue::new(RECORD_QUEUE));
        let file = writer::RotatingFile::create(recording, header)?;
        writer::spawn(file, queue.clone(), format::Clock::new(epoch, started_wall)).map_err(
            |source| RecordingError::Io {
                path: recording.path.clone(),
                source,
            },
        )?;
        // The thread ends by itself once every `Recorder` is dropped and the queue drained.
        Ok(Recorder {
            feeder: Arc::new(Feeder { queue }),
        })
    }

    /// Queues `record`, stamped `at`; drops and counts it if the writer is behind.
    pub(crate) fn record(&self, at: Instant, record: Record) {
        self.feeder.queue.push(Stamped { at, record });
    }

    /// Returns once everything queued before the call is written and flushed to the file
    /// (or the writer has stopped).
    pub(crate) async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        self.feeder.queue.request_flush(done);
        // An error only means the writer thread is gone: nothing more will be written.
        let _ = flushed.await;
    }

    /// Queues a hello reply, stripped of secrets.
    pub(crate) fn hello(
        &self,
        at: Instant,
        address: &ServerAddress,
        duration: Duration,
        reply: &Arc<Document>,
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
