//! The recorder's writer: a thread of its own (file writes never run on the cluster's
//! runtime) that empties the queue into the file in batches and rotates the file at its
//! size bound.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::recorder::format::{self, Clock, Header};
use crate::recorder::queue::{Queued, RecordQueue};
use crate::recorder::record::{RecordingError, RecordingSettings};

/// The current file of a recording and the older parts beside it.
pub(crate) struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep_files: usize,
    header: Header,
    /// Which part of the recording the current file is (0 for the first).
    part: u64,
    written: u64,
    /// Whether the current file holds a record (a file is never rotated before its first).
    has_record: bool,
    out: BufWriter<File>,
}

impl RotatingFile {
    /// Creates (or truncates) the file and writes the header.
    pub(crate) fn create(
        recording: &RecordingSettings,
        header: Header,
    ) -> Result<RotatingFile, RecordingError> {
        let io_error = |source| RecordingError::Io {
            path: recording.path.clone(),
            source,
        };
        let out = open(&recording.path).map_err(io_error)?;
        let mut file = RotatingFile {
            path: recording.path.clone(),
            max_bytes: recording.max_bytes,
            keep_files: recording.keep_files.max(1),
            header,
            part: 0,
            written: 0,
            has_record: false,
            out,
        };
        file.write_header().map_err(io_error)?;
        file.out.flush().map_err(io_error)?;
        Ok(file)
    }

    fn write_header(&mut self) -> std::io::Result<()> {
        let line = self.header.line(self.part);
        self.write_raw(&line)
    }

    fn write_raw(&mut self, line: &str) -> std::io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.written = self
            .written
            .saturating_add(u64::try_from(line.len()).unwrap_or(u64::MAX) + 1);
        Ok(())
    }

    /// Writes one record line, rotating first if it would take the file past its bound.
    fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        let size = u64::try_from(line.len()).unwrap_or(u64::MAX) + 1;
        if self.has_record && self.written.saturating_add(size) > self.max_bytes {
            self.rotate()?;
        }
        self.write_raw(line)?;
        self.has_record = true;
        Ok(())
    }

    /// `FILE.(n-1)` is dropped, `FILE.i` becomes `FILE.(i+1)`, `FILE` becomes `FILE.1`, and
    /// a new `FILE` starts with its header.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        if self.keep_files > 1 {
            let oldest = numbered(&self.path, self.keep_files - 1);
            match std::fs::remove_file(&oldest) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
            for index in (1..self.keep_files - 1).rev() {
                let from = numbered(&self.path, index);
                if from.exists() {
                    std::fs::rename(&from, numbered(&self.path, index + 1))?;
                }
            }
            std::fs::rename(&self.path, numbered(&self.path, 1))?;
        }
        self.out = open(&self.path)?;
        self.part += 1;
        self.written = 0;
        self.has_record = false;
        self.write_header()
    }
}

/// `FILE.index`.
fn numbered(path: &Path, index: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{index}"));
    PathBuf::from(name)
}

/// Creates or truncates `path`, readable by its owner only (a recording shows a
/// deployment's layout).
fn open(path: &Path) -> std::io::Result<BufWriter<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    Ok(BufWriter::with_capacity(64 * 1024, file))
}

/// Starts the writer thread: it takes what is queued in batches (see `queue.rs` for when
/// it wakes), writes it, flushes the file after each batch that wrote something, answers
/// the flush requests of the batch, and stops after the batch taken once the last feeder
/// is gone.
pub(crate) fn spawn(
    mut file: RotatingFile,
    queue: Arc<RecordQueue>,
    clock: Clock,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("mongo-topology-recorder".to_owned())
        .spawn(move || {
            let mut failed = false;
            loop {
                let batch = queue.take();
                if !failed && !batch.items.is_empty() {
                    if let Err(error) = write_batch(&mut file, &clock, batch.items) {
                        failed = true;
                        tracing::warn!(path = %file.path.display(), %error,
                            "the recording stops: its file cannot be written");
                    }
                }
                for done in batch.flushed {
                    let _ = done.send(());
                }
                if batch.last {
                    return;
                }
            }
        })
}

fn write_batch(file: &mut RotatingFile, clock: &Clock, items: Vec<Queued>) -> std::io::Result<()> {
    for item in items {
        let line = match item {
            Queued::Record(stamped) => format::record_line(clock, stamped),
            Queued::Missed { at, count } => format::missed_line(clock, at, count),
        };
        file.write_line(&line)?;
    }
    file.out.flush()
}
