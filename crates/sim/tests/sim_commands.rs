//! Commands other than hello: ping, writes, reads, errors per version, replSetGetStatus.

mod sim_support;

use bson::{doc, Bson};
use mongo_topology_core::wire::{DocumentSequence, Message, MsgFlags, OpMsg, Payload};
use mongo_topology_sim::{Deployment, DeploymentSpec, ServerVersion};
use sim_support::{code, ok, RawClient};

fn labels(reply: &bson::Document) -> Vec<String> {
    match reply.get("errorLabels") {
        Some(Bson::Array(a)) => a.iter().map(|b| b.as_str().unwrap().to_owned()).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn primary_accepts_writes_and_reads() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let mut c = RawClient::connect(&d.addresses()[0]).await;
    assert_eq!(ok(&c.command("admin", doc! { "ping": 1 }).await), 1.0);
    // insert with a kind-1 document sequence, as drivers send it.
    let id = c.next_id();
    let insert = Message {
        request_id: id,
        response_to: 0,
        payload: Payload::Msg(OpMsg {
            flags: MsgFlags::empty(),
            body: doc! { "insert": "things", "$db": "app", "ordered": true },
            sequences: vec![DocumentSequence {
                identifier: "documents".into(),
                documents: vec![doc! { "_id": 1 }, doc! { "_id": 2 }, doc! { "_id": 3 }],
            }],
        }),
    };
    c.send(&insert).await;
    let reply = match c.recv().await.payload {
        Payload::Msg(m) => m.body,
        other => panic!("{other:?}"),
    };
    assert_eq!(reply.get_i32("n").ok(), Some(3));
    assert_eq!(ok(&reply), 1.0);
    assert!(reply.contains_key("$clusterTime") && reply.contains_key("operationTime"));
    let u = c
        .command(
            "app",
            doc! { "update": "things", "updates": [{ "q": { "_id": 99 }, "u": { "$set": { "a": 1 } } }] },
        )
        .await;
    assert_eq!(
        (u.get_i32("n").ok(), u.get_i32("nModified").ok()),
        (Some(0), Some(0))
    );
    let del = c
        .command(
            "app",
            doc! { "delete": "things", "deletes": [{ "q": { "_id": 99 }, "limit": 0 }] },
        )
        .await;
    assert_eq!(del.get_i32("n").ok(), Some(0));
    // Documents are stored: the three inserted are found, and the statements above matched
    // none of them.
    let all = c
        .command("app", doc! { "find": "things", "filter": {} })
        .await;
    let all = all.get_document("cursor").unwrap();
    assert_eq!(all.get_array("firstBatch").unwrap().len(), 3);
    let f = c
        .command("app", doc! { "find": "things", "filter": { "_id": 99 } })
        .await;
    let cursor = f.get_document("cursor").unwrap();
    assert_eq!(cursor.get_array("firstBatch").unwrap().len(), 0);
    assert_eq!(cursor.get_i64("id").ok(), Some(0));
    assert_eq!(cursor.get_str("ns").ok(), Some("app.things"));
    assert_eq!(
        ok(&c.command("admin", doc! { "endSessions": [] }).await),
        1.0
    );
    let unknown = c.command("admin", doc! { "frobnicate": 1 }).await;
    assert_eq!((ok(&unknown), code(&unknown)), (0.0, 59));
    assert_eq!(unknown.get_str("codeName").ok(), Some("CommandNotFound"));
    // A request without $db is answered with an error, not a closed connection.
    let id = c.next_id();
    c.send(&Message {
        request_id: id,
        response_to: 0,
        payload: Payload::Msg(OpMsg::new(doc! { "ping": 1 })),
    })
    .await;
    match c.recv().await.payload {
        Payload::Msg(m) => assert_eq!(code(&m.body), 40571),
        other => panic!("{other:?}"),
    }
    d.shutdown().await;
}

#[tokio::test]
async fn secondary_refuses_writes_with_version_specific_errors() {
    for (version, name, labelled) in [
        (ServerVersion::V4_2, "NotMaster", false),
        (ServerVersion::V4_4, "NotWritablePrimary", true),
        (ServerVersion::V7_0, "NotWritablePrimary", true),
    ] {
        let d =
            Deployment::start(DeploymentSpec::replica_set("rs0", 2, 0, 0).with_version(version))
                .await
                .unwrap();
        let mut c = RawClient::connect(&d.addresses()[1]).await;
        // A retryable write (txnNumber) gets RetryableWriteError from 4.4 on.
        let r = c
            .command(
                "app",
                doc! { "insert": "t", "documents": [{}], "txnNumber": 1i64, "lsid": { "id": 1 } },
            )
            .await;
        assert_eq!((ok(&r), code(&r)), (0.0, 10107), "{version}");
        assert_eq!(r.get_str("codeName").ok(), Some(name), "{version}");
        assert_eq!(
            labels(&r) == vec!["RetryableWriteError".to_owned()],
            labelled,
            "{version}"
        );
        assert_eq!(
            r.contains_key("topologyVersion"),
            version >= ServerVersion::V4_4,
            "{version}"
        );
        // Not a retryable write: no label.
        let r = c
            .command("app", doc! { "delete": "t", "deletes": [] })
            .await;
        assert_eq!(code(&r), 10107);
        assert!(labels(&r).is_empty());
        // Reads need secondaryOk.
        let r = c.command("app", doc! { "find": "t" }).await;
        assert_eq!(code(&r), 13435, "{version}");
        let r = c
            .command(
                "app",
                doc! { "find": "t", "$readPreference": { "mode": "secondaryPreferred" } },
            )
            .await;
        assert_eq!(ok(&r), 1.0);
        d.shutdown().await;
    }
}

#[tokio::test]
async fn repl_set_get_status_lists_members() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 2, 1, 0))
        .await
        .unwrap();
    let mut c = RawClient::connect(&d.addresses()[1]).await;
    let s = c.command("admin", doc! { "replSetGetStatus": 1 }).await;
    assert_eq!(s.get_str("set").ok(), Some("rs0"));
    assert_eq!(s.get_i32("myState").ok(), Some(2));
    let states: Vec<&str> = s
        .get_array("members")
        .unwrap()
        .iter()
        .map(|m| m.as_document().unwrap().get_str("stateStr").unwrap())
        .collect();
    assert_eq!(states, ["PRIMARY", "SECONDARY", "ARBITER"]);
    d.shutdown().await;

    let d = Deployment::start(DeploymentSpec::standalone())
        .await
        .unwrap();
    let mut c = RawClient::connect(&d.addresses()[0]).await;
    assert_eq!(
        code(&c.command("admin", doc! { "replSetGetStatus": 1 }).await),
        76
    );
    d.shutdown().await;
}

#[tokio::test]
async fn fire_and_forget_and_checksummed_requests() {
    let d = Deployment::start(DeploymentSpec::standalone())
        .await
        .unwrap();
    let mut c = RawClient::connect(&d.addresses()[0]).await;
    // moreToCome on a request: no reply at all; the next request's reply comes next.
    c.send_msg(
        "app",
        doc! { "insert": "t", "documents": [{}] },
        MsgFlags::MORE_TO_COME,
    )
    .await;
    let id = c
        .send_msg("admin", doc! { "ping": 1 }, MsgFlags::CHECKSUM_PRESENT)
        .await;
    let reply = c.recv().await;
    assert_eq!(reply.response_to, id);
    d.shutdown().await;
}
