//! The real-world situations the simulator stages, checked over real sockets: tags,
//! advertised names that differ from the listening addresses (and do not resolve), a load
//! balancer in front of replica set members, mixed server versions, the SCRAM mechanisms
//! offered, startup states, and replSetGetStatus with its staged contradictions.

mod sim_support;

use std::collections::HashSet;

use bson::spec::BinarySubtype;
use bson::{doc, Binary, Document};
use mongo_topology_sim::{
    ControlCommand, Deployment, DeploymentSpec, MemberRef, MemberSpec, ScramMechanism,
    ServerVersion, SimUser, StagedState, StartupPhase, TopologySpec,
};
use sim_support::{code, ok, RawClient};

fn strings(reply: &Document, key: &str) -> Vec<String> {
    reply
        .get_array(key)
        .unwrap_or_else(|_| panic!("no {key} in {reply}"))
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect()
}

fn replica_set(members: Vec<MemberSpec>) -> DeploymentSpec {
    DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: "rs0".into(),
        members,
    })
}

async fn control(d: &Deployment, line: &str) {
    let command: ControlCommand = line.parse().unwrap();
    d.control(command)
        .await
        .unwrap_or_else(|e| panic!("{line}: {e}"));
}

async fn hello_at(address: &str) -> Document {
    RawClient::connect(address).await.hello().await
}

async fn status_at(address: &str) -> Document {
    RawClient::connect(address)
        .await
        .command("admin", doc! { "replSetGetStatus": 1 })
        .await
}

/// `(name, stateStr, health)` of every member of a replSetGetStatus reply.
fn members(status: &Document) -> Vec<(String, String, f64)> {
    status
        .get_array("members")
        .unwrap_or_else(|_| panic!("no members in {status}"))
        .iter()
        .map(|m| {
            let m = m.as_document().unwrap();
            (
                m.get_str("name").unwrap().to_owned(),
                m.get_str("stateStr").unwrap().to_owned(),
                m.get_f64("health").unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn members_advertise_other_names_and_report_their_tags() {
    let spec = replica_set(vec![
        MemberSpec::data()
            .advertised_as("mongo-0.invalid")
            .with_tags([("dc", "east")]),
        MemberSpec::data().advertised_as("mongo-1.invalid:4000"),
        MemberSpec::data(),
    ]);
    let d = Deployment::start(spec).await.unwrap();
    let listening = d.listening_addresses();
    let ports = d.ports();
    let advertised = d.addresses();
    assert_eq!(advertised[0], format!("mongo-0.invalid:{}", ports[0]));
    assert_eq!(advertised[1], "mongo-1.invalid:4000");
    assert_eq!(advertised[2], listening[2]);
    // The connection string seeds the listening addresses; the set names the others.
    assert_eq!(
        d.connection_string(),
        format!("mongodb://{}/?replicaSet=rs0", listening.join(","))
    );
    let primary = hello_at(&listening[0]).await;
    assert_eq!(primary.get_str("me").unwrap(), advertised[0]);
    assert_eq!(primary.get_str("primary").unwrap(), advertised[0]);
    assert_eq!(strings(&primary, "hosts"), advertised);
    assert_eq!(
        primary.get_document("tags").unwrap(),
        &doc! { "dc": "east" }
    );
    assert!(hello_at(&listening[1]).await.get("tags").is_none());
    // The set's own view: every member healthy, by the names this host cannot resolve.
    let status = status_at(&listening[2]).await;
    let view = members(&status);
    assert_eq!(
        view,
        vec![
            (advertised[0].clone(), "PRIMARY".into(), 1.0),
            (advertised[1].clone(), "SECONDARY".into(), 1.0),
            (advertised[2].clone(), "SECONDARY".into(), 1.0),
        ]
    );
    let me = status.get_array("members").unwrap()[2]
        .as_document()
        .unwrap();
    assert_eq!(me.get_bool("self").ok(), Some(true));
    assert!(me.get_datetime("optimeDate").is_ok(), "{me}");
    // Control: new tags and a new name are reconfigs (setVersion + 1 each); a member is
    // found by its listening address as well as by its advertised one.
    control(&d, "tags 1 dc:west,rack:2").await;
    control(&d, &format!("advertise {} mongo-2.invalid", listening[2])).await;
    let secondary = hello_at(&listening[1]).await;
    assert_eq!(secondary.get_i32("setVersion").unwrap(), 3);
    assert_eq!(
        secondary.get_document("tags").unwrap(),
        &doc! { "dc": "west", "rack": "2" }
    );
    assert_eq!(
        strings(&secondary, "hosts")[2],
        format!("mongo-2.invalid:{}", ports[2])
    );
    control(&d, "tags 1 -").await;
    assert!(hello_at(&listening[1]).await.get("tags").is_none());
    d.shutdown().await;
}

#[tokio::test]
async fn a_load_balancer_in_front_of_a_replica_set_flips_between_members() {
    let d = Deployment::start(
        DeploymentSpec::replica_set("rs0", 3, 0, 0).with_load_balancer_in_front_of_members(0),
    )
    .await
    .unwrap();
    let lb = d.load_balancer_address().unwrap();
    let mut seen = Vec::new();
    for _ in 0..6 {
        let mut client = RawClient::connect(&lb).await;
        let reply = client
            .command("admin", doc! { "hello": 1, "loadBalanced": true })
            .await;
        assert_eq!(ok(&reply), 1.0, "{reply}");
        assert!(
            reply.get("serviceId").is_none(),
            "a mongod has no serviceId"
        );
        assert_eq!(reply.get_str("setName").unwrap(), "rs0");
        seen.push((
            reply.get_str("me").unwrap().to_owned(),
            reply.get_bool("isWritablePrimary").unwrap(),
            reply.get_object_id("electionId").ok(),
        ));
    }
    let names: HashSet<&String> = seen.iter().map(|(me, _, _)| me).collect();
    assert_eq!(names.len(), 3, "round robin over the members: {seen:?}");
    assert_ne!(
        seen[0].0, seen[1].0,
        "successive connections reach other members"
    );
    assert_eq!(seen[0], seen[3]);
    let primaries = seen.iter().filter(|(_, writable, _)| *writable).count();
    assert_eq!(
        primaries, 2,
        "one answer in three is the primary's: {seen:?}"
    );
    assert!(seen
        .iter()
        .all(|(_, writable, election)| *writable == election.is_some()));
    d.shutdown().await;
}

#[tokio::test]
async fn members_run_different_server_versions() {
    let spec = replica_set(vec![
        MemberSpec::data(),
        MemberSpec::data(),
        MemberSpec::data().running(ServerVersion::V4_4),
    ]);
    let d = Deployment::start(spec).await.unwrap();
    let a = d.addresses();
    let wire = |hello: &Document| hello.get_i32("maxWireVersion").unwrap();
    let build_version = |address: String| async move {
        let reply = RawClient::connect(&address)
            .await
            .command("admin", doc! { "buildInfo": 1 })
            .await;
        reply.get_str("version").unwrap().to_owned()
    };
    assert_eq!(wire(&hello_at(&a[0]).await), 21);
    assert_eq!(wire(&hello_at(&a[2]).await), 9);
    assert!(build_version(a[0].clone()).await.starts_with("7.0."));
    assert!(build_version(a[2].clone()).await.starts_with("4.4."));
    // A restart on another version: new processId, new maxWireVersion.
    let before = hello_at(&a[1]).await;
    control(&d, "server-version 1 6.0").await;
    let after = hello_at(&a[1]).await;
    assert_eq!(wire(&after), 17);
    assert_ne!(
        before
            .get_document("topologyVersion")
            .unwrap()
            .get("processId"),
        after
            .get_document("topologyVersion")
            .unwrap()
            .get("processId")
    );
    assert!(d.status().contains("version=6.0"), "{}", d.status());
    d.shutdown().await;
}

fn sasl_start(mechanism: &str, user: &str) -> Document {
    let payload = format!("n,,n={user},r=fyko+d2lbbFgONRv9qkxdawL").into_bytes();
    doc! {
        "saslStart": 1,
        "mechanism": mechanism,
        "payload": Binary { subtype: BinarySubtype::Generic, bytes: payload },
    }
}

#[tokio::test]
async fn a_deployment_may_offer_scram_sha_1_only() {
    let spec = DeploymentSpec::replica_set("rs0", 1, 0, 0)
        .with_user(SimUser::new("app", "s3cret"))
        .with_scram_mechanisms(&[ScramMechanism::Sha1]);
    let d = Deployment::start(spec).await.unwrap();
    let mut c = RawClient::connect(&d.addresses()[0]).await;
    let hello = c
        .command(
            "admin",
            doc! { "hello": 1, "saslSupportedMechs": "admin.app" },
        )
        .await;
    assert_eq!(strings(&hello, "saslSupportedMechs"), ["SCRAM-SHA-1"]);
    let refused = c.command("admin", sasl_start("SCRAM-SHA-256", "app")).await;
    assert_eq!(code(&refused), 334, "{refused}");
    assert_eq!(refused.get_str("codeName").unwrap(), "MechanismUnavailable");
    let started = c.command("admin", sasl_start("SCRAM-SHA-1", "app")).await;
    assert_eq!(ok(&started), 1.0, "{started}");
    d.shutdown().await;
    // The default: both mechanisms.
    let d = Deployment::start(
        DeploymentSpec::replica_set("rs0", 1, 0, 0).with_user(SimUser::new("app", "s3cret")),
    )
    .await
    .unwrap();
    let hello = RawClient::connect(&d.addresses()[0])
        .await
        .command(
            "admin",
            doc! { "hello": 1, "saslSupportedMechs": "admin.app" },
        )
        .await;
    assert_eq!(
        strings(&hello, "saslSupportedMechs"),
        ["SCRAM-SHA-1", "SCRAM-SHA-256"]
    );
    d.shutdown().await;
}

#[tokio::test]
async fn members_in_startup_startup2_and_recovering_answer_as_the_server_does() {
    let spec = replica_set(vec![
        MemberSpec::data(),
        MemberSpec::data().starting(StartupPhase::Startup),
        MemberSpec::data().starting(StartupPhase::Startup2),
        MemberSpec::data().recovering(),
        MemberSpec::arbiter(),
    ]);
    let d = Deployment::start(spec).await.unwrap();
    let a = d.addresses();
    // STARTUP: no config loaded, so no set name (a client sees RSGhost).
    let startup = hello_at(&a[1]).await;
    assert_eq!(startup.get_bool("isWritablePrimary").ok(), Some(false));
    assert_eq!(startup.get_bool("secondary").ok(), Some(false));
    assert_eq!(startup.get_bool("isreplicaset").ok(), Some(true));
    assert!(startup.get("setName").is_none(), "{startup}");
    // STARTUP2 and RECOVERING: the set's name, neither primary nor secondary (RSOther).
    for other in [hello_at(&a[2]).await, hello_at(&a[3]).await] {
        assert_eq!(other.get_str("setName").ok(), Some("rs0"));
        assert_eq!(other.get_bool("isWritablePrimary").ok(), Some(false));
        assert_eq!(other.get_bool("secondary").ok(), Some(false));
        assert_eq!(other.get_str("primary").ok(), Some(a[0].as_str()));
    }
    let view = members(&status_at(&a[0]).await);
    let states: Vec<&str> = view.iter().map(|(_, s, _)| s.as_str()).collect();
    assert_eq!(
        states,
        ["PRIMARY", "STARTUP", "STARTUP2", "RECOVERING", "ARBITER"]
    );
    let status = status_at(&a[0]).await;
    assert_eq!(status.get_i32("votingMembersCount").ok(), Some(5));
    assert_eq!(status.get_i32("writableVotingMembersCount").ok(), Some(4));
    assert_eq!(status.get_i32("majorityVoteCount").ok(), Some(3));
    assert_eq!(code(&status_at(&a[1]).await), 94, "STARTUP has no config");
    assert_eq!(status_at(&a[2]).await.get_i32("myState").ok(), Some(5));
    // Control: back to normal, or into another state.
    control(&d, "member-state 1 normal").await;
    control(&d, "member-state 3 startup2").await;
    assert_eq!(hello_at(&a[1]).await.get_bool("secondary").ok(), Some(true));
    let view = members(&status_at(&a[0]).await);
    assert_eq!(view[1].1, "SECONDARY");
    assert_eq!(view[3].1, "STARTUP2");
    let refused = d.set_member_state(&MemberRef::Index(0), StagedState::Startup);
    assert!(refused.is_err(), "the primary steps down first");
    d.shutdown().await;
}

#[tokio::test]
async fn a_partitioned_primary_keeps_claiming_its_term_after_an_election() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let a = d.addresses();
    control(&d, "claim-primary 0 on").await;
    // Cut off: the others have no primary until one is elected.
    assert!(hello_at(&a[1]).await.get("primary").is_none());
    control(&d, "elect 1").await;
    let old = hello_at(&a[0]).await;
    let new = hello_at(&a[1]).await;
    for (hello, me) in [(&old, &a[0]), (&new, &a[1])] {
        assert_eq!(
            hello.get_bool("isWritablePrimary").ok(),
            Some(true),
            "{hello}"
        );
        assert_eq!(hello.get_str("primary").ok(), Some(me.as_str()));
    }
    let (old_id, new_id) = (
        old.get_object_id("electionId").unwrap(),
        new.get_object_id("electionId").unwrap(),
    );
    assert!(
        old_id < new_id,
        "the stale primary has the older electionId"
    );
    assert_eq!(
        hello_at(&a[2]).await.get_str("primary").ok(),
        Some(a[1].as_str())
    );
    // Each side's replSetGetStatus: itself PRIMARY, the other side unreachable.
    let unreachable = "(not reachable/healthy)".to_owned();
    let from_old = members(&status_at(&a[0]).await);
    assert_eq!(
        from_old,
        vec![
            (a[0].clone(), "PRIMARY".into(), 1.0),
            (a[1].clone(), unreachable.clone(), 0.0),
            (a[2].clone(), unreachable.clone(), 0.0),
        ]
    );
    let from_new = members(&status_at(&a[2]).await);
    assert_eq!(
        from_new,
        vec![
            (a[0].clone(), unreachable.clone(), 0.0),
            (a[1].clone(), "PRIMARY".into(), 1.0),
            (a[2].clone(), "SECONDARY".into(), 1.0),
        ]
    );
    // Writes succeed on both primaries (w:1), as before a stale primary steps down.
    for address in [&a[0], &a[1]] {
        let reply = RawClient::connect(address)
            .await
            .command("app", doc! { "insert": "t", "documents": [{ "x": 1 }] })
            .await;
        assert_eq!(ok(&reply), 1.0, "{reply}");
    }
    // The partition heals: the stale primary steps down.
    control(&d, "claim-primary 0 off").await;
    let healed = hello_at(&a[0]).await;
    assert_eq!(healed.get_bool("secondary").ok(), Some(true));
    assert_eq!(healed.get_str("primary").ok(), Some(a[1].as_str()));
    assert!(d.claim_primary(&MemberRef::Index(2), true).is_err());
    d.shutdown().await;
}

#[test]
fn the_staging_commands_reject_what_they_cannot_do() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let d = Deployment::start(DeploymentSpec::sharded(1)).await.unwrap();
        for line in [
            "tags 0 dc:east",
            "member-state 0 startup",
            "claim-primary 0 on",
        ] {
            let result = d.control(line.parse().unwrap()).await;
            assert!(result.is_err(), "{line} on a mongos: {result:?}");
        }
        d.shutdown().await;
    });
}
