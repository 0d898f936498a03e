//! Property tests of the pure SDAM state machine: random sequences of hello replies, check
//! failures, application errors and closes over a small universe of addresses must keep the
//! topology description coherent, every answer's actions and events must follow from the
//! descriptions before and after the input (the rules are in `sdam_support`), and no reply
//! document, however malformed, may panic.

mod sdam_support;

use std::collections::BTreeSet;

use bson::oid::ObjectId;
use bson::{doc, Bson, Document};
use mongo_topology_core::sdam::{
    ApplicationError, ApplicationErrorKind, CheckTiming, CommandFailure, ErrorPhase,
    ServerDescription, ServerError, ServerErrorKind, ServerType, Topology, TopologySettings,
    TopologyType, TopologyVersion,
};
use mongo_topology_core::{MonotonicTime, ServerAddress};
use proptest::prelude::*;
use sdam_support::{check_close, check_input, check_opening, described, Applied};

const HOSTS: [&str; 5] = ["a:27017", "b:27017", "c:27017", "d:27017", "e:27017"];

fn host(index: usize) -> ServerAddress {
    ServerAddress::parse(HOSTS[index % HOSTS.len()]).unwrap()
}

/// One input to the state machine.
#[derive(Clone, Debug)]
enum Input {
    Hello(usize, Document),
    CheckFailure(usize, ServerErrorKind),
    AppError(usize, AppErrorInput),
    Close,
}

/// The random parts of an application error.
#[derive(Clone, Debug)]
struct AppErrorInput {
    generation: u32,
    after_handshake: bool,
    code: Option<i32>,
    service: Option<u8>,
    topology_version: Option<(u8, i64)>,
}

/// One of two process ids, so that topologyVersions sometimes compare by counter.
fn topology_version(process: u8, counter: i64) -> TopologyVersion {
    TopologyVersion {
        process_id: ObjectId::from_bytes([process; 12]),
        counter,
    }
}

fn host_list() -> impl Strategy<Value = Vec<Bson>> {
    proptest::sample::subsequence(HOSTS.to_vec(), 0..=HOSTS.len())
        .prop_map(|hosts| hosts.into_iter().map(|h| Bson::String(h.into())).collect())
}

/// A well-typed hello reply with random role, set name, members, election and version.
fn hello_reply() -> impl Strategy<Value = Document> {
    (
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (prop::option::of(prop_oneof!["rs", "other"]), 0..8u8),
        (host_list(), host_list(), host_list()),
        (prop::option::of(0..4usize), prop::option::of(0..5usize)),
        (prop::option::of(1..4u8), prop::option::of(1..4i64)),
        (
            prop_oneof![Just(9), Just(17), Just(21)],
            prop::option::of((1..3u8, 1..3i64)),
        ),
    )
        .prop_map(
            |(
                (primary, secondary, arbiter, hidden),
                (set_name, special),
                (hosts, passives, arbiters),
                (me, reported_primary),
                (election, set_version),
                (max_wire, version),
            )| {
                let mut reply = doc! {
                    "ok": if special == 7 { 0 } else { 1 },
                    "isWritablePrimary": primary,
                    "secondary": secondary,
                    "arbiterOnly": arbiter,
                    "hidden": hidden && special == 1,
                    "hosts": hosts,
                    "passives": passives,
                    "arbiters": arbiters,
                    "minWireVersion": 0,
                    "maxWireVersion": max_wire,
                };
                if let Some(name) = set_name {
                    reply.insert("setName", name);
                }
                match special {
                    2 => {
                        reply.insert("msg", "isdbgrid");
                    }
                    3 => {
                        reply.insert("isreplicaset", true);
                    }
                    _ => {}
                }
                if let Some(me) = me {
                    reply.insert("me", HOSTS[me]);
                }
                if let Some(p) = reported_primary {
                    reply.insert("primary", HOSTS[p]);
                }
                if let Some(e) = election {
                    reply.insert(
                        "electionId",
                        ObjectId::from_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, e]),
                    );
                }
                if let Some(v) = set_version {
                    reply.insert("setVersion", v);
                }
                if let Some((process, counter)) = version {
                    let version = topology_version(process, counter);
                    reply.insert(
                        "topologyVersion",
                        doc! { "processId": version.process_id, "counter": version.counter },
                    );
                }
                reply
            },
        )
}

/// Any BSON value, of any type, nested a little.
fn any_bson() -> impl Strategy<Value = Bson> {
    let leaf = prop_oneof![
        Just(Bson::Null),
        any::<bool>().prop_map(Bson::Boolean),
        any::<i32>().prop_map(Bson::Int32),
        any::<i64>().prop_map(Bson::Int64),
        any::<f64>().prop_map(Bson::Double),
        ".{0,12}".prop_map(Bson::String),
        prop_oneof![
            Just("a:27017"),
            Just("[::1"),
            Just("x:0"),
            Just(""),
            Just("B:1")
        ]
        .prop_map(|s| Bson::String(s.into())),
        any::<[u8; 12]>().prop_map(|b| Bson::ObjectId(ObjectId::from_bytes(b))),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
            prop::collection::vec((field_name(), inner), 0..4)
                .prop_map(|pairs| Bson::Document(pairs.into_iter().collect())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "ok",
        "isWritablePrimary",
        "ismaster",
        "secondary",
        "arbiterOnly",
        "hidden",
        "isreplicaset",
        "msg",
        "setName",
        "setVersion",
        "electionId",
        "hosts",
        "passives",
        "arbiters",
        "primary",
        "me",
        "tags",
        "lastWrite",
        "lastWriteDate",
        "opTime",
        "minWireVersion",
        "maxWireVersion",
        "logicalSessionTimeoutMinutes",
        "topologyVersion",
        "processId",
        "counter",
        "iscryptd",
        "maxBsonObjectSize",
        "code",
        "errmsg",
    ])
    .prop_map(str::to_string)
}

/// A reply of random shape: known field names with values of any type.
fn garbage_reply() -> impl Strategy<Value = Document> {
    prop::collection::vec((field_name(), any_bson()), 0..10)
        .prop_map(|pairs| pairs.into_iter().collect())
}

fn check_failure_kind() -> impl Strategy<Value = ServerErrorKind> {
    prop::sample::select(vec![
        ServerErrorKind::Network,
        ServerErrorKind::Timeout,
        ServerErrorKind::Connect,
        ServerErrorKind::Dns,
        ServerErrorKind::Command,
        ServerErrorKind::Protocol,
    ])
}

fn app_error_input() -> impl Strategy<Value = AppErrorInput> {
    (
        0..3u32,
        any::<bool>(),
        prop::option::weighted(0.7, prop::sample::select(vec![91, 189, 10107, 11600, 1])),
        prop::option::of(1..3u8),
        prop::option::weighted(0.7, (1..3u8, 1..3i64)),
    )
        .prop_map(
            |(generation, after_handshake, code, service, topology_version)| AppErrorInput {
                generation,
                after_handshake,
                code,
                service,
                topology_version,
            },
        )
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        24 => (0..HOSTS.len(), hello_reply()).prop_map(|(h, r)| Input::Hello(h, r)),
        4 => (0..HOSTS.len(), garbage_reply()).prop_map(|(h, r)| Input::Hello(h, r)),
        4 => (0..HOSTS.len(), check_failure_kind()).prop_map(|(h, k)| Input::CheckFailure(h, k)),
        4 => (0..HOSTS.len(), app_error_input()).prop_map(|(h, e)| Input::AppError(h, e)),
        1 => Just(Input::Close),
    ]
}

/// Seeds with an optional set name and directConnection, or (one time in ten) a single
/// load balancer.
fn settings() -> impl Strategy<Value = TopologySettings> {
    let ordinary = (
        proptest::sample::subsequence((0..HOSTS.len()).collect::<Vec<_>>(), 1..=3),
        prop::option::of(prop_oneof!["rs", "other"]),
        any::<bool>(),
    )
        .prop_map(|(seeds, set_name, direct)| {
            let single = seeds.len() == 1;
            let mut settings = TopologySettings::new(seeds.into_iter().map(host).collect());
            settings.replica_set_name = set_name;
            settings.direct_connection = Some(direct && single);
            settings
        });
    let load_balanced = (0..HOSTS.len()).prop_map(|seed| {
        let mut settings = TopologySettings::new(vec![host(seed)]);
        settings.load_balanced = true;
        settings
    });
    prop_oneof![9 => ordinary, 1 => load_balanced]
}

fn app_error(address: ServerAddress, input: &AppErrorInput) -> ApplicationError {
    let kind = match input.code {
        Some(code) => ApplicationErrorKind::Command(CommandFailure {
            code: Some(code),
            message: "injected".into(),
            topology_version: input
                .topology_version
                .map(|(process, counter)| topology_version(process, counter)),
            ..CommandFailure::default()
        }),
        None => ApplicationErrorKind::Network,
    };
    ApplicationError {
        address,
        generation: input.generation,
        service_id: input
            .service
            .map(|service| ObjectId::from_bytes([service; 12])),
        phase: if input.after_handshake {
            ErrorPhase::AfterHandshake
        } else {
            ErrorPhase::ConnectionEstablishment
        },
        kind,
        system_overloaded: false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// After every step of a random sequence of inputs (ending with a close), the actions
    /// and events follow from the descriptions before and after, and the description stays
    /// coherent.
    #[test]
    fn topology_stays_coherent(settings in settings(), mut inputs in prop::collection::vec(input(), 1..25)) {
        let (mut topology, opening) = Topology::new(settings.clone(), MonotonicTime::ZERO).unwrap();
        check_opening(&topology, &opening)?;
        let mut known: BTreeSet<ServerAddress> = settings.seeds.iter().cloned().collect();
        let mut closed = false;
        inputs.push(Input::Close);
        for (step, input) in inputs.into_iter().enumerate() {
            let now = MonotonicTime::from_millis(step as u64 + 1);
            let before = topology.clone();
            let mut checked: Option<ServerAddress> = None;
            match input {
                Input::Hello(h, reply) => {
                    let parsed = ServerDescription::from_hello(host(h), &reply, CheckTiming::at(now));
                    known.extend(parsed.all_reported_members().cloned());
                    let changes = topology.apply_hello(&host(h), &reply, CheckTiming::at(now));
                    check_input(&before, &topology, closed, &Applied::Check(&parsed), &changes)?;
                    checked = Some(parsed.address.clone());
                }
                Input::CheckFailure(h, kind) => {
                    let error = ServerError::new(kind, "injected");
                    let failed = ServerDescription::unknown_with_error(host(h), error.clone(), now);
                    let changes = topology.apply_check_failure(&host(h), error, now);
                    check_input(&before, &topology, closed, &Applied::Check(&failed), &changes)?;
                }
                Input::AppError(h, error) => {
                    let error = app_error(host(h), &error);
                    let changes = topology.apply_application_error(&error, now);
                    check_input(&before, &topology, closed, &Applied::ApplicationError(&error), &changes)?;
                }
                Input::Close => {
                    let changes = topology.close();
                    if closed {
                        prop_assert!(changes.actions.is_empty(), "a second close acted");
                        prop_assert_eq!(described(&changes.description), described(before.description()));
                    } else {
                        check_close(&before, &topology, &changes)?;
                    }
                    closed = true;
                }
            }
            let td = described(topology.description());
            let primaries = td.servers.values().filter(|s| s.server_type == ServerType::RsPrimary).count();
            prop_assert!(primaries <= 1, "two primaries: {:?}", td);
            for address in td.servers.keys() {
                prop_assert!(known.contains(address), "{} was never seeded nor reported", address);
            }
            // The lists of a primary whose reply was accepted (a stale one is ignored, so
            // read the lists from the description kept) bound the servers.
            let primary = checked.and_then(|address| td.server(&address).cloned());
            if let Some(primary) = primary.filter(|s| s.server_type == ServerType::RsPrimary) {
                if td.topology_type != TopologyType::Single {
                    let members: BTreeSet<_> = primary.all_reported_members().collect();
                    for address in td.servers.keys() {
                        prop_assert!(members.contains(address), "{} not in the primary's lists", address);
                    }
                }
            }
            match td.topology_type {
                TopologyType::ReplicaSetWithPrimary => prop_assert_eq!(primaries, 1),
                TopologyType::ReplicaSetNoPrimary => prop_assert_eq!(primaries, 0),
                TopologyType::Single => prop_assert_eq!(td.servers.len(), 1),
                _ => {}
            }
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// No document, however ill-typed, panics the parser; a result that is not Unknown has
    /// no error, and an Unknown one from a non-empty reply explains itself.
    #[test]
    fn any_reply_parses_without_panic(reply in garbage_reply()) {
        let parsed = ServerDescription::from_hello(host(0), &reply, CheckTiming::at(MonotonicTime::ZERO));
        if parsed.server_type == ServerType::Unknown {
            prop_assert!(parsed.error.is_some());
        } else {
            prop_assert!(parsed.error.is_none());
        }
        let (mut topology, _) = Topology::new(TopologySettings::new(vec![host(0)]), MonotonicTime::ZERO).unwrap();
        let _ = topology.apply_hello(&host(0), &reply, CheckTiming::at(MonotonicTime::ZERO));
    }
}
