//! Split horizons over TLS: the server name a client sends (SNI) selects the horizon whose
//! names a member answers with; no SNI, or a name matching no horizon, gets the defaults.

use std::sync::Arc;

use base64::Engine;
use bson::{doc, Document};
use mongo_topology_core::wire::framing::MessageReader;
use mongo_topology_core::wire::{
    encode_message, Message, MsgFlags, OpMsg, Payload, MAX_MESSAGE_SIZE_BYTES,
};
use mongo_topology_sim::{
    Deployment, DeploymentSpec, MemberSpec, SimTls, SimTlsOptions, TopologySpec,
};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The DER certificate of a PEM text's first block.
fn der_of(pem: &str) -> CertificateDer<'static> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    CertificateDer::from(
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap(),
    )
}

/// A hello over TLS to `address`, with `server_name` as the SNI (and the name verified);
/// an IP literal sends no SNI.
async fn hello_over_tls(tls: &SimTls, address: &str, server_name: &str) -> Document {
    let mut roots = RootCertStore::empty();
    roots.add(der_of(tls.ca_pem())).unwrap();
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(address).await.unwrap();
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let mut stream = connector.connect(name, tcp).await.unwrap();
    let mut body = doc! { "hello": 1 };
    body.insert("$db", "admin");
    let request = Message {
        request_id: 1,
        response_to: 0,
        payload: Payload::Msg(OpMsg {
            flags: MsgFlags::empty(),
            body,
            sequences: Vec::new(),
        }),
    };
    stream
        .write_all(&encode_message(&request).unwrap())
        .await
        .unwrap();
    stream.flush().await.unwrap();
    let mut reader = MessageReader::new(stream, MAX_MESSAGE_SIZE_BYTES);
    let reply = tokio::time::timeout(std::time::Duration::from_secs(5), reader.read_message())
        .await
        .expect("a reply in time")
        .unwrap()
        .unwrap();
    match reply.payload {
        Payload::Msg(msg) => msg.body,
        other => panic!("expected OP_MSG, got {other:?}"),
    }
}

fn hosts(reply: &Document) -> Vec<String> {
    reply
        .get_array("hosts")
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_sni_selects_the_horizon_a_member_answers_with() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = SimTls::generate(SimTlsOptions {
        names: vec![
            "localhost".into(),
            "127.0.0.1".into(),
            "ext-0.example".into(),
            "ext-1.example".into(),
        ],
        ..SimTlsOptions::default()
    })
    .unwrap();
    let spec = DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: "rs0".into(),
        members: vec![
            MemberSpec::data()
                .with_horizon("external", "ext-0.example:30000")
                .with_horizon("local", "localhost"),
            MemberSpec::data()
                .with_horizon("external", "ext-1.example:30001")
                .with_horizon("local", "localhost"),
        ],
    })
    .with_tls(tls.clone());
    let d = Deployment::start(spec).await.unwrap();
    let a = d.addresses();
    let ports = d.ports();
    // No SNI (an IP literal): the default names.
    let plain = hello_over_tls(&tls, &a[0], "127.0.0.1").await;
    assert_eq!(hosts(&plain), a);
    assert_eq!(plain.get_str("me").unwrap(), a[0]);
    // Member 0's external host: every member by its external name.
    let external = hello_over_tls(&tls, &a[0], "ext-0.example").await;
    assert_eq!(
        hosts(&external),
        ["ext-0.example:30000", "ext-1.example:30001"]
    );
    assert_eq!(external.get_str("me").unwrap(), "ext-0.example:30000");
    assert_eq!(external.get_str("primary").unwrap(), "ext-0.example:30000");
    // A host without a port keeps the member's port.
    let local = hello_over_tls(&tls, &a[1], "localhost").await;
    assert_eq!(
        hosts(&local),
        [
            format!("localhost:{}", ports[0]),
            format!("localhost:{}", ports[1])
        ]
    );
    assert_eq!(
        local.get_str("primary").unwrap(),
        format!("localhost:{}", ports[0])
    );
    // Member 1 asked by member 0's external name: not one of its own horizons, so the
    // defaults (the server matches the SNI against the member's own horizon hosts).
    let mismatch = hello_over_tls(&tls, &a[1], "ext-0.example").await;
    assert_eq!(hosts(&mismatch), a);
    d.shutdown().await;
}
