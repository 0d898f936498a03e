//! Commands against misbehaving servers (issue 8, "Bad input" and item 6).
//!
//! - State change errors on commands, by code and by message only: the server becomes
//!   Unknown, an immediate check brings it back well before the 10 s heartbeat, and the pool
//!   is cleared if and only if the error is "node is shutting down" (SDAM "Error handling",
//!   as pinned in the shared specs: it no longer distinguishes pre-4.2 servers, which the
//!   engine refuses anyway).
//! - Replies that are garbage, answer another request, announce an oversized message, stop
//!   half way with a reset, or never come: a typed error, the connection discarded, the
//!   server Unknown and its pool cleared for network errors but not for a timeout.
//! - The pool's limits through the cluster, and a command too large to send.
//!
//! Fake servers ([`FakeServer`]) play the misbehaving primaries; the simulator plays
//! well-behaved members with injected state change errors.

mod engine_support;

use std::time::Duration;

use bson::{doc, Document};
use engine_support::fake_server::{Answer, FakeHello, FakeServer, FAKE_SET};
use engine_support::*;
use mongo_topology::sdam::{SdamEvent, ServerDescription, ServerErrorKind, ServerType};
use mongo_topology::selection::{ReadPreference, ReadPreferenceMode, SelectionCriteria};
use mongo_topology::{
    CheckOutError, CheckOutFailedReason, CmapEventKind, ConnectionClosedReason, ConnectionId,
    PoolError,
};
use mongo_topology::{
    Cluster, ClusterError, ClusterSettings, ConnectionError, EventKind, EventRecvError,
    EventSubscriber, ServerAddress,
};
use mongo_topology_sim::{DeploymentSpec, FaultKind, MemberRef, ServerVersion};
use tokio::time::Instant;

/// Well below the default 10 s heartbeat: a server back within this was checked at once.
const BACK_AT_ONCE: Duration = Duration::from_secs(3);
/// Allowance for scheduling on a loaded machine, added to the bounds the rules give.
const MARGIN: Duration = Duration::from_millis(1_500);

fn insert() -> Document {
    doc! { "insert": "things", "documents": [{ "x": 1 }] }
}

fn write() -> SelectionCriteria {
    SelectionCriteria::write()
}

/// A cluster on `seeds` with `options`, with its events from the start.
fn with_events(seeds: &[ServerAddress], options: &str) -> (Cluster, EventSubscriber) {
    let settings = ClusterSettings::parse(&uri(seeds, options)).expect("valid URI");
    Cluster::with_events(settings).expect("cluster starts")
}

/// A fake 4.2-style primary (or `hello`'s variant) and a cluster of it, once it is known.
async fn fake_primary(hello: FakeHello, options: &str) -> (FakeServer, Cluster, EventSubscriber) {
    let fake = FakeServer::start(hello).await;
    let options = format!("replicaSet={FAKE_SET}&{options}");
    let (cluster, events) = with_events(std::slice::from_ref(&fake.address), &options);
    wait_until(&cluster, "the fake primary", |t| {
        primary_is(t, &fake.address)
    })
    .await;
    (fake, cluster, events)
}

/// Runs `command` under [`PATIENCE`]: a command that hangs fails the test.
async fn run(cluster: &Cluster, command: Document) -> Result<Document, ClusterError> {
    tokio::time::timeout(PATIENCE, cluster.run_command("test", command, &write()))
        .await
        .expect("the command hung")
}

/// The events received until the second ConnectionCheckedOut of `address`'s pool (that of
/// the second command), that one included.
async fn events_through_second_check_out(
    events: &mut EventSubscriber,
    address: &ServerAddress,
) -> Vec<EventKind> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    let mut check_outs = 0;
    while check_outs < 2 {
        let event = match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(event)) => event,
            Ok(Err(EventRecvError::Missed(missed))) => panic!("missed {missed} events"),
            Ok(Err(closed)) => panic!("{closed}"),
            Err(_) => panic!("no second check-out among {seen:#?}"),
        };
        if let Some(CmapEventKind::ConnectionCheckedOut { .. }) = cmap_of(&event.kind, address) {
            check_outs += 1;
        }
        seen.push(event.kind);
    }
    seen
}

fn cmap_of<'a>(kind: &'a EventKind, address: &ServerAddress) -> Option<&'a CmapEventKind> {
    match kind {
        EventKind::Cmap(event) if &event.address == address => Some(&event.kind),
        _ => None,
    }
}

/// What the pool and the topology did between two commands, from their events.
#[derive(Debug)]
struct Story {
    /// The descriptions that made the server Unknown with an error.
    marked_unknown: Vec<std::sync::Arc<ServerDescription>>,
    /// How many times the pool was cleared.
    cleared: usize,
    /// The connections the two commands used.
    first: ConnectionId,
    second: ConnectionId,
    /// Why the first connection was closed, if it was.
    first_closed: Option<ConnectionClosedReason>,
}

fn story_of(events: &[EventKind], address: &ServerAddress) -> Story {
    let mut marked_unknown = Vec::new();
    let mut cleared = 0;
    let mut checked_out = Vec::new();
    let mut closed = Vec::new();
    for kind in events {
        if let EventKind::Sdam(SdamEvent::ServerDescriptionChanged {
            address: changed,
            new,
            ..
        }) = kind
        {
            if changed == address && new.server_type == ServerType::Unknown && new.error.is_some() {
                marked_unknown.push(new.clone());
            }
        }
        match cmap_of(kind, address) {
            Some(CmapEventKind::PoolCleared { .. }) => cleared += 1,
            Some(CmapEventKind::ConnectionCheckedOut { connection_id, .. }) => {
                checked_out.push(*connection_id)
            }
            Some(CmapEventKind::ConnectionClosed {
                connection_id,
                reason,
            }) => closed.push((*connection_id, *reason)),
            _ => {}
        }
    }
    let (first, second) = (checked_out[0], checked_out[1]);
    let first_closed = closed
        .iter()
        .find(|(id, _)| *id == first)
        .map(|(_, reason)| *reason);
    Story {
        marked_unknown,
        cleared,
        first,
        second,
        first_closed,
    }
}

/// Waits (without selecting, which would request checks) until `address` is the primary
/// again; only an immediate check can make it within [`BACK_AT_ONCE`].
async fn back_at_once(cluster: &Cluster, address: &ServerAddress, what: &str) {
    let back = cluster
        .wait_for(|t| primary_is(t, address), BACK_AT_ONCE)
        .await;
    assert!(back.is_ok(), "{what}: not back at once: {:?}", back.err());
}

// ---------------------------------------------------------------------------------------
// State change errors ("not writable primary", "node is recovering", "node is shutting
// down") from a fake primary.

/// What SDAM must do with a command's error.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Not a state change error: nothing changes.
    Nothing,
    /// The server becomes Unknown and is checked at once; the pool is cleared if and only
    /// if `cleared` (a shutdown error).
    StateChange { cleared: bool },
}

/// One reply to an insert, and what SDAM must do about it.
type Case = (&'static str, Document, Expect);

const KEPT: Expect = Expect::StateChange { cleared: false };
const CLEARED: Expect = Expect::StateChange { cleared: true };

fn failure(code: Option<i32>, errmsg: &str) -> Document {
    let mut reply = doc! { "ok": 0, "errmsg": errmsg };
    if let Some(code) = code {
        reply.insert("code", code);
    }
    reply
}

/// The error a reply carries, as SDAM reads it: the top-level one, else the write concern
/// error (never the writeErrors).
fn error_code_and_message(reply: &Document) -> (Option<i32>, String) {
    let source = match reply.get_document("writeConcernError") {
        Ok(error) if reply.get_i32("ok").ok() == Some(1) => error,
        _ => reply,
    };
    let code = source.get_i32("code").ok();
    (code, source.get_str("errmsg").unwrap_or("").to_string())
}

/// Runs one case against its own fake primary: an insert answered with the case's reply,
/// then a second insert; checks the first's outcome, what happened to the server in
/// between, and which connection the second used.
async fn state_change_case(case: Case, hello: FakeHello) {
    let (name, reply, expect) = case;
    let what = format!("{name} (maxWireVersion {})", hello.max_wire_version);
    let (fake, cluster, mut events) = fake_primary(hello, "").await;
    let address = fake.address.clone();
    fake.then(Answer::Reply(reply.clone()));
    let outcome = run(&cluster, insert()).await;
    let (code, message) = error_code_and_message(&reply);
    if reply.get_i32("ok").ok() == Some(1) {
        assert!(outcome.is_ok(), "{what}: {outcome:?}");
    } else {
        match &outcome {
            Err(ClusterError::Command {
                address: failed,
                failure,
            }) => {
                assert_eq!(failed, &address, "{what}");
                assert_eq!(
                    (&failure.code, &failure.message),
                    (&code, &message),
                    "{what}"
                );
            }
            other => panic!("{what}: expected the server's error, got {other:?}"),
        }
    }
    if expect == Expect::Nothing {
        // The error has been applied when the command returns.
        assert!(primary_is(&cluster.topology(), &address), "{what}");
    } else {
        back_at_once(&cluster, &address, &what).await;
    }
    let mut connection = tokio::time::timeout(PATIENCE, cluster.checkout(&write()))
        .await
        .expect("the check-out hung")
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    let generation = connection.generation();
    let second = connection.run_command("test", insert()).await;
    assert!(second.is_ok(), "{what}: {second:?}");
    drop(connection);
    let story = story_of(
        &events_through_second_check_out(&mut events, &address).await,
        &address,
    );
    match expect {
        Expect::Nothing => {
            assert!(story.marked_unknown.is_empty(), "{what}: {story:?}");
            assert_eq!(story.cleared, 0, "{what}: {story:?}");
            assert_eq!(story.second, story.first, "{what}: {story:?}");
        }
        Expect::StateChange { cleared } => {
            let [unknown] = story.marked_unknown.as_slice() else {
                panic!("{what}: marked Unknown once, not {story:?}");
            };
            let error = unknown.error.as_ref().expect("the error is kept");
            assert_eq!(error.kind, ServerErrorKind::Command, "{what}: {error}");
            assert_eq!(error.code, code, "{what}: {error}");
            assert!(error.message.contains(&message), "{what}: {error}");
            assert_eq!(story.cleared, usize::from(cleared), "{what}: {story:?}");
            assert_eq!(generation, u32::from(cleared), "{what}");
            if cleared {
                // The first connection came back to a cleared pool and was closed.
                assert_ne!(story.second, story.first, "{what}: {story:?}");
                assert_eq!(
                    story.first_closed,
                    Some(ConnectionClosedReason::Stale),
                    "{what}: {story:?}"
                );
            } else {
                assert_eq!(story.second, story.first, "{what}: {story:?}");
            }
        }
    }
    assert_eq!(fake.commands(), 2, "{what}");
    cluster.close().await;
}

/// Runs every case concurrently, each against its own fake server.
async fn state_change_cases(cases: Vec<Case>, hellos: &[FakeHello]) {
    let mut runs = Vec::new();
    for hello in hellos {
        for case in &cases {
            runs.push(tokio::spawn(state_change_case(case.clone(), *hello)));
        }
    }
    for run in runs {
        if let Err(error) = run.await {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}

/// 4.2 (wire 8) and 7.0 (wire 21): the same rules.
const BOTH: [FakeHello; 2] = [
    FakeHello::V4_2,
    FakeHello {
        max_wire_version: 21,
        ..FakeHello::V4_2
    },
];

#[tokio::test]
async fn state_change_codes_mark_the_server_unknown_and_check_it_at_once_keeping_the_pool() {
    let cases = vec![
        (
            "NotWritablePrimary",
            failure(Some(10107), "not primary"),
            KEPT,
        ),
        (
            "NotPrimaryNoSecondaryOk",
            failure(Some(13435), "not primary and secondaryOk=false"),
            KEPT,
        ),
        (
            "LegacyNotPrimary",
            failure(Some(10058), "not primary"),
            KEPT,
        ),
        (
            "InterruptedDueToReplStateChange",
            failure(Some(11602), "operation was interrupted"),
            KEPT,
        ),
        (
            "NotPrimaryOrSecondary",
            failure(Some(13436), "node is recovering"),
            KEPT,
        ),
        (
            "PrimarySteppedDown",
            failure(Some(189), "primary stepped down"),
            KEPT,
        ),
    ];
    state_change_cases(cases, &BOTH).await;
}

#[tokio::test]
async fn shutdown_codes_also_clear_the_pool() {
    let cases = vec![
        (
            "ShutdownInProgress",
            failure(Some(91), "The server is in quiesce mode and will shut down"),
            CLEARED,
        ),
        (
            "InterruptedAtShutdown",
            failure(Some(11600), "interrupted at shutdown"),
            CLEARED,
        ),
    ];
    state_change_cases(cases, &BOTH).await;
}

#[tokio::test]
async fn without_a_code_the_message_decides_and_never_clears_the_pool() {
    let cases = vec![
        ("\"not master\"", failure(None, "not master"), KEPT),
        (
            "\"node is recovering\"",
            failure(None, "the node is recovering"),
            KEPT,
        ),
        (
            "\"not master or secondary\"",
            failure(None, "not master or secondary; cannot currently read"),
            KEPT,
        ),
        // isShutdown needs a code: a message alone is no shutdown, nor a state change.
        (
            "\"interrupted at shutdown\" without a code",
            failure(None, "interrupted at shutdown"),
            Expect::Nothing,
        ),
    ];
    state_change_cases(cases, &[FakeHello::V4_2]).await;
}

#[tokio::test]
async fn a_code_is_used_alone_and_other_errors_change_nothing() {
    let cases = vec![
        // "prefer-error-code": the message is not looked at when there is a code.
        (
            "\"not master\" with code 2",
            failure(Some(2), "not master"),
            Expect::Nothing,
        ),
        (
            "DuplicateKey",
            failure(Some(11000), "E11000 duplicate key error"),
            Expect::Nothing,
        ),
    ];
    state_change_cases(cases, &[FakeHello::V4_2]).await;
}

#[tokio::test]
async fn write_concern_errors_are_checked_and_write_errors_are_not() {
    let cases = vec![
        (
            "writeConcernError ShutdownInProgress",
            doc! {
                "n": 1, "ok": 1,
                "writeConcernError": { "code": 91, "errmsg": "shutdown in progress" },
            },
            CLEARED,
        ),
        (
            "writeConcernError NotWritablePrimary",
            doc! {
                "n": 1, "ok": 1,
                "writeConcernError": { "code": 10107, "errmsg": "not primary" },
            },
            KEPT,
        ),
        (
            "writeErrors NotWritablePrimary",
            doc! {
                "n": 0, "ok": 1,
                "writeErrors": [{ "index": 0, "code": 10107, "errmsg": "not master" }],
            },
            Expect::Nothing,
        ),
    ];
    state_change_cases(cases, &[FakeHello::V4_2]).await;
}

#[tokio::test]
async fn a_pre_4_2_server_gets_no_command_so_no_pre_4_2_rule_is_needed() {
    // The pinned SDAM text dropped its pre-4.2 pool rules: a server below wire version 8
    // makes the topology incompatible, and selection refuses it without waiting.
    let hello = FakeHello {
        max_wire_version: 7,
        ..FakeHello::V4_2
    };
    let fake = FakeServer::start(hello).await;
    let (cluster, _events) = with_events(
        std::slice::from_ref(&fake.address),
        &format!("replicaSet={FAKE_SET}"),
    );
    wait_until(&cluster, "the fake checked", |t| {
        t.compatibility_error.is_some()
    })
    .await;
    let refused = run(&cluster, insert()).await;
    match &refused {
        Err(ClusterError::Selection(error)) => {
            assert!(error.to_string().contains("wire version 7"), "{error}")
        }
        other => panic!("expected an incompatible topology, got {other:?}"),
    }
    assert_eq!(fake.commands(), 0);
    cluster.close().await;
}

// ---------------------------------------------------------------------------------------
// State change errors from the simulator's injected faults.

#[tokio::test]
async fn a_simulated_not_writable_primary_and_node_is_recovering_are_handled_as_sdam_says() {
    // 4.2: no topologyVersion, so the injected errors are never stale.
    let spec = DeploymentSpec::replica_set("rs0", 2, 0, 0).with_version(ServerVersion::V4_2);
    let sim = start(spec).await;
    let (primary, secondary) = (address(&sim, 0), address(&sim, 1));
    let (cluster, mut events) = with_events(std::slice::from_ref(&primary), "replicaSet=rs0");
    wait_until(&cluster, "a primary and a secondary", |t| {
        primary_is(t, &primary) && count(t, ServerType::RsSecondary) == 1
    })
    .await;

    sim.fault(&MemberRef::Index(0), FaultKind::NotWritablePrimary(1))
        .unwrap();
    let refused = run(&cluster, insert()).await;
    assert!(
        matches!(
            refused,
            Err(ClusterError::Command { ref failure, .. }) if failure.code == Some(10107)
        ),
        "{refused:?}"
    );
    back_at_once(&cluster, &primary, "after NotWritablePrimary").await;
    let again = run(&cluster, insert()).await;
    assert!(again.is_ok(), "{again:?}");
    let story = story_of(
        &events_through_second_check_out(&mut events, &primary).await,
        &primary,
    );
    assert_eq!(story.marked_unknown.len(), 1, "{story:?}");
    assert_eq!(story.cleared, 0, "{story:?}");
    assert_eq!(story.second, story.first, "{story:?}");

    sim.fault(&MemberRef::Index(1), FaultKind::NodeIsRecovering(1))
        .unwrap();
    let secondary_read =
        SelectionCriteria::read(ReadPreference::with_mode(ReadPreferenceMode::Secondary));
    let find = || doc! { "find": "things", "filter": {} };
    let recovering = cluster.run_command("test", find(), &secondary_read).await;
    assert!(
        matches!(
            recovering,
            Err(ClusterError::Command { ref failure, .. }) if failure.code == Some(13436)
        ),
        "{recovering:?}"
    );
    let back = cluster
        .wait_for(
            |t| t.server(&secondary).map(|s| s.server_type) == Some(ServerType::RsSecondary),
            BACK_AT_ONCE,
        )
        .await;
    assert!(back.is_ok(), "{:?}", back.err());
    let read = cluster.run_command("test", find(), &secondary_read).await;
    assert!(read.is_ok(), "{read:?}");
    let story = story_of(
        &events_through_second_check_out(&mut events, &secondary).await,
        &secondary,
    );
    assert_eq!(story.marked_unknown.len(), 1, "{story:?}");
    assert_eq!(story.cleared, 0, "{story:?}");
    assert_eq!(story.second, story.first, "{story:?}");
    cluster.close().await;
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Bad input on a command's reply.

/// socketTimeoutMS for the bad-input tests.
const SOCKET_TIMEOUT: Duration = Duration::from_millis(500);

/// A command answered with `answer`: a [`ClusterError::Connection`] whose source `is_cause`
/// accepts, the connection discarded, and the server Unknown with its pool cleared unless
/// the cause is a timeout; the next command works on a new connection.
async fn bad_reply(answer: Answer, is_cause: fn(&ConnectionError) -> bool) {
    let what = format!("{answer:?}");
    let options = format!("socketTimeoutMS={}", SOCKET_TIMEOUT.as_millis());
    let (fake, cluster, mut events) = fake_primary(FakeHello::V4_2, &options).await;
    let address = fake.address.clone();
    fake.then(answer);
    let started = Instant::now();
    let failed = run(&cluster, insert()).await;
    let took = started.elapsed();
    let source = match failed {
        Err(ClusterError::Connection {
            address: failed,
            source,
        }) => {
            assert_eq!(failed, address, "{what}");
            source
        }
        other => panic!("{what}: expected a connection error, got {other:?}"),
    };
    assert!(is_cause(&source), "{what}: {source}");
    let timed_out = matches!(source, ConnectionError::Timeout { .. });
    if timed_out {
        assert!(took >= SOCKET_TIMEOUT, "{what}: gave up after {took:?}");
        assert!(took < SOCKET_TIMEOUT + MARGIN, "{what}: hung for {took:?}");
        // A timeout may be a slow operation: the server stays (checked on return).
        assert!(primary_is(&cluster.topology(), &address), "{what}");
    }
    let next = run(&cluster, insert()).await;
    assert!(next.is_ok(), "{what}: {next:?}");
    let story = story_of(
        &events_through_second_check_out(&mut events, &address).await,
        &address,
    );
    assert_ne!(story.second, story.first, "{what}: {story:?}");
    if timed_out {
        assert!(story.marked_unknown.is_empty(), "{what}: {story:?}");
        assert_eq!(story.cleared, 0, "{what}: {story:?}");
        assert_eq!(
            story.first_closed,
            Some(ConnectionClosedReason::Error),
            "{what}: {story:?}"
        );
    } else {
        let [unknown] = story.marked_unknown.as_slice() else {
            panic!("{what}: marked Unknown once, not {story:?}");
        };
        let error = unknown.error.as_ref().expect("the error is kept");
        assert_eq!(error.kind, ServerErrorKind::Network, "{what}: {error}");
        assert_eq!(story.cleared, 1, "{what}: {story:?}");
        // Closed on its return to the cleared pool.
        assert_eq!(
            story.first_closed,
            Some(ConnectionClosedReason::Stale),
            "{what}: {story:?}"
        );
    }
    assert!(!cluster.is_closed(), "{what}: the cluster task survived");
    cluster.close().await;
}

fn is_protocol(error: &ConnectionError) -> bool {
    matches!(error, ConnectionError::Protocol { .. })
}

fn is_network(error: &ConnectionError) -> bool {
    matches!(error, ConnectionError::Network { .. })
}

fn is_read_timeout(error: &ConnectionError) -> bool {
    matches!(error, ConnectionError::Timeout { during: "read" })
}

#[tokio::test]
async fn a_garbage_reply_is_a_protocol_error_that_clears_the_pool() {
    bad_reply(Answer::Garbage, is_protocol).await;
}

#[tokio::test]
async fn a_reply_to_another_request_is_a_protocol_error_that_clears_the_pool() {
    bad_reply(Answer::WrongResponseTo, is_protocol).await;
}

#[tokio::test]
async fn an_oversized_reply_is_refused_at_its_header_without_waiting_for_it() {
    bad_reply(Answer::OversizedLength, is_protocol).await;
}

#[tokio::test]
async fn half_a_reply_then_a_reset_is_a_network_error_that_clears_the_pool() {
    bad_reply(Answer::HalfThenReset, is_network).await;
}

#[tokio::test]
async fn no_reply_is_a_timeout_after_socket_timeout_that_keeps_server_and_pool() {
    bad_reply(Answer::Silence, is_read_timeout).await;
}

// ---------------------------------------------------------------------------------------
// Pool limits and command size.

#[tokio::test]
async fn a_full_pool_times_out_a_second_check_out_and_serves_it_once_the_first_returns() {
    const WAIT_QUEUE_TIMEOUT: Duration = Duration::from_millis(200);
    let sim = start(DeploymentSpec::replica_set("rs0", 1, 0, 0)).await;
    let primary = address(&sim, 0);
    let options = format!(
        "replicaSet=rs0&maxPoolSize=1&waitQueueTimeoutMS={}",
        WAIT_QUEUE_TIMEOUT.as_millis()
    );
    let (cluster, mut events) = with_events(std::slice::from_ref(&primary), &options);
    let first = cluster
        .checkout(&write())
        .await
        .expect("the first check-out");
    let started = Instant::now();
    let second = tokio::time::timeout(PATIENCE, cluster.checkout(&write()))
        .await
        .expect("the wait queue timeout fires");
    let waited = started.elapsed();
    match &second {
        Err(ClusterError::Pool(PoolError::CheckOut {
            address,
            error: CheckOutError::Timeout,
        })) => assert_eq!(address, &primary),
        other => panic!("expected a wait queue timeout, got {other:?}"),
    }
    let text = second.expect_err("checked").to_string();
    assert!(text.contains(&primary.to_string()), "{text}");
    assert!(waited >= WAIT_QUEUE_TIMEOUT, "{waited:?}");
    assert!(waited < WAIT_QUEUE_TIMEOUT + MARGIN, "{waited:?}");

    drop(first);
    // No clock needed: a check-out that had to wait would fail like the second one did.
    let mut third = tokio::time::timeout(PATIENCE, cluster.checkout(&write()))
        .await
        .expect("no hang")
        .expect("the returned connection is handed out");
    assert!(third.run_command("test", insert()).await.is_ok());
    drop(third);
    let events = events_through_second_check_out(&mut events, &primary).await;
    let failures: Vec<_> = events
        .iter()
        .filter_map(|kind| match cmap_of(kind, &primary) {
            Some(CmapEventKind::ConnectionCheckOutFailed { reason, .. }) => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(failures, [CheckOutFailedReason::Timeout]);
    let story = story_of(&events, &primary);
    assert_eq!(story.second, story.first, "the one connection, reused");
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_command_larger_than_max_bson_object_size_is_refused_before_it_is_sent() {
    const MAX: i32 = 1_024;
    let hello = FakeHello {
        max_bson_object_size: MAX,
        ..FakeHello::V4_2
    };
    let (fake, cluster, _events) = fake_primary(hello, "").await;
    let mut connection = cluster.checkout(&write()).await.expect("a connection");
    let big = doc! { "insert": "things", "documents": [{ "x": "y".repeat(2 * 1_024) }] };
    let refused = connection.run_command("test", big).await;
    match refused {
        Err(ClusterError::CommandTooLarge { size, max }) => {
            assert_eq!(max, i64::from(MAX));
            assert!(size > max, "{size}");
        }
        other => panic!("expected CommandTooLarge, got {other:?}"),
    }
    assert_eq!(fake.commands(), 0, "nothing was sent");
    // The connection is intact: the next command goes out on it.
    let small = connection.run_command("test", insert()).await;
    assert!(small.is_ok(), "{small:?}");
    assert_eq!(fake.commands(), 1);
    assert!(primary_is(&cluster.topology(), &fake.address));
    drop(connection);
    cluster.close().await;
}
