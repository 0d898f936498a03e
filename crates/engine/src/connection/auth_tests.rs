//! The engine's authentication (`connection::auth`, internal to the engine) against the simulator's users and
//! against fake servers that lie in the SCRAM conversation.

use crate::connection::auth::{
    authenticate, authenticated_handshake, AuthErrorKind, MongoCredential, ScramError,
    ScramKeyCache, ScramVersion,
};
use crate::connection::handshake::{handshake, HandshakeOptions};
use crate::wire::framing::{MessageReader, MessageWriter};
use crate::wire::{Message, OpMsg, Payload, MAX_MESSAGE_SIZE_BYTES};
use crate::{
    AuthError, CommandFailure, ConnectOptions, Connection, ConnectionError, ServerAddress,
};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bson::spec::BinarySubtype;
use bson::{doc, Binary, Document};
use mongo_topology_sim::{
    AuthCounts, Deployment, DeploymentSpec, ServerVersion, SimTls, SimTlsOptions, SimUser,
};
use tokio::net::TcpListener;

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

async fn simulator(version: ServerVersion) -> Deployment {
    let spec = DeploymentSpec::standalone()
        .with_version(version)
        .with_user(SimUser::new(USER, PASSWORD));
    Deployment::start(spec).await.unwrap()
}

async fn connect(deployment: &Deployment) -> Connection {
    let address = ServerAddress::parse(&deployment.addresses()[0]).unwrap();
    Connection::connect(&address, &ConnectOptions::default())
        .await
        .unwrap()
}

fn credential(password: &str, mechanism: Option<ScramVersion>) -> MongoCredential {
    MongoCredential::scram(USER, password, None, mechanism).unwrap()
}

/// Whether `conn` may run a command that needs authentication.
async fn find_works(conn: &mut Connection) -> Result<(), ConnectionError> {
    conn.command("test", doc! { "find": "c" }).await.map(|_| ())
}

/// Opens a pool-style connection (speculative handshake) and checks it is authenticated.
async fn speculative_login(
    deployment: &Deployment,
    credential: &MongoCredential,
) -> Result<Connection, AuthError> {
    let mut conn = connect(deployment).await;
    let cache = ScramKeyCache::default();
    authenticated_handshake(&mut conn, &HandshakeOptions::default(), credential, &cache).await?;
    Ok(conn)
}

fn delta(before: AuthCounts, after: AuthCounts) -> (u64, u64, u64) {
    (
        after.speculative_starts - before.speculative_starts,
        after.sasl_start_commands - before.sasl_start_commands,
        after.sasl_continue_commands - before.sasl_continue_commands,
    )
}

#[tokio::test]
async fn speculative_authentication_costs_one_round_trip_after_the_handshake() {
    let d = simulator(ServerVersion::V7_0).await;
    for mechanism in [None, Some(ScramVersion::Sha256), Some(ScramVersion::Sha1)] {
        let before = d.auth_counts();
        let mut conn = speculative_login(&d, &credential(PASSWORD, mechanism))
            .await
            .unwrap();
        find_works(&mut conn).await.unwrap();
        // The handshake carried saslStart; only one saslContinue followed.
        assert_eq!(delta(before, d.auth_counts()), (1, 0, 1), "{mechanism:?}");
    }
    d.shutdown().await;
}

#[tokio::test]
async fn without_speculation_the_conversation_takes_start_and_continue() {
    let d = simulator(ServerVersion::V7_0).await;
    for mechanism in [None, Some(ScramVersion::Sha1)] {
        let mut conn = connect(&d).await;
        let done = handshake(&mut conn, &HandshakeOptions::default())
            .await
            .unwrap();
        assert_eq!(
            find_works(&mut conn).await.unwrap_err(),
            ConnectionError::Command(Box::new(CommandFailure {
                code: Some(13),
                code_name: Some("Unauthorized".into()),
                message: "Command find requires authentication".into(),
                labels: vec![],
                topology_version: None,
            }))
        );
        let before = d.auth_counts();
        authenticate(&mut conn, &credential(PASSWORD, mechanism), &done.reply)
            .await
            .unwrap();
        assert_eq!(delta(before, d.auth_counts()), (0, 1, 1), "{mechanism:?}");
        find_works(&mut conn).await.unwrap();
    }
    d.shutdown().await;
}

#[tokio::test]
async fn a_pre_4_4_server_gets_the_empty_exchange_and_sha1_on_3_6() {
    // 4.2: no speculative authentication, no skipEmptyExchange: start + 2 continues.
    let d = simulator(ServerVersion::V4_2).await;
    let before = d.auth_counts();
    let mut conn = speculative_login(&d, &credential(PASSWORD, None))
        .await
        .unwrap();
    find_works(&mut conn).await.unwrap();
    assert_eq!(delta(before, d.auth_counts()), (0, 1, 2));
    d.shutdown().await;
    // 3.6 knows no SCRAM-SHA-256 and no saslSupportedMechs: negotiation falls back to SHA-1.
    let d = simulator(ServerVersion::V3_6).await;
    let mut conn = speculative_login(&d, &credential(PASSWORD, None))
        .await
        .unwrap();
    find_works(&mut conn).await.unwrap();
    d.shutdown().await;
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_error_naming_mechanism_and_user_not_the_password() {
    let d = simulator(ServerVersion::V7_0).await;
    let wrong = "Tr0ub4dor&3-not-it";
    for (mechanism, name) in [
        (None, "SCRAM-SHA-256"),
        (Some(ScramVersion::Sha1), "SCRAM-SHA-1"),
    ] {
        let error = speculative_login(&d, &credential(wrong, mechanism))
            .await
            .expect_err("a wrong password must be refused");
        assert_eq!(error.mechanism, name);
        assert_eq!(error.user, USER);
        assert_eq!(error.database, "admin");
        let AuthErrorKind::Server(failure) = &*error.kind else {
            panic!("expected the server's refusal, got {:?}", error.kind);
        };
        assert_eq!(failure.code, Some(18));
        assert_eq!(failure.code_name.as_deref(), Some("AuthenticationFailed"));
        assert_eq!(failure.message, "Authentication failed.");
        let shown = format!("{error} {error:?}");
        assert!(shown.contains(name) && shown.contains(USER), "{shown}");
        assert!(
            !shown.contains(wrong) && !shown.contains(PASSWORD),
            "{shown}"
        );
    }
    d.shutdown().await;
}

/// How a fake server answers the client's SCRAM messages.
#[derive(Clone, Copy, Debug)]
enum Lie {
    WrongServerSignature,
    ForeignNonce,
    IterationCountOne,
    AbsurdIterationCount,
    GarbageServerFirst,
    PayloadNotBinary,
}

/// A fake server that answers saslStart and saslContinue according to `lie`.
async fn lying_server(lie: Lie) -> ServerAddress {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, write) = stream.into_split();
        let mut reader = MessageReader::new(read, MAX_MESSAGE_SIZE_BYTES);
        let mut writer = MessageWriter::new(write);
        while let Ok(Some(message)) = reader.read_message().await {
            let Payload::Msg(request) = message.payload else {
                return;
            };
            let reply = answer(lie, &request.body);
            let reply = Message {
                request_id: 1,
                response_to: message.request_id,
                payload: Payload::Msg(OpMsg::new(reply)),
            };
            if writer.write_message(&reply).await.is_err() {
                return;
            }
        }
    });
    ServerAddress::tcp("127.0.0.1", port)
}

fn answer(lie: Lie, request: &Document) -> Document {
    let payload = |text: &str| Binary {
        subtype: BinarySubtype::Generic,
        bytes: text.as_bytes().to_vec(),
    };
    if request.contains_key("saslStart") {
        let first = request.get_binary_generic("payload").unwrap();
        let first = String::from_utf8(first.clone()).unwrap();
        let nonce = first.rsplit_once("r=").unwrap().1;
        let salt = "W22ZaJ0SNY7soEsUEjb6gQ==";
        let server_first = match lie {
            Lie::ForeignNonce => format!("r=someoneElse{nonce},s={salt},i=4096"),
            Lie::IterationCountOne => format!("r={nonce}xyz,s={salt},i=1"),
            Lie::AbsurdIterationCount => format!("r={nonce}xyz,s={salt},i=2000000000"),
            Lie::GarbageServerFirst => "\u{1}\u{2}garbage".to_owned(),
            _ => format!("r={nonce}xyz,s={salt},i=4096"),
        };
        if let Lie::PayloadNotBinary = lie {
            return doc! { "conversationId": 1, "done": false, "payload": 42, "ok": 1 };
        }
        return doc! {
            "conversationId": 1, "done": false, "payload": payload(&server_first), "ok": 1,
        };
    }
    if request.contains_key("saslContinue") {
        // Knowing nothing of the password, the liar can only guess the signature.
        let signature = BASE64.encode([7u8; 32]);
        return doc! {
            "conversationId": 1, "done": true,
            "payload": payload(&format!("v={signature}")), "ok": 1,
        };
    }
    doc! { "ok": 1, "isWritablePrimary": true, "maxWireVersion": 21 }
}

/// Whether an error kind is the one expected.
type KindCheck = fn(&AuthErrorKind) -> bool;

#[tokio::test]
async fn a_lying_server_gets_a_typed_error_and_no_panic() {
    let cases: [(Lie, KindCheck); 6] = [
        (Lie::WrongServerSignature, |k| {
            *k == AuthErrorKind::Scram(ScramError::ServerSignatureMismatch)
        }),
        (Lie::ForeignNonce, |k| {
            *k == AuthErrorKind::Scram(ScramError::NonceMismatch)
        }),
        (Lie::IterationCountOne, |k| {
            matches!(
                k,
                AuthErrorKind::Scram(ScramError::IterationCountTooLow { count: 1, .. })
            )
        }),
        (Lie::AbsurdIterationCount, |k| {
            matches!(
                k,
                AuthErrorKind::Scram(ScramError::IterationCountTooHigh { .. })
            )
        }),
        (Lie::GarbageServerFirst, |k| {
            matches!(k, AuthErrorKind::Scram(ScramError::Malformed { .. }))
        }),
        (Lie::PayloadNotBinary, |k| {
            matches!(k, AuthErrorKind::Protocol(_))
        }),
    ];
    for (lie, expected) in cases {
        let address = lying_server(lie).await;
        let mut conn = Connection::connect(&address, &ConnectOptions::default())
            .await
            .unwrap();
        let credential = credential(PASSWORD, Some(ScramVersion::Sha256));
        let error = authenticate(&mut conn, &credential, &doc! {})
            .await
            .expect_err("a lying server must not authenticate us");
        assert!(expected(&error.kind), "{lie:?}: {error}");
        assert_eq!(error.mechanism, "SCRAM-SHA-256");
        assert!(!error.to_string().contains(PASSWORD), "{error}");
    }
}

/// A file in a fresh per-test temporary directory.
fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mongo-topology-auth-{}-{}",
        std::process::id(),
        bson::oid::ObjectId::new()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Moved from `engine_tls.rs` (`x509_authenticates_with_the_client_certificate`, its last
/// part): `authenticate` is internal to the engine. Without speculation: the
/// `authenticate` command after a plain handshake.
#[tokio::test]
async fn x509_authenticates_without_speculation_after_a_plain_handshake() {
    use crate::options::ConnectionString;
    use crate::{TlsConnector, TlsSettings};

    let tls = SimTls::generate(SimTlsOptions {
        request_client_certificates: true,
        ..SimTlsOptions::default()
    })
    .unwrap();
    let spec = DeploymentSpec::standalone()
        .with_tls(tls.clone())
        .with_x509_user(&SimTls::client_subject("app"));
    let sim = Deployment::start(spec).await.unwrap();
    let pem = tls.client_certificate_pem("app").unwrap();
    let client = temp_file("client.pem", &pem);
    let connector = TlsConnector::new(&TlsSettings {
        ca_file: Some(temp_file("ca.pem", tls.ca_pem())),
        certificate_key_file: Some(client.clone()),
        ..TlsSettings::default()
    })
    .unwrap();
    let address = ServerAddress::parse(&format!("localhost:{}", sim.ports()[0])).unwrap();
    let mut conn =
        Connection::connect_with_tls(&address, &ConnectOptions::default(), Some(&connector))
            .await
            .unwrap();
    let reply = handshake(&mut conn, &HandshakeOptions::default())
        .await
        .unwrap()
        .reply;
    let uri = ConnectionString::parse("mongodb://h/?authMechanism=MONGODB-X509").unwrap();
    let credential = MongoCredential::from_connection_string(&uri)
        .unwrap()
        .unwrap();
    authenticate(&mut conn, &credential, &reply).await.unwrap();
    conn.command("test", doc! { "find": "c" }).await.unwrap();
    sim.shutdown().await;
}
