//! Injected faults, as clients see them.

mod sim_support;

use std::time::Duration;

use bson::doc;
use mongo_topology_core::wire::{decode_message, MsgFlags};
use mongo_topology_sim::{Deployment, DeploymentSpec, FaultKind, MemberRef};
use sim_support::{code, ok, RawClient};

const M0: MemberRef = MemberRef::Index(0);

async fn set() -> Deployment {
    Deployment::start(DeploymentSpec::replica_set("rs0", 2, 0, 0))
        .await
        .unwrap()
}

#[tokio::test]
async fn counted_command_faults() {
    let d = set().await;
    let mut c = RawClient::connect(&d.addresses()[0]).await;
    d.fault(&M0, FaultKind::NotWritablePrimary(2)).unwrap();
    // The handshake is never failed.
    assert_eq!(ok(&c.hello().await), 1.0);
    for _ in 0..2 {
        assert_eq!(
            code(
                &c.command("t", doc! { "insert": "c", "documents": [{}] })
                    .await
            ),
            10107
        );
    }
    assert_eq!(
        ok(&c
            .command("t", doc! { "insert": "c", "documents": [{}] })
            .await),
        1.0
    );
    d.fault(&M0, FaultKind::NodeIsRecovering(1)).unwrap();
    assert_eq!(code(&c.command("admin", doc! { "ping": 1 }).await), 13436);
    assert_eq!(ok(&c.command("admin", doc! { "ping": 1 }).await), 1.0);
    d.shutdown().await;
}

#[tokio::test]
async fn wrong_setname_changes_hello_until_cleared() {
    let d = set().await;
    let mut c = RawClient::connect(&d.addresses()[0]).await;
    d.fault(&M0, FaultKind::WrongSetName).unwrap();
    assert_eq!(c.hello().await.get_str("setName").ok(), Some("rs0-wrong"));
    d.fault(&M0, FaultKind::Clear).unwrap();
    assert_eq!(c.hello().await.get_str("setName").ok(), Some("rs0"));
    d.shutdown().await;
}

#[tokio::test]
async fn garbage_reply_is_undecodable() {
    let d = set().await;
    let mut c = RawClient::connect(&d.addresses()[0]).await;
    d.fault(&M0, FaultKind::GarbageReply).unwrap();
    c.send_msg("admin", doc! { "ping": 1 }, MsgFlags::empty())
        .await;
    let frame = tokio::time::timeout(Duration::from_secs(5), c.conn.read_frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(decode_message(frame).is_err(), "garbage decoded");
    d.fault(&M0, FaultKind::Clear).unwrap();
    assert_eq!(ok(&c.command("admin", doc! { "ping": 1 }).await), 1.0);
    d.shutdown().await;
}

#[tokio::test]
async fn oversized_length_and_reset_after_bytes_close_the_connection() {
    let d = set().await;
    let addr = d.addresses()[0].clone();
    d.fault(&M0, FaultKind::OversizedLength).unwrap();
    let mut c = RawClient::connect(&addr).await;
    c.send_msg("admin", doc! { "ping": 1 }, MsgFlags::empty())
        .await;
    let err = c.try_recv(Duration::from_secs(5)).await.unwrap_err();
    assert!(err.contains("messageLength"), "{err}");

    d.fault(&M0, FaultKind::ResetAfterBytes(10)).unwrap();
    let mut c = RawClient::connect(&addr).await;
    c.send_msg("admin", doc! { "ping": 1 }, MsgFlags::empty())
        .await;
    let err = c.try_recv(Duration::from_secs(5)).await.unwrap_err();
    assert!(err.starts_with("io"), "{err}");

    d.fault(&M0, FaultKind::Clear).unwrap();
    let mut c = RawClient::connect(&addr).await;
    assert_eq!(ok(&c.hello().await), 1.0);
    d.shutdown().await;
}
