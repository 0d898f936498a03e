//! The fuzzers' seed corpus (`fuzz/corpus/<target>/`): real messages from the simulator.
//!
//! `FUZZ_CORPUS_WRITE=1 cargo test --test fuzz_corpus -- --ignored` regenerates it: hello
//! replies of every server type (BSON), the OP_MSG / OP_QUERY / OP_REPLY frames of those
//! exchanges, and a real SCRAM-SHA-256 conversation's server messages. The other test
//! checks that the checked-in corpus still decodes, so the fuzzers start from real input.

#[path = "../crates/sim/tests/sim_support/mod.rs"]
mod sim_support;

use std::path::PathBuf;
use std::time::Duration;

use bson::{doc, Document};
use mongo_topology::address::ServerAddress;
use mongo_topology::auth::{sasl_continue, sasl_start, ScramClient, ScramKeyCache, ScramVersion};
use mongo_topology::sdam::{CheckTiming, ServerDescription, ServerType};
use mongo_topology::time::MonotonicTime;
use mongo_topology::wire::{decode_message, encode_message, Message, OpMsg, Payload};
use mongo_topology::wire::{OpQuery, OpReply};
use mongo_topology_sim::{
    Deployment, DeploymentSpec, MemberSpec, ServerVersion, SimUser, TopologySpec,
};
use sim_support::RawClient;

/// Must match `SCRAM_CLIENT_NONCE` in fuzz/src/targets.rs.
const SCRAM_CLIENT_NONCE: &str = "fyko+d2lbbFgONRv9qkxdawL";

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus")
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus_dir().join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Sends `body` as OP_MSG, returns the request frame, the reply frame and the reply body.
async fn exchange(client: &mut RawClient, body: Document) -> (Vec<u8>, Vec<u8>, Document) {
    let request = Message {
        request_id: client.next_id(),
        response_to: 0,
        payload: Payload::Msg(OpMsg::new(body)),
    };
    client.send(&request).await;
    let reply = client.recv().await;
    let body = match &reply.payload {
        Payload::Msg(msg) => msg.body.clone(),
        other => panic!("expected OP_MSG, got {other:?}"),
    };
    (
        encode_message(&request).unwrap(),
        encode_message(&reply).unwrap(),
        body,
    )
}

async fn hellos_of(d: &Deployment, prefix: &str) {
    for (i, address) in d.addresses().iter().enumerate() {
        let mut client = RawClient::connect(address).await;
        let (request, reply, body) = exchange(
            &mut client,
            doc! { "hello": 1, "helloOk": true, "$db": "admin" },
        )
        .await;
        write(
            "hello",
            &format!("{prefix}-{i}.bson"),
            &body.to_vec().unwrap(),
        );
        write("wire", &format!("{prefix}-{i}-reply.bin"), &reply);
        if i == 0 {
            write("wire", &format!("{prefix}-hello-request.bin"), &request);
        }
    }
}

async fn legacy_exchange(d: &Deployment) {
    let mut client = RawClient::connect(&d.addresses()[0]).await;
    let request = Message {
        request_id: client.next_id(),
        response_to: 0,
        payload: Payload::Query(OpQuery::command("admin", doc! { "isMaster": 1 })),
    };
    client.send(&request).await;
    let reply = client.recv().await;
    let Payload::Reply(OpReply { documents, .. }) = &reply.payload else {
        panic!("expected OP_REPLY")
    };
    write(
        "hello",
        "legacy-ismaster.bson",
        &documents[0].to_vec().unwrap(),
    );
    write(
        "wire",
        "legacy-op-query.bin",
        &encode_message(&request).unwrap(),
    );
    write(
        "wire",
        "legacy-op-reply.bin",
        &encode_message(&reply).unwrap(),
    );
}

async fn scram_conversation(d: &Deployment) {
    let mut client = RawClient::connect(&d.addresses()[0]).await;
    let scram =
        ScramClient::new(ScramVersion::Sha256, "user", "pencil", SCRAM_CLIENT_NONCE).unwrap();
    let mut start = sasl_start("SCRAM-SHA-256", &scram.client_first());
    start.insert("$db", "admin");
    let (request, reply, body) = exchange(&mut client, start).await;
    write("wire", "sasl-start-request.bin", &request);
    write("wire", "sasl-start-reply.bin", &reply);
    let server_first = body.get_binary_generic("payload").unwrap().clone();
    let next = scram
        .receive_server_first(&server_first, &ScramKeyCache::default())
        .unwrap();
    let mut cont = sasl_continue(body.get("conversationId").unwrap(), next.client_final());
    cont.insert("$db", "admin");
    let (_, _, body) = exchange(&mut client, cont).await;
    let server_final = body.get_binary_generic("payload").unwrap().clone();
    next.receive_server_final(&server_final).unwrap();
    let mut input = server_first.clone();
    input.push(0xff);
    input.extend_from_slice(&server_final);
    write("scram", "conversation.bin", &input);
    let mut rejected = server_first;
    rejected.push(0xff);
    rejected.extend_from_slice(b"e=Authentication failed.");
    write("scram", "server-error.bin", &rejected);
}

#[tokio::test]
#[ignore = "writes fuzz/corpus; run with FUZZ_CORPUS_WRITE=1 to regenerate"]
async fn generate_the_seed_corpus() {
    if std::env::var_os("FUZZ_CORPUS_WRITE").is_none() {
        return;
    }
    let rs = DeploymentSpec::new(TopologySpec::ReplicaSet {
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
    })
    .with_user(SimUser::new("user", "pencil"));
    let d = Deployment::start(rs).await.unwrap();
    hellos_of(&d, "rs").await;
    legacy_exchange(&d).await;
    scram_conversation(&d).await;
    d.shutdown().await;
    let sharded = Deployment::start(DeploymentSpec::sharded(1)).await.unwrap();
    hellos_of(&sharded, "mongos").await;
    sharded.shutdown().await;
    let single = Deployment::start(DeploymentSpec::standalone())
        .await
        .unwrap();
    hellos_of(&single, "standalone").await;
    single.shutdown().await;
    let old = Deployment::start(
        DeploymentSpec::replica_set("rs1", 1, 0, 0).with_version(ServerVersion::V4_0),
    )
    .await
    .unwrap();
    hellos_of(&old, "rs-4.0").await;
    old.shutdown().await;
    // Inputs of the string parsers: written here, by us.
    for (i, txt) in [
        &b"authSource=admin&replicaSet=rs0"[..],
        b"loadBalanced=true",
        b"replicaSet=rs0\xfdauthSource=thisDB",
        b"authSource=admin\xfereplicaSet=rs0",
        b"",
    ]
    .iter()
    .enumerate()
    {
        write("txt", &format!("txt-{i}.txt"), txt);
    }
    for (i, uri) in [
        "mongodb://alice:foo@127.0.0.1:27018,[::1]:27019,%2Ftmp%2Fmongodb-27017.sock/admin?w=1",
        "mongodb+srv://cluster0.example.com/db?srvMaxHosts=2&srvServiceName=custom&tls=false",
        "mongodb://example.com/?readPreference=secondary&readPreferenceTags=dc:ny,rack:1\
         &readPreferenceTags=&maxStalenessSeconds=120&heartbeatFrequencyMS=500",
        "mongodb://u%40x:p%3Aw@h1,h2/?authMechanism=GSSAPI&authMechanismProperties=\
         SERVICE_NAME:other,CANONICALIZE_HOST_NAME:true&compressors=zlib,snappy",
        "mongodb://h/?tls=true&tlsCAFile=ca.pem&proxyHost=p&proxyPort=1080&w=majority",
    ]
    .iter()
    .enumerate()
    {
        write("uri", &format!("uri-{i}.txt"), uri.as_bytes());
    }
}

fn files(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir().join(target))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(path).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_checked_in_corpus_is_made_of_real_messages() {
    let wire = files("wire");
    assert!(wire.len() >= 15, "{} wire seeds", wire.len());
    for (name, bytes) in &wire {
        decode_message(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let hello = files("hello");
    let mut types = Vec::new();
    for (name, bytes) in &hello {
        let reply = Document::from_reader(bytes.as_slice()).unwrap();
        let address = ServerAddress::tcp("a", 27017);
        let d =
            ServerDescription::from_hello(address, &reply, CheckTiming::at(MonotonicTime::ZERO));
        assert!(d.error.is_none(), "{name}: {:?}", d.error);
        types.push(d.server_type);
    }
    for expected in [
        ServerType::RsPrimary,
        ServerType::RsSecondary,
        ServerType::RsArbiter,
        ServerType::RsOther,
        ServerType::RsGhost,
        ServerType::Mongos,
        ServerType::Standalone,
    ] {
        assert!(types.contains(&expected), "no {expected:?} in {types:?}");
    }
    assert_eq!(files("scram").len(), 2);
    assert!(files("uri").len() >= 5 && files("txt").len() >= 5);
}
