//! The one way `watch` writes to stdout: a dedicated thread fed through a bounded queue, so
//! that a reader that stops reading (a full pipe, a terminal paused with Ctrl-S) blocks only
//! that thread, never the watch. Signals, `--duration` and `q` are handled as usual, and
//! shutdown waits for the queued output at most [`FLUSH_GRACE`].
//!
//! When the queue is full, a chunk is dropped instead of waiting: the views count the
//! dropped events and report them as `events_missed`, the same notion as the engine's own
//! lagged events.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

/// How many chunks (lines, or frames of the terminal view) may wait for the writer, at
/// least: see [`queue_chunks_for_seeds`].
pub const QUEUE_CHUNKS: usize = 256;
/// Lines per seed the queue holds beyond [`QUEUE_CHUNKS`]: discovery prints about three per
/// server in one burst (server_opening, server_description_changed,
/// topology_description_changed), faster than one write per line keeps up with on a busy
/// machine (at 2,000 mongos the fixed 256 dropped ~500 lines).
pub const QUEUE_CHUNKS_PER_SEED: usize = 4;
/// The most bytes the writer gathers into one write.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// The queue's size for a connection string with `seeds` seeds: [`QUEUE_CHUNKS`], or
/// [`QUEUE_CHUNKS_PER_SEED`] per seed when that is more, so that the burst of a large
/// fleet's discovery fits whole while a stalled reader still bounds what waits.
pub fn queue_chunks_for_seeds(seeds: usize) -> usize {
    seeds
        .saturating_mul(QUEUE_CHUNKS_PER_SEED)
        .max(QUEUE_CHUNKS)
}
/// How long shutdown waits for the queued output to be written before exiting anyway.
pub const FLUSH_GRACE: Duration = Duration::from_secs(1);

/// How often [`OutputQueue::send_patiently`] retries a full queue.
const PATIENT_RETRY: Duration = Duration::from_millis(10);

/// What became of a chunk handed to the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Queued: it will be written.
    Queued,
    /// The queue was full (the reader is not keeping up): the chunk was dropped.
    Dropped,
    /// The writer has stopped (the reader has gone, or writing failed).
    Closed,
}

/// The sending side of the writer; clones share the same queue.
#[derive(Clone, Debug)]
pub struct OutputQueue {
    sender: SyncSender<Vec<u8>>,
}

impl OutputQueue {
    /// Queues `chunk` without waiting.
    pub fn send(&self, chunk: Vec<u8>) -> Sent {
        match self.sender.try_send(chunk) {
            Ok(()) => Sent::Queued,
            Err(TrySendError::Full(_)) => Sent::Dropped,
            Err(TrySendError::Disconnected(_)) => Sent::Closed,
        }
    }

    /// Queues `chunk`, retrying while the queue is full for at most `grace` (for the few
    /// bytes that restore the terminal).
    pub fn send_patiently(&self, mut chunk: Vec<u8>, grace: Duration) -> Sent {
        let deadline = std::time::Instant::now() + grace;
        loop {
            match self.sender.try_send(chunk) {
                Ok(()) => return Sent::Queued,
                Err(TrySendError::Full(back)) if std::time::Instant::now() < deadline => {
                    chunk = back;
                    std::thread::sleep(PATIENT_RETRY);
                }
                Err(TrySendError::Full(_)) => return Sent::Dropped,
                Err(TrySendError::Disconnected(_)) => return Sent::Closed,
            }
        }
    }
}

/// The writer thread and its queue.
#[derive(Debug)]
pub struct Output {
    queue: OutputQueue,
    /// Receives one message (or a disconnection) when the writer thread ends.
    finished: Receiver<()>,
}

impl Output {
    /// Starts the writer on a duplicate of stdout's descriptor (std's `Stdout` and its
    /// lock are never used, so nothing else can end up waiting on a blocked write), with a
    /// queue of `queue_chunks` chunks (see [`queue_chunks_for_seeds`]).
    pub fn start(queue_chunks: usize) -> io::Result<Output> {
        let stdout = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        let (sender, chunks) = mpsc::sync_channel::<Vec<u8>>(queue_chunks.max(1));
        let (done, finished) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("watch-output".to_string())
            .spawn(move || {
                write_chunks(stdout, &chunks);
                let _ = done.send(());
            })?;
        Ok(Output {
            queue: OutputQueue { sender },
            finished,
        })
    }

    /// A sender for this writer (the terminal view keeps one in its backend).
    pub fn queue(&self) -> OutputQueue {
        self.queue.clone()
    }

    /// Queues `chunk` without waiting.
    pub fn send(&self, chunk: Vec<u8>) -> Sent {
        self.queue.send(chunk)
    }

    /// Lets the writer write what is queued, waiting at most `grace`: a reader that stalled
    /// cannot hold the exit. Every [`OutputQueue`] clone must have been dropped before, or
    /// this waits the whole `grace`.
    pub fn finish(self, grace: Duration) {
        let Output { queue, finished } = self;
        drop(queue);
        let _ = finished.recv_timeout(grace);
    }
}

/// Writes the chunks as they come, until every sender is gone or a write fails (the
/// reader closed the pipe: the watch notices through [`Sent::Closed`]). Chunks already
/// waiting are gathered into one write (up to [`WRITE_BATCH_BYTES`]), so that a burst
/// costs few system calls; a chunk is never split or held back for later ones.
fn write_chunks(mut stdout: File, chunks: &Receiver<Vec<u8>>) {
    for mut batch in chunks {
        while batch.len() < WRITE_BATCH_BYTES {
            match chunks.try_recv() {
                Ok(chunk) => batch.extend_from_slice(&chunk),
                Err(_) => break,
            }
        }
        if let Err(error) = stdout.write_all(&batch) {
            if error.kind() != io::ErrorKind::BrokenPipe {
                tracing::warn!(%error, "watch: cannot write the output");
            }
            return;
        }
    }
}

/// A [`Write`] for the terminal view's backend: bytes are gathered until `flush`, which
/// queues them as one chunk (one frame). A frame dropped because the queue was full is
/// remembered in the shared [`LostFrame`] flag, so that the view redraws in full next time.
#[derive(Debug)]
pub struct FrameWriter {
    queue: OutputQueue,
    frame: Vec<u8>,
    lost_frame: LostFrame,
}

/// Set when a [`FrameWriter`] dropped a frame; shared with whoever draws through it.
#[derive(Clone, Debug, Default)]
pub struct LostFrame(Arc<AtomicBool>);

impl LostFrame {
    /// Whether a frame was dropped since the last call (and forgets it).
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl FrameWriter {
    /// A writer into `queue` that sets `lost_frame` when it drops a frame.
    pub fn new(queue: OutputQueue, lost_frame: LostFrame) -> FrameWriter {
        FrameWriter {
            queue,
            frame: Vec::new(),
            lost_frame,
        }
    }
}

impl Write for FrameWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.frame.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.frame.is_empty() {
            return Ok(());
        }
        match self.queue.send(std::mem::take(&mut self.frame)) {
            Sent::Queued => Ok(()),
            Sent::Dropped => {
                self.lost_frame.set();
                Ok(())
            }
            Sent::Closed => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_of(capacity: usize) -> (OutputQueue, Receiver<Vec<u8>>) {
        let (sender, receiver) = mpsc::sync_channel(capacity);
        (OutputQueue { sender }, receiver)
    }

    #[test]
    fn a_full_queue_drops_instead_of_waiting_and_a_gone_writer_is_closed() {
        let (queue, receiver) = queue_of(1);
        assert_eq!(queue.send(b"one\n".to_vec()), Sent::Queued);
        assert_eq!(queue.send(b"two\n".to_vec()), Sent::Dropped);
        assert_eq!(receiver.recv().ok(), Some(b"one\n".to_vec()));
        drop(receiver);
        assert_eq!(queue.send(b"three\n".to_vec()), Sent::Closed);
        assert_eq!(
            queue.send_patiently(b"four\n".to_vec(), FLUSH_GRACE),
            Sent::Closed
        );
    }

    #[test]
    fn the_queue_holds_four_lines_per_seed_beyond_256() {
        assert_eq!(queue_chunks_for_seeds(1), QUEUE_CHUNKS);
        assert_eq!(queue_chunks_for_seeds(64), 256);
        assert_eq!(queue_chunks_for_seeds(2_000), 8_000);
        assert_eq!(queue_chunks_for_seeds(usize::MAX), usize::MAX);
    }

    #[test]
    fn a_patient_send_gives_up_after_its_grace() {
        let (queue, _receiver) = queue_of(1);
        assert_eq!(queue.send(b"one\n".to_vec()), Sent::Queued);
        let started = std::time::Instant::now();
        let grace = Duration::from_millis(50);
        assert_eq!(
            queue.send_patiently(b"two\n".to_vec(), grace),
            Sent::Dropped
        );
        assert!(started.elapsed() >= grace);
    }

    #[test]
    fn a_frame_is_one_chunk_and_a_dropped_frame_is_remembered_once() {
        let (queue, receiver) = queue_of(1);
        let lost = LostFrame::default();
        let mut writer = FrameWriter::new(queue, lost.clone());
        writer.write_all(b"ab").unwrap();
        writer.write_all(b"cd").unwrap();
        writer.flush().unwrap();
        assert_eq!(receiver.try_recv().ok(), Some(b"abcd".to_vec()));
        writer.write_all(b"e").unwrap();
        writer.flush().unwrap();
        writer.write_all(b"f").unwrap();
        writer.flush().unwrap();
        assert!(lost.take());
        assert!(!lost.take());
        drop(receiver);
        writer.write_all(b"g").unwrap();
        assert_eq!(
            writer.flush().map_err(|error| error.kind()),
            Err(io::ErrorKind::BrokenPipe)
        );
    }
}
