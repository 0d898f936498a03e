//! The faults of the matrix: the deployment each needs, whom it hits, how it is applied and
//! healed, what selection's explanation must say about it, and the callers' calls.

use std::time::Duration;

use mongo_topology::sdam::{RemovalReason, ServerErrorKind};
use mongo_topology::selection::{
    ReadPreference, ReadPreferenceMode, Reason, SelectionCriteria, SelectionExplanation,
    ServerFilter,
};
use mongo_topology::ServerAddress;
use mongo_topology_sim::state::World;
use mongo_topology_sim::{
    Deployment, DeploymentSpec, FaultKind, MemberRef, MemberSpec, ServerVersion, TopologySpec,
};

use super::callers::Call;
use super::{caller_count, Role};

/// Where a reset cuts a reply: after the 16-byte header, inside the body.
const RESET_AFTER: usize = 20;
/// "High latency": well above loopback RTTs, below connectTimeoutMS and socketTimeoutMS.
pub const HIGH_LATENCY: Duration = Duration::from_millis(300);
/// Replication lag: beyond the 90 s smallest maxStalenessSeconds.
pub const LAG: Duration = Duration::from_secs(120);
/// maxStalenessSeconds of the lag cell's reads.
pub const MAX_STALENESS: Duration = Duration::from_secs(90);

/// One fault of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `freeze`: connections accepted, nothing ever answered.
    Hang,
    /// Every reply cut after [`RESET_AFTER`] bytes, then the connection reset.
    ResetAfterBytes,
    /// Replies with a valid header and an undecodable body.
    GarbageReply,
    /// Replies announcing a length above maxMessageSizeBytes, then closed.
    OversizedLength,
    /// hello reports another set name.
    WrongSetName,
    /// Commands fail with NotWritablePrimary (10107); `topology_version`: the error carries
    /// one (4.4+ servers) or not (a 4.2 server).
    NotWritablePrimary { topology_version: bool },
    /// Commands fail with NotPrimaryOrSecondary (13436, node is recovering).
    NodeIsRecovering { topology_version: bool },
    /// Listener and connections closed; healed by a restart (new processId).
    KillRestart,
    /// Every reply delayed by [`HIGH_LATENCY`].
    Latency,
    /// The member lags [`LAG`] behind the primary.
    Lag,
    /// A spare member is added to the config (healed: removed again).
    ReconfigAdd,
    /// A secondary is removed from the config (healed: added again).
    ReconfigRemove,
    /// Members frozen: unreachable from the client, while the set itself is healthy.
    Partition,
    /// The DNS server answers SERVFAIL to the SRV rescans.
    DnsFailure,
    /// `stall-tls-handshake` on a TLS deployment: new connections stop after the client's
    /// first handshake bytes; the member's established connections are dropped when it is
    /// armed, so that monitors and pools reconnect into the stall.
    TlsStall,
}

impl Fault {
    /// The name printed in the cell's line.
    pub fn name(self) -> String {
        let tv = |with: bool| if with { "+tv" } else { " no tv" };
        match self {
            Fault::Hang => "hang (freeze)".into(),
            Fault::ResetAfterBytes => format!("reset after {RESET_AFTER} B"),
            Fault::GarbageReply => "garbage reply".into(),
            Fault::OversizedLength => "oversized length".into(),
            Fault::WrongSetName => "wrong set name".into(),
            Fault::NotWritablePrimary { topology_version } => {
                format!("NotWritablePrimary{}", tv(topology_version))
            }
            Fault::NodeIsRecovering { topology_version } => {
                format!("NodeIsRecovering{}", tv(topology_version))
            }
            Fault::KillRestart => "kill+restart".into(),
            Fault::Latency => format!("latency {} ms", HIGH_LATENCY.as_millis()),
            Fault::Lag => format!("lag {} s", LAG.as_secs()),
            Fault::ReconfigAdd => "reconfig add".into(),
            Fault::ReconfigRemove => "reconfig remove".into(),
            Fault::Partition => "partition (freeze)".into(),
            Fault::DnsFailure => "DNS SERVFAIL".into(),
            Fault::TlsStall => "TLS stall mid-handshake".into(),
        }
    }

    /// The deployment the cell runs against.
    pub fn deployment(self, role: Role) -> DeploymentSpec {
        if role == Role::Mongos {
            return DeploymentSpec::sharded(2);
        }
        match self {
            Fault::ReconfigAdd => {
                let mut members: Vec<MemberSpec> = (0..3).map(|_| MemberSpec::data()).collect();
                members.push(MemberSpec::data().spare());
                DeploymentSpec::new(TopologySpec::ReplicaSet {
                    name: "rs".into(),
                    members,
                })
            }
            Fault::NotWritablePrimary {
                topology_version: false,
            }
            | Fault::NodeIsRecovering {
                topology_version: false,
            } => DeploymentSpec::replica_set("rs", 3, 0, 0).with_version(ServerVersion::V4_2),
            _ => DeploymentSpec::replica_set("rs", 3, 0, 0),
        }
    }

    /// The indexes of the members the fault hits.
    pub fn targets(self, role: Role, world: &World) -> Vec<usize> {
        let primary = world.set.as_ref().and_then(|set| set.primary);
        let secondary = (0..world.nodes.len()).find(|i| world.is_secondary(*i));
        let spare = world.nodes.iter().position(|n| !n.in_config);
        let picked = match (self, role) {
            (_, Role::Mongos) => vec![Some(0)],
            (Fault::ReconfigAdd, _) => vec![spare],
            (_, Role::Primary) => vec![primary],
            (_, Role::Secondary) => vec![secondary],
            (_, Role::PrimaryAndSecondary) => vec![primary, secondary],
            (_, Role::Dns) => vec![],
        };
        picked
            .into_iter()
            .map(|i| i.expect("the deployment has the role's member"))
            .collect()
    }

    /// Applies (`on`) or heals (`!on`) the fault on member `idx`.
    pub async fn set(self, sim: &Deployment, idx: usize, on: bool) {
        let member = MemberRef::Index(idx);
        let armed = |kind: FaultKind| if on { kind } else { FaultKind::Clear };
        let done = match self {
            Fault::Hang | Fault::Partition => sim.set_frozen(&member, on),
            Fault::ResetAfterBytes => {
                sim.fault(&member, armed(FaultKind::ResetAfterBytes(RESET_AFTER)))
            }
            Fault::GarbageReply => sim.fault(&member, armed(FaultKind::GarbageReply)),
            Fault::OversizedLength => sim.fault(&member, armed(FaultKind::OversizedLength)),
            Fault::WrongSetName => sim.fault(&member, armed(FaultKind::WrongSetName)),
            Fault::NotWritablePrimary { .. } => {
                sim.fault(&member, armed(FaultKind::NotWritablePrimary(u32::MAX)))
            }
            Fault::NodeIsRecovering { .. } => {
                sim.fault(&member, armed(FaultKind::NodeIsRecovering(u32::MAX)))
            }
            Fault::KillRestart if on => sim.kill(&member).await,
            Fault::KillRestart => sim.restart(&member).await,
            Fault::Latency => {
                sim.set_latency(&member, if on { HIGH_LATENCY } else { Duration::ZERO })
            }
            Fault::Lag => sim.set_lag(&member, if on { LAG } else { Duration::ZERO }),
            Fault::ReconfigAdd => sim.reconfig(on, &member),
            Fault::ReconfigRemove => sim.reconfig(!on, &member),
            Fault::DnsFailure => Ok(()),
            Fault::TlsStall if on => sim
                .fault(&member, FaultKind::StallTlsHandshake)
                .and_then(|_| sim.drop_connections(&member)),
            Fault::TlsStall => sim.fault(&member, FaultKind::Clear),
        };
        done.expect("the simulator applies the fault");
    }

    /// The selection the probe makes while the fault is applied: one only the faulty
    /// member satisfies (a write for a primary).
    pub fn probe(self, role: Role, target: &ServerAddress) -> SelectionCriteria {
        let wanted = target.clone();
        let only = ServerFilter::new(move |server| server.address == wanted);
        match (self, role) {
            (_, Role::Primary | Role::PrimaryAndSecondary) => SelectionCriteria::write(),
            (Fault::Lag, _) => SelectionCriteria::read(stale_free_secondary()).with_filter(only),
            _ => SelectionCriteria::read(ReadPreference::with_mode(ReadPreferenceMode::Nearest))
                .with_filter(only),
        }
    }

    /// Whether a failed selection's explanation names this fault for `target`.
    pub fn named_in(self, explanation: &SelectionExplanation, target: &ServerAddress) -> bool {
        let Some(verdict) = explanation.servers.iter().find(|v| &v.address == target) else {
            // Removed from the view: what a wrong set name and a removal do (SDAM).
            return matches!(
                self,
                Fault::WrongSetName | Fault::ReconfigRemove | Fault::ReconfigAdd
            );
        };
        let kinds: &[ServerErrorKind] = match self {
            Fault::Hang | Fault::Partition | Fault::Latency => &[ServerErrorKind::Timeout],
            Fault::ResetAfterBytes => &[ServerErrorKind::Network],
            Fault::GarbageReply => &[ServerErrorKind::Protocol],
            Fault::OversizedLength => &[ServerErrorKind::Protocol, ServerErrorKind::Network],
            Fault::WrongSetName => &[ServerErrorKind::ReplicaSetNameMismatch],
            Fault::NotWritablePrimary { .. } | Fault::NodeIsRecovering { .. } => {
                &[ServerErrorKind::Command]
            }
            Fault::KillRestart => &[ServerErrorKind::Connect, ServerErrorKind::Network],
            Fault::Lag => return matches!(verdict.reason, Reason::TooStale { .. }),
            // A timeout (connectTimeoutMS) during the TLS handshake, as the message says; or,
            // before the first reconnection timed out, the drop of the established
            // connections that arming does.
            Fault::TlsStall => {
                return matches!(
                    &verdict.reason,
                    Reason::Unavailable { error: Some(e), .. }
                        if e.kind == ServerErrorKind::Network
                            || (e.kind == ServerErrorKind::Timeout
                                && e.message.contains("TLS handshake"))
                )
            }
            Fault::ReconfigAdd | Fault::ReconfigRemove | Fault::DnsFailure => &[],
        };
        // Added back after a removal and not checked since: the removal names the fault.
        if let Reason::Unavailable {
            error: None,
            removed: Some(departure),
        } = &verdict.reason
        {
            return matches!(
                (self, &departure.reason),
                (Fault::WrongSetName, RemovalReason::SetNameMismatch { .. })
                    | (
                        Fault::ReconfigRemove,
                        RemovalReason::NotInPrimaryMembers { .. }
                    )
            );
        }
        matches!(&verdict.reason, Reason::Unavailable { error: Some(e), .. } if kinds.contains(&e.kind))
    }

    /// The callers' calls: writes and reads with suitable read preferences; when a
    /// secondary is the target, one caller reads from it alone, so that the fault is met.
    pub fn calls(self, role: Role, target: &ServerAddress) -> Vec<Call> {
        let third = if role == Role::Secondary {
            let mut call = Call::read(ReadPreferenceMode::Secondary);
            let wanted = target.clone();
            call.criteria = call
                .criteria
                .with_filter(ServerFilter::new(move |server| server.address == wanted));
            call
        } else {
            Call::read(ReadPreferenceMode::Nearest)
        };
        let kinds = match self {
            // Every read must avoid the stale secondary.
            Fault::Lag => vec![
                Call::write(),
                Call::read_with(stale_free_secondary()),
                Call::read_with(stale_free_secondary()),
            ],
            _ => vec![
                Call::write(),
                Call::read(ReadPreferenceMode::SecondaryPreferred),
                third,
            ],
        };
        kinds.into_iter().cycle().take(caller_count()).collect()
    }

    /// The error codeNames a caller must have met while the fault was applied (the proof
    /// that the fault was exercised), for faults that fail commands but not checks.
    pub fn must_meet(self) -> &'static [&'static str] {
        match self {
            Fault::NotWritablePrimary { .. } => &["NotWritablePrimary", "NotMaster"],
            Fault::NodeIsRecovering { .. } => &["NotPrimaryOrSecondary", "NotMasterOrSecondary"],
            _ => &[],
        }
    }
}

/// Mode secondary with maxStalenessSeconds [`MAX_STALENESS`].
pub fn stale_free_secondary() -> ReadPreference {
    ReadPreference::new(
        ReadPreferenceMode::Secondary,
        Vec::new(),
        Some(MAX_STALENESS),
    )
    .expect("a valid read preference")
}
