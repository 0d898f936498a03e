//! Reading the exporter's configuration file without stalling its monitors: every read
//! runs on a blocking thread (the exporter's runtime has one thread, shared by every
//! monitor), gives up waiting after [`READ_TIMEOUT`], and no new read starts while one
//! that gave up is still stuck (a file on a hung network filesystem, a FIFO without a
//! writer): one stuck thread at most, not one per poll.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::task::AbortHandle;

use super::config::{self, DeploymentConfig};
use crate::cli::untrusted::{display_untrusted, LINE_CHARS};

/// How long a read of the configuration may take before the exporter stops waiting for it.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The configuration file, and the read of it that outlived [`READ_TIMEOUT`], if any.
pub(super) struct ConfigFile {
    path: PathBuf,
    stuck: Option<AbortHandle>,
}

/// No read happened: an earlier one is still stuck, or this one just outlived its timeout.
#[derive(Debug)]
pub(super) struct Stuck;

/// What a reload reads: the file's bytes (`None`: unreadable) and what they configure.
pub(super) type Loaded = (Option<Vec<u8>>, Result<Vec<DeploymentConfig>, String>);

impl ConfigFile {
    pub(super) fn new(path: &Path) -> ConfigFile {
        ConfigFile {
            path: path.to_path_buf(),
            stuck: None,
        }
    }

    /// The file's bytes, `None` when it cannot be read.
    pub(super) async fn contents(&mut self) -> Result<Option<Vec<u8>>, Stuck> {
        let path = self.path.clone();
        self.off_thread(move || std::fs::read(path).ok()).await
    }

    /// The file's bytes and the deployments they configure, from one read.
    pub(super) async fn load(&mut self) -> Result<Loaded, Stuck> {
        let path = self.path.clone();
        self.off_thread(move || match std::fs::read(&path) {
            Ok(bytes) => {
                let deployments = config::from_bytes(&path, &bytes);
                (Some(bytes), deployments)
            }
            Err(error) => (
                None,
                Err(format!("cannot read {}: {error}", path.display())),
            ),
        })
        .await
    }

    async fn off_thread<T: Send + 'static>(
        &mut self,
        read: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Stuck> {
        if let Some(stuck) = &self.stuck {
            if !stuck.is_finished() {
                return Err(Stuck);
            }
            self.stuck = None;
        }
        let mut reading = tokio::task::spawn_blocking(read);
        match tokio::time::timeout(READ_TIMEOUT, &mut reading).await {
            Ok(Ok(value)) => Ok(value),
            // The read panicked: nothing was read.
            Ok(Err(_)) => Err(Stuck),
            Err(_) => {
                eprintln!(
                    "error: reading {} has taken over {} s; the running deployments go on, \
                     and the file is read again once that read ends",
                    display_untrusted(&self.path.display().to_string(), LINE_CHARS),
                    READ_TIMEOUT.as_secs()
                );
                self.stuck = Some(reading.abort_handle());
                Err(Stuck)
            }
        }
    }
}
