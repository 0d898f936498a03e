//! The recorder's writer: a thread of its own (file writes never run on the cluster's
//! runtime) that drains the queue into the file and rotates it at its size bound.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::recorder::format::{self, Clock, Header};
use crate::recorder::record::{RecordingError, RecordingSettings, Stamped};

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

/// How long written records may wait in the buffer while more keep coming: one write
/// system call per record would cost more than the recording itself.
const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// Starts the writer thread: it runs until every [`super::Recorder`] is dropped and the
/// queue is drained, flushing when the queue is empty and [`FLUSH_INTERVAL`] has passed
/// since the last flush, and at the end.
pub(crate) fn spawn(
    mut file: RotatingFile,
    mut queue: mpsc::Receiver<Stamped>,
    missed: Arc<AtomicU64>,
    clock: Clock,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("mongo-topology-recorder".to_owned())
        .spawn(move || {
            let mut failed = false;
            let mut write = |file: &mut RotatingFile, line: String| {
                if failed {
                    return;
                }
                if let Err(error) = file.write_line(&line) {
                    failed = true;
                    tracing::warn!(path = %file.path.display(), %error,
                        "the recording stops: its file cannot be written");
                }
            };
            let mut last_flush = std::time::Instant::now();
            while let Some(first) = queue.blocking_recv() {
                let mut next = Some(first);
                while let Some(stamped) = next {
                    let dropped = missed.swap(0, Ordering::Relaxed);
                    if dropped > 0 {
                        write(&mut file, format::missed_line(&clock, stamped.at, dropped));
                    }
                    write(&mut file, format::record_line(&clock, stamped));
                    next = queue.try_recv().ok();
                }
                if last_flush.elapsed() >= FLUSH_INTERVAL {
                    let _ = file.out.flush();
                    last_flush = std::time::Instant::now();
                }
            }
            let dropped = missed.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                write(
                    &mut file,
                    format::missed_line(&clock, Instant::now(), dropped),
                );
            }
            let _ = file.out.flush();
        })
}
