//! `sim --replay`: serves a recording made by the engine's flight recorder (`watch --record`,
//! `docs/recording.md`) on loopback, so that a client re-lives what the recording client saw.
//!
//! One node per recorded address, each on a loopback port of its own; every hello reply is
//! rewritten so that host lists (`hosts`, `passives`, `arbiters`, `primary`, `me`) name the
//! mapped ports. A node answers hello with the reply its server gave at the same time of the
//! recording (scaled by the speed), polling and streaming clients alike: each reply carries
//! a `topologyVersion` of the node's own whose counter changes when what the server says
//! changes, and an awaitable hello is answered when that happens (or at maxAwaitTimeMS).
//! Failed checks are replayed as they failed: a timeout as silence, a refused connection as
//! a port nobody listens on, a reset as closed connections. `ping` and the like are answered
//! `ok: 1`.

mod hello;
mod outcome;
mod serve;
mod timeline;
mod window;

use std::collections::BTreeMap;
use std::sync::Arc;

use bson::oid::ObjectId;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::serve::{Clock, Node};
use self::timeline::Recording;
pub use self::timeline::ReplayError;
pub use self::window::ReplayTime;

/// How to replay a recording.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayOptions {
    /// Recording seconds per second of replay (1.0: as recorded).
    pub speed: f64,
    /// Start the replay at this time of the recording (with the state in effect then).
    pub from: Option<ReplayTime>,
    /// Serve the recording up to this time only (its state then is kept afterwards).
    pub to: Option<ReplayTime>,
}

impl Default for ReplayOptions {
    fn default() -> ReplayOptions {
        ReplayOptions {
            speed: 1.0,
            from: None,
            to: None,
        }
    }
}

/// A recording being served.
#[derive(Debug)]
pub struct Replay {
    /// Recorded address → the loopback address serving it.
    mapping: BTreeMap<String, String>,
    /// The connection string options of the recording (replicaSet, directConnection).
    options: Vec<String>,
    /// The recorded seeds.
    seeds: Vec<String>,
    /// When the window's start (recording time `from`, 0 without `--from`) was served.
    time_zero: Instant,
    nodes: Vec<JoinHandle<()>>,
}

impl Replay {
    /// Parses `text` (a whole recording file) and starts serving it at `speed` times the
    /// recorded pace (1.0: as recorded), time zero being now.
    pub async fn start(text: &str, speed: f64) -> Result<Replay, ReplayError> {
        Replay::start_with(
            text,
            &ReplayOptions {
                speed,
                ..ReplayOptions::default()
            },
        )
        .await
    }

    /// Parses `text` (a whole recording file) and starts serving the window of it that
    /// `options` asks for, time zero (the window's start) being now.
    pub async fn start_with(text: &str, options: &ReplayOptions) -> Result<Replay, ReplayError> {
        let speed = options.speed;
        if !(speed.is_finite() && speed > 0.0) {
            return Err(ReplayError::Format(format!(
                "the speed must be a positive number, not {speed}"
            )));
        }
        let recording = Recording::parse(text)?;
        let from = match &options.from {
            Some(time) => time.offset_us(recording.started_wall_us())?,
            None => 0,
        };
        let to = match &options.to {
            Some(time) => Some(time.offset_us(recording.started_wall_us())?),
            None => None,
        };
        if to.is_some_and(|to| to < from) {
            return Err(ReplayError::Format(
                "the window ends (--to) before it starts (--from)".into(),
            ));
        }
        let recording = recording.window(from, to);
        let mut listeners = Vec::new();
        let mut mapping = BTreeMap::new();
        for address in recording.addresses() {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            mapping.insert(address.clone(), listener.local_addr()?.to_string());
            listeners.push((address, listener));
        }
        let recording = Arc::new(recording.rewritten(&mapping));
        let clock = Clock {
            started: Instant::now(),
            speed,
        };
        let nodes = listeners
            .into_iter()
            .map(|(address, listener)| {
                let node = Node {
                    recording: recording.clone(),
                    address,
                    clock,
                    process_id: ObjectId::new(),
                };
                tokio::spawn(serve::serve_node(listener, Arc::new(node)))
            })
            .collect();
        Ok(Replay {
            mapping,
            options: recording.connection_options(),
            seeds: recording.seeds(),
            time_zero: clock.started,
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

    /// The replay's time zero: the instant the window's start was served. A recorded
    /// outcome at `t` seconds after the window's start is served from `t / speed` seconds
    /// after it (what a test of the replay's timing measures against).
    pub fn time_zero(&self) -> Instant {
        self.time_zero
    }

    /// Stops every node.
    pub async fn shutdown(self) {
        for node in self.nodes {
            node.abort();
            let _ = node.await;
        }
    }
}
