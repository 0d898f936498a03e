//! What each emulated version says, field by field, as checked against the server sources
//! (see the table in `mongo_topology_sim::versions`).

mod sim_support;

use std::time::Duration;

use bson::{doc, Bson, Document};
use mongo_topology_sim::versions::ALL_VERSIONS;
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberSpec, ServerVersion, TopologySpec};
use sim_support::{code, ok, RawClient};

fn labels(reply: &Document) -> Vec<String> {
    match reply.get("errorLabels") {
        Some(Bson::Array(a)) => a.iter().map(|b| b.as_str().unwrap().to_owned()).collect(),
        _ => Vec::new(),
    }
}

fn code_name(reply: &Document) -> &str {
    reply.get_str("codeName").unwrap()
}

fn errmsg(reply: &Document) -> &str {
    reply.get_str("errmsg").unwrap()
}

#[tokio::test]
async fn handshake_fields_by_version() {
    for version in ALL_VERSIONS {
        let spec = DeploymentSpec::replica_set("rs0", 2, 0, 0).with_version(version);
        let d = Deployment::start(spec).await.unwrap();
        let mut c = RawClient::connect(&d.addresses()[0]).await;
        // hello exists everywhere and answers isWritablePrimary, never ismaster.
        let h = c.hello().await;
        assert_eq!(
            h.get_bool("isWritablePrimary").ok(),
            Some(true),
            "{version}"
        );
        assert!(!h.contains_key("ismaster"), "{version}");
        assert!(!h.contains_key("helloOk"), "{version}: no helloOk asked");
        // Legacy isMaster answers ismaster; helloOk (any value) is echoed as true from 4.4.
        let m = c
            .command("admin", doc! { "isMaster": 1, "helloOk": false })
            .await;
        assert_eq!(m.get_bool("ismaster").ok(), Some(true), "{version}");
        assert!(!m.contains_key("isWritablePrimary"), "{version}");
        let modern = version >= ServerVersion::V4_4;
        assert_eq!(
            m.get_bool("helloOk").ok(),
            modern.then_some(true),
            "{version}"
        );
        if modern {
            assert_eq!(m.keys().next().map(String::as_str), Some("helloOk"));
        }
        assert_eq!(h.contains_key("topologyVersion"), modern, "{version}");
        // connectionId is appended with appendNumber: a 32-bit int for small ids.
        assert_eq!(
            h.get_i32("connectionId").is_ok(),
            version >= ServerVersion::V4_2,
            "{version}"
        );
        assert_eq!(h.get_i32("minWireVersion").ok(), Some(0));
        assert_eq!(
            h.get_i32("maxWireVersion").ok(),
            Some(version.max_wire_version())
        );
        assert_eq!(h.get_i32("maxBsonObjectSize").ok(), Some(16_777_216));
        assert_eq!(h.get_i32("maxMessageSizeBytes").ok(), Some(48_000_000));
        assert_eq!(h.get_i32("maxWriteBatchSize").ok(), Some(100_000));
        assert_eq!(h.get_i32("logicalSessionTimeoutMinutes").ok(), Some(30));
        assert_eq!(h.get_bool("readOnly").ok(), Some(false));
        assert!(h.get_datetime("localTime").is_ok());
        // setVersion is a 32-bit int; lastWrite has all four fields, dates in whole seconds.
        assert_eq!(h.get("setVersion"), Some(&Bson::Int32(1)), "{version}");
        let lw = h.get_document("lastWrite").unwrap();
        let op = lw.get_document("opTime").unwrap();
        assert!(op.get_timestamp("ts").is_ok() && op.get_i64("t").is_ok());
        for key in ["lastWriteDate", "majorityWriteDate"] {
            let date = lw.get_datetime(key).unwrap();
            assert_eq!(date.timestamp_millis() % 1000, 0, "{version} {key}");
        }
        assert!(lw.get_document("majorityOpTime").is_ok());
        d.shutdown().await;
    }
}

#[tokio::test]
async fn not_primary_errors_by_version_and_hello_ok() {
    for version in ALL_VERSIONS {
        let spec = DeploymentSpec::replica_set("rs0", 2, 0, 0).with_version(version);
        let d = Deployment::start(spec).await.unwrap();
        let secondary = &d.addresses()[1];
        let renamed = version >= ServerVersion::V4_4;
        let (wp, nso, pos) = if renamed {
            (
                "NotWritablePrimary",
                "NotPrimaryNoSecondaryOk",
                "NotPrimaryOrSecondary",
            )
        } else {
            ("NotMaster", "NotMasterNoSlaveOk", "NotMasterOrSecondary")
        };
        for hello_ok in [false, true] {
            let mut c = RawClient::connect(secondary).await;
            c.command("admin", doc! { "isMaster": 1, "helloOk": hello_ok })
                .await;
            let new_words = hello_ok && version >= ServerVersion::V5_0;
            let w = c
                .command("app", doc! { "insert": "t", "documents": [{}] })
                .await;
            assert_eq!((code(&w), code_name(&w)), (10107, wp), "{version}");
            let expected = if new_words {
                "not primary"
            } else {
                "not master"
            };
            assert_eq!(errmsg(&w), expected, "{version} helloOk={hello_ok}");
            assert!(labels(&w).is_empty(), "{version}: not a retryable write");
            let r = c.command("app", doc! { "find": "t" }).await;
            assert_eq!((code(&r), code_name(&r)), (13435, nso), "{version}");
            let expected = if new_words {
                "not primary and secondaryOk=false"
            } else {
                "not master and slaveOk=false"
            };
            assert_eq!(errmsg(&r), expected, "{version} helloOk={hello_ok}");
        }
        // A retryable write: labelled from 4.4, with the node's topologyVersion.
        let mut c = RawClient::connect(secondary).await;
        let w = c
            .command(
                "app",
                doc! { "insert": "t", "documents": [{}], "txnNumber": 1i64, "lsid": { "id": 1 } },
            )
            .await;
        let expected: Vec<String> = if renamed {
            vec!["RetryableWriteError".into()]
        } else {
            Vec::new()
        };
        assert_eq!(labels(&w), expected, "{version}");
        assert_eq!(w.contains_key("topologyVersion"), renamed, "{version}");
        for key in ["ok", "errmsg", "code", "codeName"] {
            assert!(w.contains_key(key), "{version}: error lacks {key}");
        }
        // The injected node-is-recovering fault uses the version's name for 13436.
        d.control("fault 1 node-is-recovering 1".parse().unwrap())
            .await
            .unwrap();
        let e = c.command("app", doc! { "ping": 1 }).await;
        assert_eq!((code(&e), code_name(&e)), (13436, pos), "{version}");
        assert_eq!(errmsg(&e), "node is recovering");
        d.shutdown().await;
    }
}

#[tokio::test]
async fn reads_on_nodes_that_are_neither_primary_nor_secondary() {
    for version in [ServerVersion::V4_2, ServerVersion::V7_0] {
        let spec = DeploymentSpec::new(TopologySpec::ReplicaSet {
            name: "rs0".into(),
            members: vec![
                MemberSpec::data(),
                MemberSpec::data().recovering(),
                MemberSpec::arbiter(),
            ],
        })
        .with_version(version);
        let d = Deployment::start(spec).await.unwrap();
        let a = d.addresses();
        let pos = if version >= ServerVersion::V4_4 {
            "NotPrimaryOrSecondary"
        } else {
            "NotMasterOrSecondary"
        };
        let secondary_ok = doc! { "find": "t", "$readPreference": { "mode": "secondary" } };
        // Without secondaryOk every non-primary refuses with 13435 first.
        for addr in [&a[1], &a[2]] {
            let mut c = RawClient::connect(addr).await;
            let r = c.command("app", doc! { "find": "t" }).await;
            assert_eq!(code(&r), 13435, "{version} {addr}");
        }
        let mut c = RawClient::connect(&a[1]).await;
        let r = c.command("app", secondary_ok.clone()).await;
        assert_eq!((code(&r), code_name(&r)), (13436, pos), "{version}");
        assert_eq!(errmsg(&r), "node is recovering");
        let mut c = RawClient::connect(&a[2]).await;
        let r = c.command("app", secondary_ok.clone()).await;
        assert_eq!((code(&r), code_name(&r)), (13436, pos), "{version}");
        assert_eq!(errmsg(&r), "node is not in primary or recovering state");
        d.shutdown().await;
    }
}

#[tokio::test]
async fn op_query_policy_by_version() {
    for version in ALL_VERSIONS {
        let spec = DeploymentSpec::replica_set("rs0", 1, 0, 0).with_version(version);
        let d = Deployment::start(spec).await.unwrap();
        let mut c = RawClient::connect(&d.addresses()[0]).await;
        for handshake in ["hello", "isMaster", "ismaster"] {
            let h = c.op_query("admin", doc! { handshake: 1 }).await;
            assert_eq!(ok(&h), 1.0, "{version} {handshake}");
        }
        // buildInfo stays allowed over OP_QUERY (old drivers still send it that way).
        let info = c.op_query("admin", doc! { "buildinfo": 1 }).await;
        assert_eq!(ok(&info), 1.0, "{version}");
        let ping = c.op_query("admin", doc! { "ping": 1 }).await;
        if version <= ServerVersion::V5_0 {
            assert_eq!(ok(&ping), 1.0, "{version}");
        } else {
            assert_eq!(
                (code(&ping), code_name(&ping)),
                (352, "UnsupportedOpQueryCommand")
            );
            assert_eq!(
                errmsg(&ping),
                "Unsupported OP_QUERY command: ping. The client driver may require an \
                 upgrade. For more details see \
                 https://dochub.mongodb.org/core/legacy-opcode-removal"
            );
        }
        d.shutdown().await;
    }
}

#[tokio::test]
async fn member_lists_and_delay_fields() {
    let mut visible_delayed = MemberSpec::passive();
    visible_delayed.config.secondary_delay = Duration::from_secs(3600);
    let spec = DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: "rs0".into(),
        members: vec![
            MemberSpec::data(),
            MemberSpec::passive(),
            MemberSpec::hidden(),
            visible_delayed,
            MemberSpec::arbiter(),
        ],
    });
    let d = Deployment::start(spec).await.unwrap();
    let a = d.addresses();
    let h = RawClient::connect(&a[0]).await.hello().await;
    let list = |key: &str| -> Vec<String> {
        h.get_array(key)
            .map(|v| v.iter().map(|b| b.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    // Hidden and delayed members are in no list, even when the delayed one is visible.
    assert_eq!(list("hosts"), vec![a[0].clone()]);
    assert_eq!(list("passives"), vec![a[1].clone()]);
    assert_eq!(list("arbiters"), vec![a[4].clone()]);
    // Priority-0 members say passive: true, hidden ones too.
    let mut c = RawClient::connect(&a[2]).await;
    let hidden = c.hello().await;
    assert_eq!(hidden.get_bool("hidden").ok(), Some(true));
    assert_eq!(hidden.get_bool("passive").ok(), Some(true));
    // The delay is secondaryDelaySecs to hello, slaveDelay to legacy isMaster.
    let mut c = RawClient::connect(&a[3]).await;
    let hello = c.hello().await;
    assert_eq!(hello.get_i32("secondaryDelaySecs").ok(), Some(3600));
    assert!(!hello.contains_key("slaveDelay"));
    let legacy = c.command("admin", doc! { "isMaster": 1 }).await;
    assert_eq!(legacy.get_i32("slaveDelay").ok(), Some(3600));
    assert!(!legacy.contains_key("secondaryDelaySecs"));
    d.shutdown().await;
}

#[tokio::test]
async fn mongos_handshake_by_version() {
    for version in ALL_VERSIONS {
        let d = Deployment::start(DeploymentSpec::sharded(1).with_version(version))
            .await
            .unwrap();
        let mut c = RawClient::connect(&d.addresses()[0]).await;
        let h = c
            .command("admin", doc! { "isMaster": 1, "helloOk": true })
            .await;
        let keys: Vec<&str> = h.keys().map(String::as_str).collect();
        assert_eq!(h.get_bool("ismaster").ok(), Some(true), "{version}");
        assert_eq!(h.get_str("msg").ok(), Some("isdbgrid"), "{version}");
        let modern = version >= ServerVersion::V4_4;
        assert_eq!(h.contains_key("topologyVersion"), modern, "{version}");
        assert_eq!(
            h.get_bool("helloOk").ok(),
            modern.then_some(true),
            "{version}"
        );
        if modern {
            // mongos appends helloOk after its role fields, not first as mongod does.
            let at = |k: &str| keys.iter().position(|x| *x == k).unwrap();
            assert!(at("helloOk") > at("msg"), "{version}: {keys:?}");
        }
        assert_eq!(
            h.contains_key("connectionId"),
            version >= ServerVersion::V4_2,
            "{version}"
        );
        for absent in ["readOnly", "setName", "hosts", "isreplicaset"] {
            assert!(!h.contains_key(absent), "{version}: mongos sent {absent}");
        }
        d.shutdown().await;
    }
}

#[tokio::test]
async fn build_info_by_version_and_node_kind() {
    for version in ALL_VERSIONS {
        for spec in [
            DeploymentSpec::replica_set("rs0", 1, 0, 0),
            DeploymentSpec::sharded(1),
        ] {
            let mongos = matches!(spec.topology, TopologySpec::Sharded { .. });
            let d = Deployment::start(spec.with_version(version)).await.unwrap();
            let mut c = RawClient::connect(&d.addresses()[0]).await;
            let info = c.command("admin", doc! { "buildInfo": 1 }).await;
            let version_string = info.get_str("version").unwrap();
            assert!(version_string.starts_with(&format!("{}.", version.series())));
            let parts: Vec<i32> = version_string
                .split('.')
                .map(|p| p.parse().unwrap())
                .collect();
            let array: Vec<i32> = info
                .get_array("versionArray")
                .unwrap()
                .iter()
                .map(|b| b.as_i32().unwrap())
                .collect();
            assert_eq!(array, [parts[0], parts[1], parts[2], 0], "{version}");
            assert_eq!(info.get_str("gitVersion").unwrap().len(), 40);
            assert_eq!(info.get_i32("maxBsonObjectSize").ok(), Some(16_777_216));
            assert!(info.get_document("openssl").is_ok());
            assert_eq!(
                info.contains_key("storageEngines"),
                !mongos,
                "{version} mongos={mongos}"
            );
            assert_eq!(ok(&info), 1.0);
            d.shutdown().await;
        }
    }
}

#[tokio::test]
async fn removed_and_uninitiated_members_by_version() {
    for version in [ServerVersion::V4_4, ServerVersion::V5_0] {
        let spec = DeploymentSpec::new(TopologySpec::ReplicaSet {
            name: "rs0".into(),
            members: vec![
                MemberSpec::data(),
                MemberSpec::data(),
                MemberSpec::data().spare(),
            ],
        })
        .with_version(version);
        let d = Deployment::start(spec).await.unwrap();
        let a = d.addresses();
        // Never in a config: no setName, no lists.
        let ghost = RawClient::connect(&a[2]).await.hello().await;
        assert_eq!(ghost.get_bool("isreplicaset").ok(), Some(true));
        for absent in ["setName", "hosts", "setVersion", "me", "lastWrite"] {
            assert!(!ghost.contains_key(absent), "{version}: {absent}");
        }
        // Removed by a reconfig: still names the set; lists the members up to 4.4 only.
        d.control("reconfig remove 1".parse().unwrap())
            .await
            .unwrap();
        let removed = RawClient::connect(&a[1]).await.hello().await;
        assert_eq!(removed.get_bool("isreplicaset").ok(), Some(true));
        assert_eq!(removed.get_bool("isWritablePrimary").ok(), Some(false));
        assert_eq!(removed.get_str("setName").ok(), Some("rs0"), "{version}");
        assert_eq!(
            removed.contains_key("hosts"),
            version <= ServerVersion::V4_4,
            "{version}"
        );
        for absent in ["setVersion", "me", "lastWrite", "primary"] {
            assert!(!removed.contains_key(absent), "{version}: {absent}");
        }
        d.shutdown().await;
    }
}
