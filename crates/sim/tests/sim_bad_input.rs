//! Clients may send anything: each malformed message closes that connection, and the node
//! keeps serving every other connection.

mod sim_support;

use std::time::Duration;

use bson::doc;
use mongo_topology_core::wire::{encode_message, Message, MsgFlags, OpMsg, OpReply, Payload};
use mongo_topology_sim::{Deployment, DeploymentSpec};
use sim_support::{ok, RawClient};
use tokio::io::AsyncWriteExt;

fn ping_bytes(flags: MsgFlags) -> Vec<u8> {
    encode_message(&Message {
        request_id: 9,
        response_to: 0,
        payload: Payload::Msg(OpMsg {
            flags,
            body: doc! { "ping": 1, "$db": "admin" },
            sequences: vec![],
        }),
    })
    .unwrap()
}

fn header(length: i32, op_code: i32) -> Vec<u8> {
    let mut h = Vec::new();
    for v in [length, 1, 0, op_code] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h
}

/// An OP_MSG whose body is nested `depth` levels deep ({a: {a: ... {}}}).
fn deeply_nested(depth: usize) -> Vec<u8> {
    let mut doc = Vec::with_capacity(8 * depth);
    for level in (1..depth).rev() {
        doc.extend_from_slice(&((5 + 8 * level) as i32).to_le_bytes());
        doc.extend_from_slice(&[0x03, b'a', 0]);
    }
    doc.extend_from_slice(&[5, 0, 0, 0, 0]);
    doc.extend(std::iter::repeat_n(0u8, depth - 1));
    let mut msg = header((16 + 5 + doc.len()) as i32, 2013);
    msg.extend_from_slice(&[0, 0, 0, 0, 0]);
    msg.extend_from_slice(&doc);
    msg
}

/// Each entry: a name and the bytes to send; every one must close the connection.
fn bad_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let good = ping_bytes(MsgFlags::empty());
    let mut invalid_bson = good.clone();
    invalid_bson[21..25].copy_from_slice(&5000i32.to_le_bytes());
    let mut bad_checksum = ping_bytes(MsgFlags::CHECKSUM_PRESENT);
    let n = bad_checksum.len();
    bad_checksum[n - 1] ^= 0xFF;
    let mut garbage_bson = good.clone();
    for b in garbage_bson.iter_mut().skip(21) {
        *b = 0xAB;
    }
    let op_reply = encode_message(&Message {
        request_id: 1,
        response_to: 0,
        payload: Payload::Reply(OpReply::single(doc! { "ok": 1 })),
    })
    .unwrap();
    let mut unknown_opcode = header(24, 2010);
    unknown_opcode.extend_from_slice(&[0u8; 8]);
    vec![
        ("length above maxMessageSizeBytes", header(48_000_001, 2013)),
        ("negative length", header(-5, 2013)),
        ("length below the header size", header(4, 2013)),
        ("invalid BSON length", invalid_bson),
        ("garbage BSON", garbage_bson),
        ("bad checksum", bad_checksum),
        ("unknown opcode", unknown_opcode),
        ("OP_REPLY from a client", op_reply),
        ("BSON nested 100,000 levels deep", deeply_nested(100_000)),
        ("truncated header then EOF", good[..7].to_vec()),
    ]
}

#[tokio::test]
async fn malformed_messages_close_only_their_connection() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 1, 0, 0))
        .await
        .unwrap();
    let addr = d.addresses()[0].clone();
    let mut bystander = RawClient::connect(&addr).await;
    for (name, bytes) in bad_inputs() {
        let mut c = RawClient::connect(&addr).await;
        c.send_raw(&bytes).await;
        if name.starts_with("truncated") {
            c.stream().shutdown().await.unwrap();
        }
        assert!(
            c.closed_within(Duration::from_secs(5)).await,
            "{name}: connection not closed"
        );
        // The node still serves an existing connection and new ones.
        assert_eq!(
            ok(&bystander.command("admin", doc! { "ping": 1 }).await),
            1.0,
            "after {name}"
        );
        let mut fresh = RawClient::connect(&addr).await;
        assert_eq!(ok(&fresh.hello().await), 1.0, "after {name}");
    }
    d.shutdown().await;
}

#[tokio::test]
async fn lying_length_waits_for_the_body_without_harming_others() {
    let d = Deployment::start(DeploymentSpec::standalone())
        .await
        .unwrap();
    let addr = d.addresses()[0].clone();
    // Announces 1 MB, sends 30 bytes, then goes quiet: the node waits for this one client only.
    let mut liar = RawClient::connect(&addr).await;
    let mut bytes = header(1_000_000, 2013);
    bytes.extend_from_slice(&[0u8; 14]);
    liar.send_raw(&bytes).await;
    let mut other = RawClient::connect(&addr).await;
    assert_eq!(ok(&other.command("admin", doc! { "ping": 1 }).await), 1.0);
    // When the liar gives up, its connection is closed.
    liar.stream().shutdown().await.unwrap();
    assert!(liar.closed_within(Duration::from_secs(5)).await);
    d.shutdown().await;
}
