//! `sim --replay`: serves a recording made by the engine's flight recorder (`watch --record`,
//! `docs/recording.md`) on loopback, so that a client re-lives what the recording client saw.
//!
//! One node per recorded address, each on a loopback port of its own; every hello reply is
//! rewritten so that host lists (`hosts`, `passives`, `arbiters`, `primary`, `me`) name the
//! mapped ports. A node answers hello with the reply its server gave at the same time of the
//! recording (scaled by the speed), closes the connection while the recording shows the
//! server's checks failing, and answers `ping` and the like with `ok: 1`.
//!
//! This first version serves **polling** clients: `topologyVersion` is removed from the
//! replies, so streaming clients fall back to polling; failed checks are all replayed as a
//! closed connection, whatever their cause class.

mod serve;
mod timeline;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::timeline::Recording;
pub use self::timeline::ReplayError;

/// A recording being served.
#[derive(Debug)]
pub struct Replay {
    /// Recorded address → the loopback address serving it.
    mapping: BTreeMap<String, String>,
    /// The connection string options of the recording (replicaSet, directConnection).
    options: Vec<String>,
    /// The recorded seeds.
    seeds: Vec<String>,
    nodes: Vec<JoinHandle<()>>,
}

impl Replay {
    /// Parses `text` (a whole recording file) and starts serving it at `speed` times the
    /// recorded pace (1.0: as recorded), time zero being now.
    pub async fn start(text: &str, speed: f64) -> Result<Replay, ReplayError> {
        if !(speed.is_finite() && speed > 0.0) {
            return Err(ReplayError::Format(format!(
                "the speed must be a positive number, not {speed}"
            )));
        }
        let recording = Recording::parse(text)?;
        let mut listeners = Vec::new();
        let mut mapping = BTreeMap::new();
        for address in recording.addresses() {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            mapping.insert(address.clone(), listener.local_addr()?.to_string());
            listeners.push((address, listener));
        }
        let recording = Arc::new(recording.rewritten(&mapping));
        let started = Instant::now();
        let nodes = listeners
            .into_iter()
            .map(|(address, listener)| {
                tokio::spawn(serve::serve_node(
                    listener,
                    recording.clone(),
                    address,
                    started,
                    speed,
                ))
            })
            .collect();
        Ok(Replay {
            mapping,
            options: recording.connection_options(),
            seeds: recording.seeds(),
            nodes,
        })
    }

    /// The loopback address serving the recorded `address`, if it is in the recording.
    pub fn mapped(&self, address: &str) -> Option<&str> {
        self.mapping.get(address).map(String::as_str)
    }

    /// The recorded address a loopback address serves (the inverse of [`Replay::mapped`]).
    pub fn recorded(&self, mapped: &str) -> Option<&str> {
        self.mapping
            .iter()
            .find(|(_, to)| to.as_str() == mapped)
            .map(|(from, _)| from.as_str())
    }

    /// A connection string for the replay: the recorded seeds at their mapped ports, with
    /// the recording's replicaSet and directConnection.
    pub fn connection_string(&self) -> String {
        let seeds: Vec<&str> = self
            .seeds
            .iter()
            .filter_map(|seed| self.mapped(seed))
            .collect();
        format!("mongodb://{}/?{}", seeds.join(","), self.options.join("&"))
    }

    /// Stops every node.
    pub async fn shutdown(self) {
        for node in self.nodes {
            node.abort();
            let _ = node.await;
        }
    }
}
