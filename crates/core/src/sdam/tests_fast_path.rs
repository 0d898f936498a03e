//! The heartbeat fast path decides nothing the full rules would decide differently: over
//! random sequences of checks, failures and RTT samples on a small deployment, the freshest
//! view of the topology after each input equals the SDAM transition run in full on the
//! freshest view before it, and a snapshot left unchanged comes with no event.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{doc, Document};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::address::ServerAddress;
use crate::sdam::hello::CheckTiming;
use crate::sdam::server::{ServerDescription, ServerError, ServerErrorKind, TopologyVersion};
use crate::sdam::settings::TopologySettings;
use crate::sdam::topology::{TopologyDescription, TopologyType};
use crate::sdam::{transition, Topology};
use crate::time::MonotonicTime;

const HOSTS: [&str; 4] = ["a:27017", "b:27017", "c:27017", "d:27017"];

fn host(index: usize) -> ServerAddress {
    ServerAddress::parse(HOSTS[index % HOSTS.len()]).unwrap()
}

/// The SDAM-relevant content of a hello reply, from small domains so that repeats are common.
#[derive(Clone, Debug)]
struct Reply {
    kind: u8,
    own_set: bool,
    hosts: u8,
    primary: Option<usize>,
    election: u8,
    set_version: i64,
    modern: bool,
    me_elsewhere: bool,
}

impl Reply {
    fn to_document(&self, checked: usize, step: u64) -> Document {
        let mut reply = match self.kind {
            0 => doc! { "isWritablePrimary": true },
            1 => doc! { "secondary": true },
            2 => doc! { "arbiterOnly": true },
            3 => doc! { "secondary": false, "hidden": true },
            4 => doc! { "isreplicaset": true },
            5 => doc! {},
            _ => doc! { "msg": "isdbgrid" },
        };
        reply.insert("ok", 1);
        reply.insert("minWireVersion", 0);
        reply.insert("maxWireVersion", if self.modern { 21 } else { 8 });
        reply.insert("logicalSessionTimeoutMinutes", 30);
        if (0..=3).contains(&self.kind) {
            reply.insert("setName", if self.own_set { "rs" } else { "other" });
            let hosts: Vec<&str> = (0..HOSTS.len())
                .filter(|i| self.hosts & (1 << i) != 0)
                .map(|i| HOSTS[i])
                .collect();
            reply.insert("hosts", hosts);
            let me = if self.me_elsewhere {
                checked + 1
            } else {
                checked
            };
            reply.insert("me", HOSTS[me % HOSTS.len()]);
            if let Some(primary) = self.primary {
                reply.insert("primary", HOSTS[primary]);
            }
            let step_ms = i64::try_from(step).unwrap_or(0) * 1000;
            reply.insert(
                "lastWrite",
                doc! { "lastWriteDate": bson::DateTime::from_millis(step_ms) },
            );
        }
        if self.kind == 0 {
            let mut id = [0u8; 12];
            id[11] = self.election;
            reply.insert("electionId", ObjectId::from_bytes(id));
            reply.insert("setVersion", self.set_version);
        }
        reply
    }
}

#[derive(Clone, Debug)]
enum Input {
    /// A check of `host` answered by `reply`, or by the last reply `host` gave if `repeat`.
    Check {
        host: usize,
        reply: Reply,
        repeat: bool,
        rtt_ms: u64,
    },
    Failure {
        host: usize,
        timeout: bool,
    },
    RttSample {
        host: usize,
        average_ms: u64,
    },
}

fn reply_strategy() -> impl Strategy<Value = Reply> {
    (
        0u8..7,
        prop::bool::weighted(0.9),
        prop_oneof![Just(0b1111), 0u8..16],
        prop::option::of(0usize..4),
        1u8..3,
        1i64..3,
        any::<bool>(),
        prop::bool::weighted(0.05),
    )
        .prop_map(
            |(kind, own_set, hosts, primary, election, set_version, modern, me_elsewhere)| Reply {
                kind,
                own_set,
                hosts,
                primary,
                election,
                set_version,
                modern,
                me_elsewhere,
            },
        )
}

fn input_strategy() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => (0usize..4, reply_strategy(), prop::bool::weighted(0.8), 1u64..30)
            .prop_map(|(host, reply, repeat, rtt_ms)| Input::Check { host, reply, repeat, rtt_ms }),
        2 => (0usize..4, any::<bool>()).prop_map(|(host, timeout)| Input::Failure { host, timeout }),
        2 => (0usize..4, 1u64..30).prop_map(|(host, average_ms)| Input::RttSample { host, average_ms }),
    ]
}

fn settings_strategy() -> impl Strategy<Value = TopologySettings> {
    (1usize..3, any::<bool>(), prop::bool::weighted(0.2)).prop_map(|(seeds, named, direct)| {
        let mut settings = TopologySettings::new((0..seeds).map(host).collect());
        settings.replica_set_name = named.then(|| "rs".to_string());
        settings.direct_connection = (direct && seeds == 1).then_some(true);
        settings
    })
}

/// The published snapshot with every unpublished refresh in place.
fn freshest_view(topology: &Topology) -> TopologyDescription {
    let mut view = TopologyDescription::clone(topology.description());
    let addresses: Vec<_> = view.servers.keys().cloned().collect();
    for address in addresses {
        if let Some(freshest) = topology.freshest_server_description(&address) {
            view.servers.insert(address, Arc::clone(freshest));
        }
    }
    view
}

/// How many generated checks took the fast path.
static FAST_PATH_CHECKS: AtomicUsize = AtomicUsize::new(0);

/// Applies one check outcome and compares it with the full rules on the same state.
fn check_against_full_rules(
    topology: &mut Topology,
    server: ServerDescription,
    now: MonotonicTime,
    apply: impl FnOnce(&mut Topology, ServerDescription) -> crate::sdam::Changes,
) -> Result<(), TestCaseError> {
    let before = freshest_view(topology);
    let published = Arc::clone(topology.description());
    let stored = topology
        .freshest_server_description(&server.address)
        .cloned();
    let processed = stored.as_ref().is_some_and(|stored| {
        before.topology_type != TopologyType::LoadBalanced
            && !TopologyVersion::compare(
                stored.topology_version.as_ref(),
                server.topology_version.as_ref(),
            )
            .is_gt()
    });
    let mut expected = before.clone();
    if processed {
        let fast_path = stored.as_ref().is_some_and(|stored| {
            stored.is_equivalent(&server)
                && transition::reapplying_changes_nothing(&before, &server)
        });
        if fast_path {
            FAST_PATH_CHECKS.fetch_add(1, Ordering::Relaxed);
        }
        transition::apply(&mut expected, topology.settings(), server.clone(), now);
        // The topology sets the derived fields when it publishes; the rules alone do not.
        crate::sdam::compatibility::update_derived_fields(&mut expected);
    }
    let changes = apply(topology, server);
    prop_assert_eq!(freshest_view(topology), expected);
    if Arc::ptr_eq(&published, &changes.description) {
        prop_assert!(changes.events().next().is_none(), "{:?}", changes.actions);
    }
    for (address, server) in &topology.description().servers {
        let freshest = topology.freshest_server_description(address).unwrap();
        prop_assert!(server.is_equivalent(freshest));
    }
    Ok(())
}

fn run(settings: TopologySettings, inputs: Vec<Input>) -> Result<(), TestCaseError> {
    let (mut topology, _) = Topology::new(settings, MonotonicTime::ZERO).unwrap();
    let mut last_replies: Vec<Option<Reply>> = vec![None; HOSTS.len()];
    for (step, input) in (1u64..).zip(inputs) {
        let now = MonotonicTime::from_millis(step * 1000);
        match input {
            Input::Check {
                host: index,
                reply,
                repeat,
                rtt_ms,
            } => {
                let reply = match (&last_replies[index], repeat) {
                    (Some(last), true) => last.clone(),
                    _ => reply,
                };
                last_replies[index] = Some(reply.clone());
                let rtt = Duration::from_millis(rtt_ms);
                let timing = CheckTiming {
                    round_trip_time: Some(rtt),
                    min_round_trip_time: Some(rtt),
                    now,
                };
                let document = reply.to_document(index, step);
                let server = ServerDescription::from_hello(host(index), &document, timing);
                check_against_full_rules(&mut topology, server, now, |topology, server| {
                    topology.apply_server_description(server, now)
                })?;
            }
            Input::Failure {
                host: index,
                timeout,
            } => {
                let kind = if timeout {
                    ServerErrorKind::Timeout
                } else {
                    ServerErrorKind::Network
                };
                let error = ServerError::new(kind, "the check failed");
                let server = ServerDescription::unknown_with_error(host(index), error, now);
                check_against_full_rules(&mut topology, server, now, |topology, server| {
                    let error = server.error.clone().unwrap();
                    topology.apply_check_failure(&server.address, error, now)
                })?;
            }
            Input::RttSample {
                host: index,
                average_ms,
            } => {
                let average = Duration::from_millis(average_ms);
                let mut expected = freshest_view(&topology);
                if expected.topology_type != TopologyType::LoadBalanced {
                    if let Some(server) = expected.servers.get_mut(&host(index)) {
                        if server.server_type != crate::sdam::ServerType::Unknown {
                            let server = Arc::make_mut(server);
                            server.round_trip_time = Some(average);
                            server.min_round_trip_time = Some(average);
                        }
                    }
                }
                let changes = topology.apply_rtt_sample(&host(index), average, average, now);
                prop_assert!(changes.actions.is_empty());
                prop_assert_eq!(freshest_view(&topology), expected);
            }
        }
    }
    Ok(())
}

#[test]
fn the_fast_path_matches_the_full_rules() {
    let mut runner = TestRunner::new(Config {
        cases: 1024,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        settings_strategy(),
        prop::collection::vec(input_strategy(), 1..40),
    );
    runner
        .run(&strategy, |(settings, inputs)| run(settings, inputs))
        .unwrap();
    // The generator does exercise the fast path.
    let fast_path_checks = FAST_PATH_CHECKS.load(Ordering::Relaxed);
    println!("{fast_path_checks} checks took the fast path");
    assert!(fast_path_checks > 1000, "{fast_path_checks}");
}
