//! Property tests of the pure SDAM state machine: random sequences of hello replies, check
//! failures and application errors over a small universe of addresses must keep the
//! topology description coherent, and no reply document, however malformed, may panic.

use std::collections::BTreeSet;

use bson::oid::ObjectId;
use bson::{doc, Bson, Document};
use mongo_topology::sdam::{
    ApplicationError, ApplicationErrorKind, CheckTiming, CommandError, ErrorPhase,
    ServerDescription, ServerError, ServerErrorKind, ServerType, Topology, TopologySettings,
    TopologyType,
};
use mongo_topology::{MonotonicTime, ServerAddress};
use proptest::prelude::*;

const HOSTS: [&str; 5] = ["a:27017", "b:27017", "c:27017", "d:27017", "e:27017"];

fn host(index: usize) -> ServerAddress {
    ServerAddress::parse(HOSTS[index % HOSTS.len()]).unwrap()
}

/// One input to the state machine.
#[derive(Clone, Debug)]
enum Input {
    Hello(usize, Document),
    CheckFailure(usize),
    AppError(usize, u32, bool, Option<i32>),
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
        prop_oneof![Just(9), Just(17), Just(21)],
    )
        .prop_map(
            |(
                (primary, secondary, arbiter, hidden),
                (set_name, special),
                (hosts, passives, arbiters),
                (me, reported_primary),
                (election, set_version),
                max_wire,
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

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => (0..HOSTS.len(), hello_reply()).prop_map(|(h, r)| Input::Hello(h, r)),
        1 => (0..HOSTS.len(), garbage_reply()).prop_map(|(h, r)| Input::Hello(h, r)),
        1 => (0..HOSTS.len()).prop_map(Input::CheckFailure),
        1 => (0..HOSTS.len(), 0..3u32, any::<bool>(), prop::option::of(prop::sample::select(vec![91, 189, 10107, 11600, 1])))
            .prop_map(|(h, g, after, code)| Input::AppError(h, g, after, code)),
    ]
}

fn settings() -> impl Strategy<Value = TopologySettings> {
    (
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
        })
}

fn app_error(
    address: ServerAddress,
    generation: u32,
    after: bool,
    code: Option<i32>,
) -> ApplicationError {
    let kind = match code {
        Some(code) => ApplicationErrorKind::Command(CommandError {
            code: Some(code),
            message: "injected".into(),
            topology_version: None,
        }),
        None => ApplicationErrorKind::Network,
    };
    ApplicationError {
        address,
        generation,
        service_id: None,
        phase: if after {
            ErrorPhase::AfterHandshake
        } else {
            ErrorPhase::ConnectionEstablishment
        },
        kind,
        system_overloaded: false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Invariants after every step of a random sequence of inputs.
    #[test]
    fn topology_stays_coherent(settings in settings(), inputs in prop::collection::vec(input(), 1..25)) {
        let (mut topology, _) = Topology::new(settings.clone(), MonotonicTime::ZERO).unwrap();
        let mut known: BTreeSet<ServerAddress> = settings.seeds.iter().cloned().collect();
        for (step, input) in inputs.into_iter().enumerate() {
            let now = MonotonicTime::from_millis(step as u64 + 1);
            let mut primary_reply: Option<ServerDescription> = None;
            match input {
                Input::Hello(h, reply) => {
                    let parsed = ServerDescription::from_hello(host(h), &reply, CheckTiming::at(now));
                    known.extend(parsed.all_reported_members().cloned());
                    topology.apply_hello(&host(h), &reply, CheckTiming::at(now));
                    primary_reply = Some(parsed);
                }
                Input::CheckFailure(h) => {
                    let error = ServerError::new(ServerErrorKind::Network, "injected");
                    topology.apply_check_failure(&host(h), error, now);
                }
                Input::AppError(h, generation, after, code) => {
                    topology.apply_application_error(&app_error(host(h), generation, after, code), now);
                }
            }
            let td = topology.description();
            let primaries = td.servers.values().filter(|s| s.server_type == ServerType::RsPrimary).count();
            prop_assert!(primaries <= 1, "two primaries: {:?}", td);
            for address in td.servers.keys() {
                prop_assert!(known.contains(address), "{} was never seeded nor reported", address);
            }
            if let Some(reply) = primary_reply {
                let accepted = td.server(&reply.address).is_some_and(|s| s.server_type == ServerType::RsPrimary);
                if accepted && td.topology_type != TopologyType::Single {
                    let members: BTreeSet<_> = reply.all_reported_members().collect();
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
        topology.apply_hello(&host(0), &reply, CheckTiming::at(MonotonicTime::ZERO));
    }
}
