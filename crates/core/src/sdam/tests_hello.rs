//! Unit tests of hello parsing, description equality, topologyVersion comparison and error
//! classification: the rules the spec suites exercise only thinly.

use std::cmp::Ordering;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{doc, Bson};

use crate::address::ServerAddress;
use crate::sdam::errors::{
    ApplicationError, ApplicationErrorKind, CommandFailure, ErrorDecision, ErrorPhase,
};
use crate::sdam::hello::{CheckTiming, MAX_MEMBERS_PER_LIST};
use crate::sdam::server::{ServerDescription, ServerErrorKind, ServerType, TopologyVersion};
use crate::time::MonotonicTime;

fn a() -> ServerAddress {
    ServerAddress::parse("a:27017").unwrap()
}

fn parse(reply: bson::Document) -> ServerDescription {
    let timing = CheckTiming {
        round_trip_time: Some(Duration::from_millis(5)),
        min_round_trip_time: Some(Duration::from_millis(3)),
        now: MonotonicTime::from_millis(7),
    };
    ServerDescription::from_hello(a(), &reply, timing)
}

fn protocol_error_mentions(reply: bson::Document, field: &str) {
    let server = parse(reply);
    assert_eq!(server.server_type, ServerType::Unknown);
    let error = server.error.expect("an error");
    assert_eq!(error.kind, ServerErrorKind::Protocol);
    assert!(
        error.message.contains(field),
        "{:?} should name {field}",
        error.message
    );
    assert_eq!(
        server.round_trip_time, None,
        "Unknown descriptions carry no RTT"
    );
}

#[test]
fn is_writable_primary_takes_precedence_over_legacy_ismaster() {
    let server =
        parse(doc! {"ok": 1, "isWritablePrimary": false, "ismaster": true, "setName": "rs"});
    assert_eq!(server.server_type, ServerType::RsOther);
    let legacy = parse(doc! {"ok": 1.0, "ismaster": true, "setName": "rs"});
    assert_eq!(legacy.server_type, ServerType::RsPrimary);
}

#[test]
fn server_types_follow_the_spec_table() {
    let cases = [
        (
            doc! {"ok": 1, "msg": "isdbgrid", "isWritablePrimary": true},
            ServerType::Mongos,
        ),
        (
            doc! {"ok": 1, "isreplicaset": true, "isWritablePrimary": false},
            ServerType::RsGhost,
        ),
        (
            doc! {"ok": 1, "isWritablePrimary": true},
            ServerType::Standalone,
        ),
        (
            doc! {"ok": 1, "setName": "rs", "secondary": true},
            ServerType::RsSecondary,
        ),
        (
            doc! {"ok": 1, "setName": "rs", "arbiterOnly": true},
            ServerType::RsArbiter,
        ),
        (
            doc! {"ok": 1, "setName": "rs", "secondary": true, "hidden": true},
            ServerType::RsOther,
        ),
        (doc! {"ok": 1, "setName": "rs"}, ServerType::RsOther),
        (
            doc! {"ok": 0, "setName": "rs", "isWritablePrimary": true},
            ServerType::Unknown,
        ),
        (doc! {}, ServerType::Unknown),
    ];
    for (reply, expected) in cases {
        assert_eq!(parse(reply.clone()).server_type, expected, "{reply}");
    }
}

#[test]
fn a_successful_reply_is_parsed_in_full() {
    let process_id = ObjectId::from_bytes([1; 12]);
    let server = parse(doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "rs", "setVersion": 3_i64,
        "hosts": ["A:27017", "b"], "passives": ["c:1"], "arbiters": ["d:2"],
        "me": "A:27017", "primary": "a:27017", "tags": {"dc": "east"},
        "logicalSessionTimeoutMinutes": 30, "minWireVersion": 0, "maxWireVersion": 21,
        "topologyVersion": {"processId": process_id, "counter": 4_i64},
        "lastWrite": {"lastWriteDate": bson::DateTime::from_millis(1000), "opTime": {"ts": 1}},
    });
    assert_eq!(server.server_type, ServerType::RsPrimary);
    assert!(server.hosts.contains(&a()), "host names are lower-cased");
    assert!(server
        .hosts
        .contains(&ServerAddress::parse("b:27017").unwrap()));
    assert_eq!(server.me, Some(a()));
    assert_eq!(server.set_version, Some(3));
    assert_eq!(server.tags.get("dc").map(String::as_str), Some("east"));
    assert_eq!(server.logical_session_timeout_minutes, Some(30));
    assert_eq!(
        server.topology_version,
        Some(TopologyVersion {
            process_id,
            counter: 4
        })
    );
    assert_eq!(
        server.last_write_date,
        Some(bson::DateTime::from_millis(1000))
    );
    assert_eq!(server.round_trip_time, Some(Duration::from_millis(5)));
    assert_eq!(server.last_update_time, Some(MonotonicTime::from_millis(7)));
}

#[test]
fn every_member_keeps_the_election_id_and_set_version_it_reports() {
    // A secondary's electionId is kept in its description (only the topology's
    // maxElectionId ignores it: SDAM updateRSWithoutPrimary never reads it).
    let election = ObjectId::parse_str("0000000000000000000000aa").unwrap();
    let secondary = parse(doc! {
        "ok": 1, "isWritablePrimary": false, "secondary": true, "setName": "rs",
        "hosts": ["a:27017"], "setVersion": 3, "electionId": election,
        "minWireVersion": 0, "maxWireVersion": 21,
    });
    assert_eq!(secondary.server_type, ServerType::RsSecondary);
    assert_eq!(secondary.election_id, Some(election));
    assert_eq!(secondary.set_version, Some(3));
}

#[test]
fn not_ok_replies_keep_the_server_error() {
    let server = parse(doc! {"ok": 0, "errmsg": "auth failed", "code": 18});
    let error = server.error.unwrap();
    assert_eq!(error.kind, ServerErrorKind::Command);
    assert_eq!(error.code, Some(18));
    assert!(error.message.contains("auth failed"));
}

#[test]
fn mistyped_or_absurd_fields_make_the_reply_unusable() {
    protocol_error_mentions(doc! {"ok": 1, "setName": 5}, "setName");
    protocol_error_mentions(doc! {"ok": 1, "hosts": "a:27017"}, "hosts");
    protocol_error_mentions(doc! {"ok": 1, "hosts": ["a:1", 7]}, "hosts[1]");
    protocol_error_mentions(doc! {"ok": 1, "hosts": ["a:99999"]}, "hosts[0]");
    protocol_error_mentions(doc! {"ok": 1, "me": "[::1"}, "me");
    protocol_error_mentions(
        doc! {"ok": 1, "maxWireVersion": 1_i64 << 40},
        "maxWireVersion",
    );
    protocol_error_mentions(
        doc! {"ok": 1, "logicalSessionTimeoutMinutes": -1},
        "logicalSessionTimeoutMinutes",
    );
    protocol_error_mentions(doc! {"ok": 1, "electionId": "7f"}, "electionId");
    protocol_error_mentions(
        doc! {"ok": 1, "topologyVersion": {"counter": 1}},
        "topologyVersion.processId",
    );
    protocol_error_mentions(doc! {"ok": 1, "tags": {"dc": 1}}, "tags.dc");
    protocol_error_mentions(doc! {"ok": "yes"}, "ok");
    protocol_error_mentions(doc! {"ok": 1, "secondary": 1}, "secondary");
    let huge: Vec<Bson> = (0..=MAX_MEMBERS_PER_LIST)
        .map(|i| Bson::String(format!("h{i}:1")))
        .collect();
    protocol_error_mentions(doc! {"ok": 1, "setName": "rs", "hosts": huge}, "hosts");
}

#[test]
fn equality_ignores_round_trip_and_update_times() {
    let reply = doc! {"ok": 1, "setName": "rs", "secondary": true, "hosts": ["a:27017"]};
    let first = parse(reply.clone());
    let later =
        ServerDescription::from_hello(a(), &reply, CheckTiming::at(MonotonicTime::from_millis(99)));
    assert!(first.is_equivalent(&later));
    assert_ne!(first, later);
    let other = parse(doc! {"ok": 1, "setName": "rs", "secondary": true, "hosts": ["b:27017"]});
    assert!(!first.is_equivalent(&other));
}

#[test]
fn topology_version_comparison() {
    let p1 = ObjectId::from_bytes([1; 12]);
    let p2 = ObjectId::from_bytes([2; 12]);
    let tv = |process_id, counter| TopologyVersion {
        process_id,
        counter,
    };
    assert_eq!(
        TopologyVersion::compare(None, Some(&tv(p1, 1))),
        Ordering::Less
    );
    assert_eq!(
        TopologyVersion::compare(Some(&tv(p1, 1)), None),
        Ordering::Less
    );
    assert_eq!(
        TopologyVersion::compare(Some(&tv(p1, 5)), Some(&tv(p2, 1))),
        Ordering::Less
    );
    assert_eq!(
        TopologyVersion::compare(Some(&tv(p1, 2)), Some(&tv(p1, 2))),
        Ordering::Equal
    );
    assert_eq!(
        TopologyVersion::compare(Some(&tv(p1, 3)), Some(&tv(p1, 2))),
        Ordering::Greater
    );
}

fn command(code: Option<i32>, message: &str) -> CommandFailure {
    CommandFailure {
        code,
        message: message.into(),
        ..CommandFailure::default()
    }
}

#[test]
fn state_change_errors_by_code_and_by_message() {
    assert!(command(Some(10107), "whatever").is_not_writable_primary());
    assert!(command(Some(189), "").is_recovering());
    // With a code, the message is not consulted (SDAM: "prefer the error code").
    assert!(!command(Some(1), "not master").is_state_change_error());
    assert!(command(None, "not master").is_not_writable_primary());
    assert!(command(None, "not master or secondary").is_recovering());
    assert!(!command(None, "not master or secondary").is_not_writable_primary());
    assert!(command(None, "node is recovering").is_recovering());
    assert!(command(Some(91), "").is_shutdown());
    assert!(!command(None, "shutdown in progress").is_shutdown());
}

#[test]
fn command_errors_are_found_in_replies() {
    let wce = CommandFailure::from_reply(
        &doc! {"ok": 1, "writeConcernError": {"code": 91, "errmsg": "shutting down"}},
    )
    .unwrap();
    assert_eq!(wce.code, Some(91));
    let legacy =
        CommandFailure::from_reply(&doc! {"$err": "not master and slaveOk=false"}).unwrap();
    assert!(legacy.is_not_writable_primary());
    assert_eq!(
        CommandFailure::from_reply(&doc! {"ok": 1, "writeErrors": [{"code": 10107}]}),
        None
    );
}

#[test]
fn application_error_decisions_depend_on_the_phase() {
    let error = |phase, kind| ApplicationError {
        address: a(),
        generation: 0,
        service_id: None,
        phase,
        kind,
        system_overloaded: false,
    };
    use ApplicationErrorKind::{Network, Timeout};
    use ErrorPhase::{AfterHandshake, Authentication, ConnectionEstablishment};
    assert_eq!(
        error(ConnectionEstablishment, Network).decision(),
        ErrorDecision::Ignore
    );
    assert_eq!(
        error(ConnectionEstablishment, Timeout).decision(),
        ErrorDecision::Ignore
    );
    assert_eq!(
        error(Authentication, Timeout).decision(),
        ErrorDecision::MarkUnknownAndClear
    );
    assert_eq!(
        error(AfterHandshake, Timeout).decision(),
        ErrorDecision::Ignore
    );
    assert_eq!(
        error(AfterHandshake, Network).decision(),
        ErrorDecision::MarkUnknownAndClear
    );
    let auth_failed = ApplicationErrorKind::Command(command(Some(18), "auth failed"));
    assert_eq!(
        error(Authentication, auth_failed.clone()).decision(),
        ErrorDecision::MarkUnknownAndClear
    );
    assert_eq!(
        error(AfterHandshake, auth_failed).decision(),
        ErrorDecision::Ignore
    );
    let shutdown = ApplicationErrorKind::Command(command(Some(11600), ""));
    assert_eq!(
        error(ConnectionEstablishment, shutdown).decision(),
        ErrorDecision::StateChange { shutdown: true }
    );
    let overloaded = ApplicationError {
        system_overloaded: true,
        ..error(Authentication, Network)
    };
    assert_eq!(overloaded.decision(), ErrorDecision::Ignore);
}
