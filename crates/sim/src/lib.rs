//! Simulated MongoDB deployments on loopback: real sockets, the real wire protocol.
//!
//! A [`Deployment`] hosts replica set members, mongos routers or a standalone server, each
//! on its own port, answering the handshake and a handful of commands as a real server of
//! the emulated [`ServerVersion`] would. Control operations ([`ControlCommand`]) change the
//! deployment while clients watch it: elections, kills, freezes, latency, lag, faults,
//! reconfigs. It also stages the traps applications meet in the field (member tags,
//! advertised names other than the listening addresses, split horizons, a load balancer in
//! front of replica set members, mixed versions, the SCRAM mechanisms offered, startup
//! states, two members claiming primary): see [`staging`] and `docs/sim-traps.md`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mongo_topology_sim::SimError> {
//! use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
//! let deployment = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await?;
//! println!("{}", deployment.connection_string());
//! deployment.stepdown()?;
//! deployment.elect(&MemberRef::Index(1))?;
//! deployment.shutdown().await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
mod commands;
mod connection;
pub mod control;
pub mod crud;
mod deployment;
pub mod dns;
mod election;
pub mod fail_point;
pub mod faults;
mod hello;
mod horizons;
pub mod load_balancer;
mod node;
pub mod oplog;
mod ops;
mod ops_staging;
pub mod replay;
mod reply;
mod request;
mod shared;
pub mod spec;
pub mod staging;
pub mod state;
mod status;
mod step_down;
pub mod tls;
pub mod versions;

pub use auth::{AuthCounts, ScramMechanism, SimUser};
pub use control::{ControlCommand, ControlParseError, MemberRef, CONTROL_USAGE};
pub use deployment::Deployment;
pub use faults::FaultKind;
pub use load_balancer::LoadBalancerCounts;
pub use spec::{DeploymentSpec, MemberSpec, SimTimers, TopologySpec};
pub use staging::StagedState;
pub use state::StartupPhase;
pub use tls::{SimTls, SimTlsOptions};
pub use versions::{ServerVersion, UnknownVersion};

/// Errors of the simulator's API.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A port could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The member reference matches no node.
    #[error("no such member: {0}")]
    NoSuchMember(String),
    /// The request makes no sense in the current state.
    #[error("{0}")]
    InvalidRequest(String),
}
