//! hello / isMaster replies per node kind, member state and emulated version.

mod sim_support;

use std::time::Duration;

use bson::{doc, Bson};
use mongo_topology_sim::versions::ALL_VERSIONS;
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberSpec, ServerVersion, TopologySpec};
use sim_support::{code, last_write_ts, ok, RawClient};

fn strings(v: &Bson) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn replica_set_members_report_their_roles() {
    let spec = DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: "rs0".into(),
        members: vec![
            MemberSpec::data(),
            MemberSpec::data().with_tags([("dc", "east"), ("rack", "1")]),
            MemberSpec::passive(),
            MemberSpec::arbiter(),
            MemberSpec::hidden(),
            MemberSpec::delayed(Duration::from_secs(3600)),
            MemberSpec::data().recovering(),
            MemberSpec::data().spare(),
        ],
    });
    let d = Deployment::start(spec).await.unwrap();
    let a = d.addresses();
    let mut hellos = Vec::new();
    for addr in &a {
        hellos.push(RawClient::connect(addr).await.hello().await);
    }
    let [primary, tagged, passive, arbiter, hidden, delayed, recovering, ghost] = &hellos[..]
    else {
        panic!()
    };
    // Primary.
    assert_eq!(primary.get_bool("isWritablePrimary").ok(), Some(true));
    assert_eq!(primary.get_bool("secondary").ok(), Some(false));
    assert_eq!(primary.get_str("setName").ok(), Some("rs0"));
    assert_eq!(primary.get_str("me").ok(), Some(a[0].as_str()));
    assert_eq!(primary.get_str("primary").ok(), Some(a[0].as_str()));
    assert!(primary.get_object_id("electionId").is_ok());
    assert_eq!(primary.get_i32("setVersion").ok(), Some(1));
    assert_eq!(
        strings(primary.get("hosts").unwrap()),
        vec![a[0].clone(), a[1].clone(), a[6].clone()]
    );
    assert_eq!(
        strings(primary.get("passives").unwrap()),
        vec![a[2].clone()]
    );
    assert_eq!(
        strings(primary.get("arbiters").unwrap()),
        vec![a[3].clone()]
    );
    let lw = primary.get_document("lastWrite").unwrap();
    for key in [
        "opTime",
        "lastWriteDate",
        "majorityOpTime",
        "majorityWriteDate",
    ] {
        assert!(lw.contains_key(key), "lastWrite lacks {key}");
    }
    let tv = primary.get_document("topologyVersion").unwrap();
    assert!(tv.get_object_id("processId").is_ok() && tv.get_i64("counter").is_ok());
    for key in [
        "maxBsonObjectSize",
        "maxMessageSizeBytes",
        "maxWriteBatchSize",
        "localTime",
        "logicalSessionTimeoutMinutes",
        "connectionId",
        "minWireVersion",
        "maxWireVersion",
        "readOnly",
    ] {
        assert!(primary.contains_key(key), "hello lacks {key}");
    }
    assert_eq!(
        primary.get_i32("maxMessageSizeBytes").ok(),
        Some(48_000_000)
    );
    assert_eq!(ok(primary), 1.0);
    // Secondary with tags.
    assert_eq!(tagged.get_bool("secondary").ok(), Some(true));
    assert_eq!(tagged.get_bool("isWritablePrimary").ok(), Some(false));
    assert!(!tagged.contains_key("electionId"));
    assert_eq!(
        tagged.get_document("tags").unwrap(),
        &doc! { "dc": "east", "rack": "1" }
    );
    // Passive, arbiter, hidden, delayed.
    assert_eq!(passive.get_bool("passive").ok(), Some(true));
    assert_eq!(passive.get_bool("secondary").ok(), Some(true));
    assert_eq!(arbiter.get_bool("arbiterOnly").ok(), Some(true));
    assert_eq!(arbiter.get_bool("secondary").ok(), Some(false));
    assert!(!arbiter.contains_key("lastWrite"));
    assert_eq!(hidden.get_bool("hidden").ok(), Some(true));
    assert_eq!(hidden.get_bool("secondary").ok(), Some(true));
    assert_eq!(delayed.get_bool("hidden").ok(), Some(true));
    // A delayed member's lastWrite lags by its delay: it does not see a new write.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut c = RawClient::connect(&a[0]).await;
    let w = c
        .command("test", doc! { "insert": "c", "documents": [{ "x": 1 }] })
        .await;
    assert_eq!(w.get_i32("n").ok(), Some(1));
    let last_op = last_write_ts;
    let primary_after = last_op(&c.hello().await);
    let delayed_after = last_op(&RawClient::connect(&a[5]).await.hello().await);
    assert!(
        primary_after > last_op(primary),
        "the write advanced the primary's lastWrite"
    );
    assert_eq!(
        delayed_after,
        last_op(delayed),
        "the delayed member did not see it"
    );
    // RSOther: recovering member.
    assert_eq!(recovering.get_str("setName").ok(), Some("rs0"));
    assert_eq!(recovering.get_bool("secondary").ok(), Some(false));
    assert_eq!(recovering.get_bool("isWritablePrimary").ok(), Some(false));
    // RSGhost: member outside the config.
    assert_eq!(ghost.get_bool("isreplicaset").ok(), Some(true));
    assert!(!ghost.contains_key("setName"));
    d.shutdown().await;
}

#[tokio::test]
async fn mongos_and_standalone() {
    let d = Deployment::start(DeploymentSpec::sharded(2)).await.unwrap();
    let h = RawClient::connect(&d.addresses()[1]).await.hello().await;
    assert_eq!(h.get_str("msg").ok(), Some("isdbgrid"));
    assert_eq!(h.get_bool("isWritablePrimary").ok(), Some(true));
    assert!(!h.contains_key("setName") && !h.contains_key("hosts"));
    assert_eq!(
        d.connection_string(),
        format!("mongodb://{}/", d.addresses().join(","))
    );
    d.shutdown().await;

    let d = Deployment::start(DeploymentSpec::standalone())
        .await
        .unwrap();
    let h = RawClient::connect(&d.addresses()[0]).await.hello().await;
    assert_eq!(h.get_bool("isWritablePrimary").ok(), Some(true));
    assert!(!h.contains_key("msg") && !h.contains_key("setName"));
    d.shutdown().await;
}

#[tokio::test]
async fn legacy_is_master_and_hello_ok() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 2, 0, 0))
        .await
        .unwrap();
    let mut c = RawClient::connect(&d.addresses()[0]).await;
    let h = c
        .op_query("admin", doc! { "isMaster": 1, "helloOk": true })
        .await;
    assert_eq!(h.get_bool("ismaster").ok(), Some(true));
    assert!(!h.contains_key("isWritablePrimary"));
    assert_eq!(h.get_bool("helloOk").ok(), Some(true));
    let h = c.command("admin", doc! { "ismaster": 1 }).await;
    assert_eq!(h.get_bool("ismaster").ok(), Some(true));
    assert!(!h.contains_key("helloOk"));
    assert!(d.connection_string().ends_with("/?replicaSet=rs0"));
    d.shutdown().await;
}

#[tokio::test]
async fn every_version_reports_its_wire_version_and_legacy_behaviour() {
    for version in ALL_VERSIONS {
        let d =
            Deployment::start(DeploymentSpec::replica_set("rs0", 1, 0, 0).with_version(version))
                .await
                .unwrap();
        let mut c = RawClient::connect(&d.addresses()[0]).await;
        let h = c
            .op_query("admin", doc! { "isMaster": 1, "helloOk": true })
            .await;
        assert_eq!(
            h.get_i32("maxWireVersion").ok(),
            Some(version.max_wire_version()),
            "{version}"
        );
        assert_eq!(h.get_i32("minWireVersion").ok(), Some(0));
        let modern = version >= ServerVersion::V4_4;
        assert_eq!(h.contains_key("topologyVersion"), modern, "{version}");
        assert_eq!(h.contains_key("helloOk"), modern, "{version}");
        assert_eq!(
            h.contains_key("connectionId"),
            version >= ServerVersion::V4_2,
            "{version}"
        );
        // The hello command exists in every emulated patch release (backported to 3.6.21,
        // 4.0.21, 4.2.10 and 4.4.2).
        let reply = c.command("admin", doc! { "hello": 1 }).await;
        assert_eq!(
            reply.get_bool("isWritablePrimary").ok(),
            Some(true),
            "{version}"
        );
        // buildInfo reports the emulated version.
        let info = c.command("admin", doc! { "buildInfo": 1 }).await;
        assert!(
            info.get_str("version")
                .unwrap()
                .starts_with(version.series()),
            "{version}"
        );
        // Other commands over OP_QUERY: accepted up to 5.0, UnsupportedOpQueryCommand after.
        let ping = c.op_query("admin", doc! { "ping": 1 }).await;
        if version <= ServerVersion::V5_0 {
            assert_eq!(ok(&ping), 1.0, "{version}");
        } else {
            assert_eq!(code(&ping), 352, "{version}");
        }
        // getnonce exists before 6.0.
        let nonce = c.command("admin", doc! { "getnonce": 1 }).await;
        if version < ServerVersion::V6_0 {
            assert!(nonce.get_str("nonce").is_ok(), "{version}");
        } else {
            assert_eq!(code(&nonce), 59, "{version}");
        }
        d.shutdown().await;
    }
}
