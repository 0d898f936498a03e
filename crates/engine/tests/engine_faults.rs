//! The live engine against misbehaving servers (issue 7, "Bad input").
//!
//! Every fault the simulator injects, plus a hang (freeze), a kill and a latency beyond the
//! timeouts, is applied to a member of a running 3-member set. Each time: the faulty member
//! becomes Unknown with an error whose kind names the cause (or is removed, for a wrong set
//! name), the other members stay known and keep being checked, a selection only the faulty
//! member could satisfy fails within serverSelectionTimeoutMS and explains why, a selection
//! the others satisfy succeeds at once, and the member comes back once the fault is gone.
//! The command faults (NotWritablePrimary, NodeIsRecovering) reach SDAM through
//! `Cluster::report_application_error`; hello replies full of nonsense come from fake
//! servers.

mod engine_support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::{doc, Document};
use engine_support::*;
use mongo_topology::sdam::{
    ApplicationError, ApplicationErrorKind, CommandFailure, ErrorPhase, SdamEvent,
    ServerDescription, ServerErrorKind, ServerType, TopologyDescription,
};
use mongo_topology::selection::{
    ReadPreference, ReadPreferenceMode, Reason, SelectionCriteria, ServerFilter,
};
use mongo_topology::wire::framing::MessageReader;
use mongo_topology::wire::{
    encode_message, Message, MsgFlags, OpMsg, OpReply, Payload, MAX_MESSAGE_SIZE_BYTES,
};
use mongo_topology::{
    Cluster, ClusterError, ClusterSettings, ConnectOptions, Connection, EventKind, EventRecvError,
    EventSubscriber, ServerAddress,
};
use mongo_topology_sim::{Deployment, DeploymentSpec, FaultKind, MemberRef, ServerVersion};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::time::Instant;

/// heartbeatFrequencyMS: the 500 ms minimum, so that failures and recoveries show quickly.
const HEARTBEAT: Duration = Duration::from_millis(500);
/// serverSelectionTimeoutMS.
const SELECTION_TIMEOUT: Duration = Duration::from_millis(600);
/// connectTimeoutMS: how long a hung server can hold a check (a streamed reply may take
/// heartbeatFrequencyMS more).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(700);
/// Allowance for scheduling on a loaded machine, added to the bounds the rules give.
const MARGIN: Duration = Duration::from_millis(1_000);
/// "At once": well below minHeartbeatFrequencyMS, so no wait for a check fits in it.
const AT_ONCE: Duration = Duration::from_millis(250);

fn options() -> String {
    format!(
        "heartbeatFrequencyMS={}&serverSelectionTimeoutMS={}&connectTimeoutMS={}",
        HEARTBEAT.as_millis(),
        SELECTION_TIMEOUT.as_millis(),
        CONNECT_TIMEOUT.as_millis()
    )
}

fn with_events(uri: &str) -> (Cluster, EventSubscriber) {
    Cluster::with_events(ClusterSettings::parse(uri).expect("valid URI")).expect("cluster starts")
}

/// How a member misbehaves, and how the misbehaviour is undone.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    Fault(FaultKind),
    /// Accepts connections, never answers.
    Freeze,
    /// Listener and connections closed; undone by a restart.
    Kill,
    /// Every reply delayed by this much.
    Latency(Duration),
}

impl Misbehaviour {
    async fn start(self, sim: &Deployment, member: &MemberRef) {
        let started = match self {
            Misbehaviour::Fault(kind) => sim.fault(member, kind),
            Misbehaviour::Freeze => sim.set_frozen(member, true),
            Misbehaviour::Kill => sim.kill(member).await,
            Misbehaviour::Latency(latency) => sim.set_latency(member, latency),
        };
        started.expect("the simulator accepts the misbehaviour");
    }

    async fn stop(self, sim: &Deployment, member: &MemberRef) {
        let stopped = match self {
            Misbehaviour::Fault(_) => sim.fault(member, FaultKind::Clear),
            Misbehaviour::Freeze => sim.set_frozen(member, false),
            Misbehaviour::Kill => sim.restart(member).await,
            Misbehaviour::Latency(_) => sim.set_latency(member, Duration::ZERO),
        };
        stopped.expect("the simulator undoes the misbehaviour");
    }
}

/// Whether `address` is unavailable (Unknown, or PossiblePrimary when the secondaries still
/// name it) with an error of one of the `causes`.
fn unavailable_because(
    topology: &TopologyDescription,
    address: &ServerAddress,
    causes: &[ServerErrorKind],
) -> bool {
    topology.server(address).is_some_and(|server| {
        matches!(
            server.server_type,
            ServerType::Unknown | ServerType::PossiblePrimary
        ) && server
            .error
            .as_ref()
            .is_some_and(|error| causes.contains(&error.kind))
    })
}

fn type_of(topology: &TopologyDescription, address: &ServerAddress) -> Option<ServerType> {
    topology.server(address).map(|server| server.server_type)
}

/// Read criteria with `mode`.
fn read(mode: ReadPreferenceMode) -> SelectionCriteria {
    SelectionCriteria::read(ReadPreference::with_mode(mode))
}

/// Criteria only the server at `address` satisfies: any member, filtered to that address.
fn only(address: &ServerAddress) -> SelectionCriteria {
    let wanted = address.clone();
    read(ReadPreferenceMode::Nearest)
        .with_filter(ServerFilter::new(move |server| server.address == wanted))
}

/// Waits until every server of `others` has had a successful heartbeat after `since`;
/// panics if one of them fails a heartbeat meanwhile, or after [`PATIENCE`].
async fn others_keep_being_checked(
    events: &mut EventSubscriber,
    others: &[ServerAddress],
    since: Instant,
) {
    let deadline = Instant::now() + PATIENCE;
    let mut unchecked: BTreeSet<&ServerAddress> = others.iter().collect();
    while !unchecked.is_empty() {
        let event = match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(event)) => event,
            Ok(Err(EventRecvError::Missed(_))) => continue,
            Ok(Err(closed)) => panic!("event stream ended: {closed}"),
            Err(_) => panic!("no successful heartbeat after the fault from {unchecked:?}"),
        };
        if event.at <= since {
            continue;
        }
        match &event.kind {
            EventKind::HeartbeatSucceeded { address, .. } => {
                unchecked.remove(address);
            }
            EventKind::HeartbeatFailed {
                address, failure, ..
            } if others.contains(address) => {
                panic!("healthy member {address} failed a heartbeat: {failure}")
            }
            _ => {}
        }
    }
}

/// Selects with `criteria`, which no server satisfies: the selection must give up within
/// serverSelectionTimeoutMS (plus [`MARGIN`]) and say why `faulty` was unsuitable.
/// Returns the error's text and the faulty server's verdict reason.
async fn selection_fails_in_time(
    cluster: &Cluster,
    criteria: &SelectionCriteria,
    faulty: &ServerAddress,
) -> (String, Option<Reason>) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(SELECTION_TIMEOUT + MARGIN, cluster.select_server(criteria))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "selection for {criteria} still waiting after {:?}",
                started.elapsed()
            )
        });
    let error = match outcome {
        Ok(selected) => panic!("{} was selected", selected.address()),
        Err(error) => error,
    };
    let text = error.to_string();
    let ClusterError::ServerSelectionTimeout { explanation, .. } = error else {
        panic!("expected a selection timeout, got: {text}");
    };
    let reason = explanation
        .verdict(faulty)
        .map(|verdict| verdict.reason.clone());
    (text, reason)
}

/// The selection explanation says `faulty` is unavailable because of one of `causes`, and
/// its text names the server and repeats the error.
async fn selection_explains(
    cluster: &Cluster,
    criteria: &SelectionCriteria,
    faulty: &ServerAddress,
    causes: &[ServerErrorKind],
) {
    let (text, reason) = selection_fails_in_time(cluster, criteria, faulty).await;
    let Some(Reason::Unavailable {
        error: Some(error), ..
    }) = reason
    else {
        panic!("{faulty} should be unavailable with its error: {reason:?}\n{text}");
    };
    assert!(causes.contains(&error.kind), "{error:?}\n{text}");
    assert!(text.contains(&faulty.to_string()), "{text}");
    assert!(text.contains(&error.message), "{text}");
}

/// Selects with `criteria` and expects a server other than `faulty`, without waiting.
async fn selected_at_once(cluster: &Cluster, criteria: &SelectionCriteria, faulty: &ServerAddress) {
    let selected = tokio::time::timeout(AT_ONCE, cluster.select_server(criteria))
        .await
        .unwrap_or_else(|_| panic!("selection for {criteria} waited"))
        .unwrap_or_else(|error| panic!("selection for {criteria} failed: {error}"));
    assert_ne!(selected.address(), faulty);
}

/// The whole story for one misbehaviour of member `member` (0 is the primary) of a running
/// 3-member set: detected with one of `causes`, isolated, explained, recovered.
async fn misbehaving_member_is_isolated_and_recovers(
    misbehaviour: Misbehaviour,
    member: usize,
    causes: &[ServerErrorKind],
) {
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let members: Vec<ServerAddress> = (0..3).map(|index| address(&sim, index)).collect();
    let (cluster, mut events) =
        with_events(&uri(&members, &format!("replicaSet=rs0&{}", options())));
    let healthy = wait_until(&cluster, "a primary and two secondaries", |t| {
        t.primary().is_some() && count(t, ServerType::RsSecondary) == 2
    })
    .await;
    let faulty = members[member].clone();
    let role = type_of(&healthy, &faulty);
    let others: Vec<ServerAddress> = members.iter().filter(|m| **m != faulty).cloned().collect();
    let reference = MemberRef::Index(member);

    misbehaviour.start(&sim, &reference).await;
    let seen = wait_until(
        &cluster,
        "the faulty member unavailable with its cause",
        |t| unavailable_because(t, &faulty, causes),
    )
    .await;
    let detected = Instant::now();
    for other in &others {
        assert_eq!(type_of(&seen, other), type_of(&healthy, other), "{other}");
    }
    others_keep_being_checked(&mut events, &others, detected).await;

    if role == Some(ServerType::RsPrimary) {
        selection_explains(&cluster, &SelectionCriteria::write(), &faulty, causes).await;
        selected_at_once(&cluster, &read(ReadPreferenceMode::Secondary), &faulty).await;
    } else {
        selection_explains(&cluster, &only(&faulty), &faulty, causes).await;
        selected_at_once(&cluster, &SelectionCriteria::write(), &faulty).await;
        selected_at_once(&cluster, &read(ReadPreferenceMode::Secondary), &faulty).await;
    }

    misbehaviour.stop(&sim, &reference).await;
    let back = cluster
        .wait_for(|t| type_of(t, &faulty) == role, HEARTBEAT + MARGIN)
        .await;
    if let Err(error) = back {
        panic!("{faulty} not back as {role:?} after {misbehaviour:?} ended: {error}");
    }
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_secondary_resetting_mid_reply_is_unknown_with_a_network_error() {
    misbehaving_member_is_isolated_and_recovers(
        Misbehaviour::Fault(FaultKind::ResetAfterBytes(20)),
        1,
        &[ServerErrorKind::Network],
    )
    .await;
}

#[tokio::test]
async fn a_secondary_sending_garbage_is_unknown_with_a_protocol_error() {
    misbehaving_member_is_isolated_and_recovers(
        Misbehaviour::Fault(FaultKind::GarbageReply),
        1,
        &[ServerErrorKind::Protocol],
    )
    .await;
}

#[tokio::test]
async fn a_primary_sending_garbage_is_unknown_and_writes_time_out_with_the_cause() {
    misbehaving_member_is_isolated_and_recovers(
        Misbehaviour::Fault(FaultKind::GarbageReply),
        0,
        &[ServerErrorKind::Protocol],
    )
    .await;
}

#[tokio::test]
async fn a_secondary_announcing_an_oversized_reply_is_unknown_with_a_protocol_error() {
    misbehaving_member_is_isolated_and_recovers(
        Misbehaviour::Fault(FaultKind::OversizedLength),
        2,
        &[ServerErrorKind::Protocol],
    )
    .await;
}

#[tokio::test]
async fn a_frozen_secondary_is_unknown_with_a_timeout() {
    misbehaving_member_is_isolated_and_recovers(
        Misbehaviour::Freeze,
        1,
        &[ServerErrorKind::Timeout],
    )
    .await;
}

#[tokio::test]
async fn a_frozen_primary_is_unknown_with_a_timeout_and_writes_time_out() {
    misbehaving_member_is_isolated_and_recovers(
        Misbehaviour::Freeze,
        0,
        &[ServerErrorKind::Timeout],
    )
    .await;
}

#[tokio::test]
async fn a_killed_secondary_is_unknown_with_a_connection_error() {
    // The stream breaks (Network), the immediate retry is refused (Connect).
    misbehaving_member_is_isolated_and_recovers(
        Misbehaviour::Kill,
        2,
        &[ServerErrorKind::Network, ServerErrorKind::Connect],
    )
    .await;
}

#[tokio::test]
async fn a_secondary_slower_than_the_timeouts_is_unknown_with_a_timeout() {
    misbehaving_member_is_isolated_and_recovers(
        Misbehaviour::Latency(Duration::from_millis(3_000)),
        1,
        &[ServerErrorKind::Timeout],
    )
    .await;
}

#[tokio::test]
async fn a_secondary_of_another_set_is_removed_while_the_others_stay() {
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let members: Vec<ServerAddress> = (0..3).map(|index| address(&sim, index)).collect();
    let (cluster, mut events) =
        with_events(&uri(&members, &format!("replicaSet=rs0&{}", options())));
    wait_until(&cluster, "a primary and two secondaries", |t| {
        t.primary().is_some() && count(t, ServerType::RsSecondary) == 2
    })
    .await;
    let faulty = members[1].clone();
    let others = [members[0].clone(), members[2].clone()];
    sim.fault(&MemberRef::Index(1), FaultKind::WrongSetName)
        .unwrap();
    // The primary keeps listing the member, so it is added back and removed again at each of
    // the primary's heartbeats: watch for the removal itself.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the member of another set is removed")
            .expect("events");
        if let EventKind::Sdam(SdamEvent::ServerClosed { address, .. }) = &event.kind {
            assert_eq!(address, &faulty);
            break;
        }
    }
    let removed = Instant::now();
    let current = cluster.topology();
    assert!(primary_is(&current, &members[0]));
    assert_eq!(
        type_of(&current, &members[2]),
        Some(ServerType::RsSecondary)
    );
    others_keep_being_checked(&mut events, &others, removed).await;
    // Never selectable: absent, or back for a moment as not yet checked.
    let (text, reason) = selection_fails_in_time(&cluster, &only(&faulty), &faulty).await;
    assert!(
        matches!(reason, None | Some(Reason::Unavailable { .. })),
        "{text}"
    );
    selected_at_once(&cluster, &SelectionCriteria::write(), &faulty).await;

    sim.fault(&MemberRef::Index(1), FaultKind::Clear).unwrap();
    let back = cluster
        .wait_for(
            |t| type_of(t, &faulty) == Some(ServerType::RsSecondary),
            HEARTBEAT + MARGIN,
        )
        .await;
    assert!(back.is_ok(), "{faulty} not back: {:?}", back.err());
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_direct_connection_to_a_member_of_another_set_is_unknown_with_a_name_mismatch() {
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let secondary = address(&sim, 1);
    let cluster = connect(&uri(
        std::slice::from_ref(&secondary),
        &format!("directConnection=true&replicaSet=rs0&{}", options()),
    ));
    wait_until(&cluster, "the secondary", all_known).await;
    sim.fault(&MemberRef::Index(1), FaultKind::WrongSetName)
        .unwrap();
    let mismatch = [ServerErrorKind::ReplicaSetNameMismatch];
    wait_until(&cluster, "a name mismatch", |t| {
        unavailable_because(t, &secondary, &mismatch)
    })
    .await;
    selection_explains(&cluster, &only(&secondary), &secondary, &mismatch).await;
    sim.fault(&MemberRef::Index(1), FaultKind::Clear).unwrap();
    let back = cluster
        .wait_for(
            |t| type_of(t, &secondary) == Some(ServerType::RsSecondary),
            HEARTBEAT + MARGIN,
        )
        .await;
    assert!(back.is_ok(), "{:?}", back.err());
    cluster.close().await;
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Command faults: they fail commands other than hello, so monitoring never sees them; an
// application reports them.

/// Runs `command` on `address` over a fresh handshaken connection, as an application
/// would, and returns the raw reply.
async fn run_command(address: &ServerAddress, db: &str, command: Document) -> Document {
    let mut connection = Connection::connect(address, &ConnectOptions::default())
        .await
        .expect("connect");
    // The hello of a handshake, over the public single-connection API.
    connection
        .command("admin", doc! { "hello": 1 })
        .await
        .expect("handshake");
    connection
        .send(db, command, MsgFlags::empty())
        .await
        .expect("send");
    connection.receive().await.expect("reply").body
}

/// The error an application reports after `reply` failed on `address` (a connection of
/// generation 0: nothing was cleared before).
fn application_error(address: &ServerAddress, reply: &Document) -> ApplicationError {
    let error = CommandFailure::from_reply(reply).expect("the command failed");
    ApplicationError {
        address: address.clone(),
        generation: 0,
        service_id: None,
        phase: ErrorPhase::AfterHandshake,
        kind: ApplicationErrorKind::Command(error),
        system_overloaded: false,
    }
}

/// Drops the events received so far (those of discovery).
fn skip_buffered(events: &mut EventSubscriber) {
    while let Ok(Some(_)) | Err(EventRecvError::Missed(_)) = events.try_recv() {}
}

/// Waits for the event that makes `address` Unknown, and returns its new description.
async fn marked_unknown(
    events: &mut EventSubscriber,
    address: &ServerAddress,
) -> Arc<ServerDescription> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("{address} never marked Unknown"))
            .expect("events");
        if let EventKind::Sdam(SdamEvent::ServerDescriptionChanged {
            address: changed,
            new,
            ..
        }) = event.kind
        {
            if &changed == address && new.server_type == ServerType::Unknown {
                return new;
            }
        }
    }
}

/// A 3-member set of servers that send no topologyVersion (4.2), so that an error carries
/// none and is never stale; the default 10 s heartbeat, so that only the immediate check
/// SDAM requests can bring a server back quickly.
async fn command_fault_setup() -> (Deployment, Cluster, EventSubscriber) {
    let spec = DeploymentSpec::replica_set("rs0", 3, 0, 0).with_version(ServerVersion::V4_2);
    let sim = start(spec).await;
    let members: Vec<ServerAddress> = (0..3).map(|index| address(&sim, index)).collect();
    let (cluster, events) = with_events(&uri(&members, "replicaSet=rs0"));
    wait_until(&cluster, "a primary and two secondaries", |t| {
        t.primary().is_some() && count(t, ServerType::RsSecondary) == 2
    })
    .await;
    (sim, cluster, events)
}

/// After a reported state change error, an immediate check (well before the 10 s
/// heartbeat) brings `address` back as `role`.
async fn back_after_immediate_check(cluster: &Cluster, address: &ServerAddress, role: ServerType) {
    let back = cluster
        .wait_for(|t| type_of(t, address) == Some(role), HEARTBEAT + MARGIN)
        .await;
    assert!(
        back.is_ok(),
        "{address} not back as {role:?}: {:?}",
        back.err()
    );
}

#[tokio::test]
async fn a_reported_not_writable_primary_marks_the_primary_unknown_until_rechecked() {
    let (sim, cluster, mut events) = command_fault_setup().await;
    let primary = address(&sim, 0);
    sim.fault(&MemberRef::Index(0), FaultKind::NotWritablePrimary(1))
        .unwrap();
    let reply = run_command(
        &primary,
        "test",
        doc! { "insert": "c", "documents": [{ "x": 1 }] },
    )
    .await;
    cluster
        .report_application_error(application_error(&primary, &reply))
        .await;
    let unknown = marked_unknown(&mut events, &primary).await;
    let error = unknown.error.as_ref().expect("the error is kept");
    assert_eq!(error.kind, ServerErrorKind::Command, "{error}");
    assert_eq!(error.code, Some(10107), "{error}");
    // The node is still primary: the check SDAM requests finds it so.
    back_after_immediate_check(&cluster, &primary, ServerType::RsPrimary).await;
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_reported_node_is_recovering_marks_a_secondary_unknown_until_rechecked() {
    let (sim, cluster, mut events) = command_fault_setup().await;
    let secondary = address(&sim, 2);
    sim.fault(&MemberRef::Index(2), FaultKind::NodeIsRecovering(1))
        .unwrap();
    let find = doc! { "find": "c", "$readPreference": { "mode": "secondary" } };
    let reply = run_command(&secondary, "test", find).await;
    cluster
        .report_application_error(application_error(&secondary, &reply))
        .await;
    let unknown = marked_unknown(&mut events, &secondary).await;
    let error = unknown.error.as_ref().expect("the error is kept");
    assert_eq!(error.kind, ServerErrorKind::Command, "{error}");
    assert_eq!(error.code, Some(13436), "{error}");
    back_after_immediate_check(&cluster, &secondary, ServerType::RsSecondary).await;
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_reported_state_change_error_no_newer_than_the_monitors_view_is_ignored() {
    // From 4.4 the error carries the node's topologyVersion; the injected fault leaves the
    // node unchanged, so the error is no newer than what the monitor saw: stale (SDAM
    // "Error handling"), and the primary stays.
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let members: Vec<ServerAddress> = (0..3).map(|index| address(&sim, index)).collect();
    let (cluster, mut events) = with_events(&uri(&members, "replicaSet=rs0"));
    wait_until(&cluster, "a primary and two secondaries", |t| {
        t.primary().is_some() && count(t, ServerType::RsSecondary) == 2
    })
    .await;
    let primary = members[0].clone();
    skip_buffered(&mut events);
    sim.fault(&MemberRef::Index(0), FaultKind::NotWritablePrimary(1))
        .unwrap();
    let reply = run_command(
        &primary,
        "test",
        doc! { "insert": "c", "documents": [{ "x": 1 }] },
    )
    .await;
    assert!(reply.contains_key("topologyVersion"), "{reply}");
    cluster
        .report_application_error(application_error(&primary, &reply))
        .await;
    // Reports are applied in order: once this later, newer one has marked a secondary
    // Unknown, the stale one has been judged.
    let secondary = members[1].clone();
    let newer = ApplicationError {
        kind: ApplicationErrorKind::Network,
        ..application_error(&secondary, &reply)
    };
    cluster.report_application_error(newer).await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the secondary is marked Unknown")
            .expect("events");
        if let EventKind::Sdam(SdamEvent::ServerDescriptionChanged { address, new, .. }) =
            event.kind
        {
            assert!(
                address != primary || new.server_type == ServerType::RsPrimary,
                "the stale error changed the primary: {new:?}"
            );
            if address == secondary && new.server_type == ServerType::Unknown {
                break;
            }
        }
    }
    assert!(primary_is(&cluster.topology(), &primary));
    cluster.close().await;
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Hello replies full of nonsense, from fake servers.

/// What a fake server sends in answer to the request with the given id.
type Answer = fn(i32) -> Vec<u8>;

/// An OP_MSG reply to `response_to` with `body`.
fn op_msg(response_to: i32, body: Document) -> Vec<u8> {
    encode_message(&Message {
        request_id: 9_000,
        response_to,
        payload: Payload::Msg(OpMsg::new(body)),
    })
    .expect("encodable")
}

/// An OP_MSG frame to `response_to` with no flags and `sections` exactly as given.
fn raw_op_msg(response_to: i32, sections: &[u8]) -> Vec<u8> {
    const OP_MSG: i32 = 2013;
    let length = i32::try_from(16 + 4 + sections.len()).expect("small");
    let mut bytes = Vec::new();
    for field in [length, 9_000, response_to, OP_MSG, 0] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes.extend_from_slice(sections);
    bytes
}

const NONSENSE: [(&str, Answer); 7] = [
    ("hosts and setName of the wrong types", |id| {
        op_msg(id, doc! { "ok": 1, "hosts": 5, "setName": [1] })
    }),
    ("maxWireVersion a string", |id| {
        op_msg(
            id,
            doc! { "ok": 1, "isWritablePrimary": true, "maxWireVersion": "x" },
        )
    }),
    ("ok a string", |id| {
        op_msg(id, doc! { "ok": "yes", "isWritablePrimary": true })
    }),
    // A body section (kind 0) whose document ends with 7 instead of 0.
    ("a body that is not a document", |id| {
        raw_op_msg(id, &[0, 5, 0, 0, 0, 7])
    }),
    // A body document announcing 64 bytes, of which 5 follow.
    ("a truncated body document", |id| {
        raw_op_msg(id, &[0, 64, 0, 0, 0, 0])
    }),
    ("no body at all", |id| raw_op_msg(id, &[])),
    ("an OP_REPLY instead of an OP_MSG", |id| {
        let reply = OpReply::single(doc! { "ok": 1, "isWritablePrimary": true });
        encode_message(&Message {
            request_id: 9_000,
            response_to: id,
            payload: Payload::Reply(reply),
        })
        .expect("encodable")
    }),
];

/// A fake server answering every request with `answer`; counts the requests it reads.
async fn fake_server(answer: Answer) -> (ServerAddress, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut reader = MessageReader::new(stream, MAX_MESSAGE_SIZE_BYTES);
                while let Ok(Some(request)) = reader.read_message().await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let reply = answer(request.request_id);
                    if reader.get_mut().write_all(&reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (ServerAddress::tcp("127.0.0.1", port), requests)
}

#[tokio::test]
async fn servers_answering_hello_with_nonsense_are_unknown_with_protocol_errors() {
    // Two real mongos beside one fake server per kind of nonsense: the topology is
    // Sharded, and the fakes stay in it as Unknown servers.
    let sim = start(DeploymentSpec::sharded(2)).await;
    let mut seeds = vec![address(&sim, 0), address(&sim, 1)];
    let mut fakes = Vec::new();
    for (what, answer) in NONSENSE {
        let (fake, requests) = fake_server(answer).await;
        seeds.push(fake.clone());
        fakes.push((what, fake, requests));
    }
    let cluster = connect(&uri(&seeds, &options()));
    let seen = wait_until(&cluster, "two mongos and every fake checked", |t| {
        count(t, ServerType::Mongos) == 2
            && fakes
                .iter()
                .all(|(_, fake, _)| t.server(fake).is_some_and(|s| s.error.is_some()))
    })
    .await;
    for (what, fake, _) in &fakes {
        let server = seen.server(fake).expect("the fake stays in the topology");
        assert_eq!(server.server_type, ServerType::Unknown, "{what}");
        let error = server.error.as_ref().expect("checked");
        assert_eq!(error.kind, ServerErrorKind::Protocol, "{what}: {error}");
    }
    // Every fake is explained, and each stays monitored: it is asked again and again.
    let asked: Vec<usize> = fakes
        .iter()
        .map(|(_, _, requests)| requests.load(Ordering::SeqCst))
        .collect();
    let explained: Vec<_> = fakes
        .iter()
        .map(|(_, fake, _)| {
            let (cluster, fake) = (cluster.clone(), fake.clone());
            tokio::spawn(async move {
                selection_explains(&cluster, &only(&fake), &fake, &[ServerErrorKind::Protocol])
                    .await
            })
        })
        .collect();
    for selection in explained {
        selection.await.expect("the selection is explained");
    }
    selected_at_once(&cluster, &SelectionCriteria::write(), &fakes[0].1).await;
    for ((what, _, requests), before) in fakes.iter().zip(asked) {
        let deadline = Instant::now() + PATIENCE;
        while requests.load(Ordering::SeqCst) <= before {
            assert!(Instant::now() < deadline, "{what}: no longer checked");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(!cluster.is_closed(), "the cluster task survived");
    cluster.close().await;
    sim.shutdown().await;
}
