//! The engine over TLS against the simulator serving TLS with generated certificates: the
//! right CA passes; a wrong CA, an expired certificate and a wrong host name fail with an
//! error naming the cause (and pass with the matching `tlsAllow*` option); TLS against a
//! plain server and plain against a TLS server fail without hanging; MONGODB-X509 with a
//! client certificate. The simulator's `stall-tls-handshake` fault: new handshakes time
//! out under connectTimeoutMS while established connections keep working.

mod engine_support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bson::doc;
use engine_support::*;
use mongo_topology::sdam::{ServerErrorKind, ServerType};
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::ClusterSettingsError;
use mongo_topology::{
    Cluster, ClusterError, ClusterSettings, ConnectOptions, Connection, ConnectionError,
    ServerAddress, TlsConnector, TlsSettings, TlsSetupError,
};
use mongo_topology_sim::{Deployment, DeploymentSpec, FaultKind, MemberRef, SimTls, SimTlsOptions};

/// A file in a fresh per-test temporary directory.
fn temp_file(name: &str, contents: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mongo-topology-tls-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn generate(options: SimTlsOptions) -> SimTls {
    SimTls::generate(options).unwrap()
}

/// A TLS standalone serving `tls`.
async fn tls_standalone(tls: &SimTls) -> Deployment {
    start(DeploymentSpec::standalone().with_tls(tls.clone())).await
}

fn ca_file(tls: &SimTls) -> PathBuf {
    temp_file("ca.pem", tls.ca_pem())
}

/// `mongodb://<host>:<port of node 0>/?tls=true&tlsCAFile=<ca>&<extra>`.
fn tls_uri(host: &str, sim: &Deployment, ca: &SimTls, extra: &str) -> String {
    format!(
        "mongodb://{host}:{}/?tls=true&tlsCAFile={}&connectTimeoutMS=2000&serverSelectionTimeoutMS=2000{extra}",
        sim.ports()[0],
        ca_file(ca).display()
    )
}

async fn ping(cluster: &Cluster) -> Result<bson::Document, ClusterError> {
    cluster
        .run_command("admin", doc! { "ping": 1 }, &SelectionCriteria::write())
        .await
}

/// The error the monitor recorded for the only server, once it has one.
async fn monitor_error(cluster: &Cluster) -> mongo_topology::sdam::ServerError {
    let topology = wait_until(cluster, "a server error", |t| {
        t.servers.values().any(|s| s.error.is_some())
    })
    .await;
    topology
        .servers
        .values()
        .find_map(|s| s.error.clone())
        .unwrap()
}

#[tokio::test]
async fn a_replica_set_is_discovered_and_answers_over_tls_with_the_right_ca() {
    let tls = generate(SimTlsOptions::default());
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0).with_tls(tls.clone())).await;
    let cluster = connect(&tls_uri("127.0.0.1", &sim, &tls, "&replicaSet=rs0"));
    let topology = wait_until(&cluster, "3 known members", |t| {
        t.servers.len() == 3 && all_known(t)
    })
    .await;
    assert_eq!(count(&topology, ServerType::RsPrimary), 1);
    assert_eq!(count(&topology, ServerType::RsSecondary), 2);
    assert!(topology.servers.values().all(|s| s.error.is_none()));
    let reply = ping(&cluster).await.unwrap();
    assert_eq!(reply.get_f64("ok").unwrap(), 1.0);
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_host_name_is_verified_and_sent_as_sni() {
    let tls = generate(SimTlsOptions::default());
    let sim = tls_standalone(&tls).await;
    let address = ServerAddress::parse(&format!("localhost:{}", sim.ports()[0])).unwrap();
    let connector = TlsConnector::new(&TlsSettings {
        ca_file: Some(ca_file(&tls)),
        ..TlsSettings::default()
    })
    .unwrap();
    let mut conn =
        Connection::connect_with_tls(&address, &ConnectOptions::default(), Some(&connector))
            .await
            .unwrap();
    let info = conn.tls_info().cloned().unwrap();
    assert!(info.protocol.starts_with("TLSv1."), "{info:?}");
    assert!(
        info.peer_subject
            .as_deref()
            .unwrap()
            .contains("CN=localhost"),
        "{info:?}"
    );
    assert!(info.peer_not_after.unwrap() > std::time::SystemTime::now());
    // The hello a handshake sends, over the public single-connection API.
    conn.command("admin", doc! { "hello": 1 }).await.unwrap();
    let reply = conn.command("admin", doc! { "ping": 1 }).await.unwrap();
    assert_eq!(reply.get_f64("ok").unwrap(), 1.0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_ca_is_an_unknown_issuer_unless_invalid_certificates_are_allowed() {
    let served = generate(SimTlsOptions::default());
    let other = generate(SimTlsOptions::default());
    let sim = tls_standalone(&served).await;
    let cluster = connect(&tls_uri("localhost", &sim, &other, ""));
    let error = monitor_error(&cluster).await;
    assert_eq!(error.kind, ServerErrorKind::Network, "{error:?}");
    assert!(
        error.message.contains("unknown issuer"),
        "{}",
        error.message
    );
    let failure = ping(&cluster).await.unwrap_err();
    assert!(failure.to_string().contains("unknown issuer"), "{failure}");
    cluster.close().await;

    let allowed = connect(&tls_uri(
        "localhost",
        &sim,
        &other,
        "&tlsAllowInvalidCertificates=true",
    ));
    ping(&allowed).await.unwrap();
    allowed.close().await;
    let insecure = connect(&tls_uri("localhost", &sim, &other, "&tlsInsecure=true"));
    ping(&insecure).await.unwrap();
    insecure.close().await;
    // Allowing invalid host names still verifies the chain.
    let names_only = connect(&tls_uri(
        "localhost",
        &sim,
        &other,
        "&tlsAllowInvalidHostnames=true",
    ));
    let error = monitor_error(&names_only).await;
    assert!(
        error.message.contains("unknown issuer"),
        "{}",
        error.message
    );
    names_only.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_certificate_is_named_unless_invalid_certificates_are_allowed() {
    let tls = generate(SimTlsOptions {
        expired: true,
        ..SimTlsOptions::default()
    });
    let sim = tls_standalone(&tls).await;
    let cluster = connect(&tls_uri("localhost", &sim, &tls, ""));
    let error = monitor_error(&cluster).await;
    assert!(error.message.contains("expired"), "{}", error.message);
    cluster.close().await;
    let allowed = connect(&tls_uri(
        "localhost",
        &sim,
        &tls,
        "&tlsAllowInvalidCertificates=true",
    ));
    ping(&allowed).await.unwrap();
    allowed.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_host_name_is_named_unless_invalid_hostnames_are_allowed() {
    let tls = generate(SimTlsOptions {
        names: vec!["db.example.invalid".to_owned()],
        ..SimTlsOptions::default()
    });
    let sim = tls_standalone(&tls).await;
    for host in ["localhost", "127.0.0.1"] {
        let cluster = connect(&tls_uri(host, &sim, &tls, ""));
        let error = monitor_error(&cluster).await;
        assert!(
            error.message.contains("not valid for the host name"),
            "{host}: {}",
            error.message
        );
        cluster.close().await;
        let allowed = connect(&tls_uri(host, &sim, &tls, "&tlsAllowInvalidHostnames=true"));
        ping(&allowed).await.unwrap();
        allowed.close().await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn tls_against_a_plain_server_fails_within_the_connect_timeout() {
    let tls = generate(SimTlsOptions::default());
    let sim = start(DeploymentSpec::standalone()).await;
    let address = address(&sim, 0);
    let connector = TlsConnector::new(&TlsSettings {
        ca_file: Some(ca_file(&tls)),
        ..TlsSettings::default()
    })
    .unwrap();
    let options = ConnectOptions {
        connect_timeout: Some(Duration::from_millis(500)),
        socket_timeout: None,
        name_server: None,
    };
    let outcome = tokio::time::timeout(
        PATIENCE,
        Connection::connect_with_tls(&address, &options, Some(&connector)),
    )
    .await
    .expect("the connect timeout bounds the handshake");
    match outcome {
        Err(ConnectionError::Tls { cause }) => {
            assert!(cause.contains("is TLS enabled on the server?"), "{cause}")
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn plain_against_a_tls_server_fails_without_hanging() {
    let tls = generate(SimTlsOptions::default());
    let sim = tls_standalone(&tls).await;
    let address = address(&sim, 0);
    let options = ConnectOptions {
        connect_timeout: Some(Duration::from_millis(500)),
        socket_timeout: None,
        name_server: None,
    };
    let mut conn = Connection::connect(&address, &options).await.unwrap();
    // The hello a handshake sends, read under the connect timeout as the handshake does.
    let hello = conn.command_within("admin", doc! { "hello": 1 }, options.connect_timeout);
    let outcome = tokio::time::timeout(PATIENCE, hello)
        .await
        .expect("the connect timeout bounds the handshake");
    match outcome {
        Err(ConnectionError::Network { cause }) => {
            assert!(cause.contains("connect with tls=true"), "{cause}")
        }
        other => panic!("expected a network failure, got {other:?}"),
    }
    sim.shutdown().await;
}

/// A TLS standalone asking for client certificates, with the X509 user `CN=app,...`, and
/// the client certificate file for `common_name`.
async fn x509_deployment(common_name: &str) -> (Deployment, SimTls, PathBuf) {
    let tls = generate(SimTlsOptions {
        request_client_certificates: true,
        ..SimTlsOptions::default()
    });
    let spec = DeploymentSpec::standalone()
        .with_tls(tls.clone())
        .with_x509_user(&SimTls::client_subject("app"));
    let sim = start(spec).await;
    let pem = tls.client_certificate_pem(common_name).unwrap();
    (sim, tls.clone(), temp_file("client.pem", &pem))
}

async fn find(cluster: &Cluster) -> Result<bson::Document, ClusterError> {
    cluster
        .run_command("test", doc! { "find": "c" }, &SelectionCriteria::write())
        .await
}

#[tokio::test]
async fn x509_authenticates_with_the_client_certificate() {
    let (sim, tls, client) = x509_deployment("app").await;
    let cert = format!(
        "&authMechanism=MONGODB-X509&tlsCertificateKeyFile={}",
        client.display()
    );
    let cluster = connect(&tls_uri("localhost", &sim, &tls, &cert));
    let before = sim.auth_counts();
    find(&cluster).await.unwrap();
    assert!(sim.auth_counts().successes > before.successes);
    cluster.close().await;

    // With the user named in the URI (it must match the certificate's subject).
    let user = "CN%3Dapp%2COU%3Dclients%2CO%3Dmongo-topology-sim";
    let named = tls_uri("localhost", &sim, &tls, &cert).replacen("//", &format!("//{user}@"), 1);
    let cluster = connect(&named);
    find(&cluster).await.unwrap();
    cluster.close().await;

    // Without speculation (the `authenticate` command after a plain handshake): the unit
    // test `x509_authenticates_without_speculation_after_a_plain_handshake` in the engine's
    // `connection/auth_tests.rs`, since `authenticate` is internal to the engine.
    sim.shutdown().await;
}

#[tokio::test]
async fn x509_without_a_certificate_or_with_an_unknown_one_fails_clearly() {
    let (sim, tls, stranger) = x509_deployment("stranger").await;
    let no_cert = connect(&tls_uri(
        "localhost",
        &sim,
        &tls,
        "&authMechanism=MONGODB-X509",
    ));
    let error = find(&no_cert).await.unwrap_err().to_string();
    assert!(error.contains("MONGODB-X509"), "{error}");
    assert!(error.contains("No verified subject name"), "{error}");
    no_cert.close().await;
    let cert = format!(
        "&authMechanism=MONGODB-X509&tlsCertificateKeyFile={}",
        stranger.display()
    );
    let unknown = connect(&tls_uri("localhost", &sim, &tls, &cert));
    let error = find(&unknown).await.unwrap_err().to_string();
    assert!(error.contains("AuthenticationFailed"), "{error}");
    unknown.close().await;
    sim.shutdown().await;
}

/// `tlsCAFile` and `tlsCertificateKeyFile` naming an endless file (`/dev/zero`, a FIFO) were
/// read without limit; a file over `MAX_FILE_BYTES` too. Each is now refused at once with
/// an error naming the option, the file and why.
#[tokio::test]
async fn endless_or_oversized_tls_files_are_refused_at_once() {
    let fifo = temp_file("placeholder", "").with_file_name("fifo.pem");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let limit = usize::try_from(mongo_topology::MAX_FILE_BYTES).unwrap();
    let oversized = temp_file("big.pem", &"a".repeat(limit + 1));
    let cases = [
        (
            "/dev/zero".into(),
            "not a regular file (a character device)",
        ),
        (fifo.clone(), "not a regular file (a FIFO)"),
        (oversized, "larger than the limit of 1048576 bytes"),
    ];
    for (path, why) in cases {
        for option in ["tlsCAFile", "tlsCertificateKeyFile"] {
            let uri = format!("mongodb://h/?tls=true&{option}={}", path.display());
            let settings = ClusterSettings::parse(&uri).unwrap();
            let started = tokio::task::spawn_blocking(move || {
                Cluster::new(settings).map(|_| ()).unwrap_err().to_string()
            });
            let error = tokio::time::timeout(Duration::from_secs(10), started)
                .await
                .expect("the file is refused without being read")
                .unwrap();
            assert!(error.contains(option), "{error}");
            assert!(error.contains(&path.display().to_string()), "{error}");
            assert!(error.contains(why), "{error}");
        }
    }
    std::fs::remove_file(&fifo).unwrap();
}

#[tokio::test]
async fn unusable_tls_files_stop_the_cluster_from_starting() {
    let missing =
        ClusterSettings::parse("mongodb://h/?tls=true&tlsCAFile=/nonexistent/ca.pem").unwrap();
    match Cluster::new(missing) {
        Err(ClusterError::Settings(ClusterSettingsError::Tls(TlsSetupError::File {
            what,
            ..
        }))) => assert_eq!(what, "tlsCAFile"),
        other => panic!("expected a tlsCAFile error, got {other:?}"),
    }
    let tls = generate(SimTlsOptions::default());
    let encrypted = tls
        .encrypted_client_certificate_pem("app", "s3cret-pass")
        .unwrap();
    let path = temp_file("encrypted.pem", &encrypted);
    let start_with = |password: &str| {
        let settings = ClusterSettings::parse(&format!(
            "mongodb://h/?tls=true&tlsCertificateKeyFile={}{password}",
            path.display()
        ))
        .unwrap();
        Cluster::new(settings).map(|_| ()).unwrap_err().to_string()
    };
    let error = start_with("&tlsCertificateKeyFilePassword=wrong-pass");
    assert!(error.contains("cannot decrypt the private key"), "{error}");
    assert!(
        error.contains("wrong tlsCertificateKeyFilePassword"),
        "{error}"
    );
    assert!(!error.contains("wrong-pass"), "{error}");
    let error = start_with("");
    assert!(
        error.contains("give tlsCertificateKeyFilePassword"),
        "{error}"
    );
    let legacy = format!(
        "{}-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        tls.ca_pem()
    );
    let legacy_path = temp_file("legacy.pem", &legacy);
    let settings = ClusterSettings::parse(&format!(
        "mongodb://h/?tls=true&tlsCertificateKeyFile={}&tlsCertificateKeyFilePassword=x",
        legacy_path.display()
    ))
    .unwrap();
    let error = Cluster::new(settings).map(|_| ()).unwrap_err().to_string();
    assert!(
        error.contains("legacy OpenSSL encryption is not supported"),
        "{error}"
    );
}

#[tokio::test]
async fn x509_works_with_an_encrypted_key_and_its_password() {
    let (sim, tls, _) = x509_deployment("app").await;
    let pem = tls
        .encrypted_client_certificate_pem("app", "s3cret pass")
        .unwrap();
    assert!(pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let client = temp_file("client-encrypted.pem", &pem);
    let cert = format!(
        "&authMechanism=MONGODB-X509&tlsCertificateKeyFile={}&tlsCertificateKeyFilePassword=s3cret%20pass",
        client.display()
    );
    let cluster = connect(&tls_uri("localhost", &sim, &tls, &cert));
    find(&cluster).await.unwrap();
    cluster.close().await;
    sim.shutdown().await;
}

/// A listener on loopback whose every connection gets `reply` (then stays open, silent).
async fn fake_peer(reply: &'static [u8]) -> ServerAddress {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = ServerAddress::parse(&listener.local_addr().unwrap().to_string()).unwrap();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(reply).await;
            open.push(socket);
        }
    });
    address
}

#[tokio::test]
async fn a_peer_sending_garbage_or_nothing_fails_clearly_within_the_timeout() {
    let tls = generate(SimTlsOptions::default());
    let connector = TlsConnector::new(&TlsSettings {
        ca_file: Some(ca_file(&tls)),
        ..TlsSettings::default()
    })
    .unwrap();
    let options = ConnectOptions {
        connect_timeout: Some(Duration::from_millis(300)),
        socket_timeout: None,
        name_server: None,
    };
    let garbage = fake_peer(b"HTTP/1.1 400 Bad Request\r\n\r\nnot TLS at all").await;
    let outcome = tokio::time::timeout(
        PATIENCE,
        Connection::connect_with_tls(&garbage, &options, Some(&connector)),
    )
    .await
    .expect("bounded");
    match outcome {
        Err(ConnectionError::Tls { cause }) => {
            assert!(cause.contains("did not answer with TLS"), "{cause}")
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
    let silent = fake_peer(b"").await;
    let outcome = tokio::time::timeout(
        PATIENCE,
        Connection::connect_with_tls(&silent, &options, Some(&connector)),
    )
    .await
    .expect("bounded by the connect timeout");
    match outcome {
        Err(ConnectionError::Timeout { during }) => assert_eq!(during, "TLS handshake"),
        other => panic!("expected a handshake timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn a_prefer_tls_simulator_serves_tls_and_plain_clients() {
    let tls = generate(SimTlsOptions {
        allow_plain: true,
        ..SimTlsOptions::default()
    });
    let sim = tls_standalone(&tls).await;
    let over_tls = connect(&tls_uri("localhost", &sim, &tls, ""));
    ping(&over_tls).await.unwrap();
    over_tls.close().await;
    let plain = connect(&format!(
        "mongodb://localhost:{}/?serverSelectionTimeoutMS=2000",
        sim.ports()[0]
    ));
    ping(&plain).await.unwrap();
    plain.close().await;
    sim.shutdown().await;

    // Without allow_plain, the same plain client is refused.
    let strict = tls_standalone(&generate(SimTlsOptions::default())).await;
    let plain = connect(&format!(
        "mongodb://localhost:{}/?serverSelectionTimeoutMS=1000",
        strict.ports()[0]
    ));
    assert!(ping(&plain).await.is_err());
    plain.close().await;
    strict.shutdown().await;
}

#[tokio::test]
async fn a_stalled_tls_handshake_times_out_until_the_fault_is_cleared() {
    let tls = generate(SimTlsOptions::default());
    let sim = tls_standalone(&tls).await;
    let address = address(&sim, 0);
    let connector = TlsConnector::new(&TlsSettings {
        ca_file: Some(ca_file(&tls)),
        ..TlsSettings::default()
    })
    .unwrap();
    let options = ConnectOptions {
        connect_timeout: Some(Duration::from_millis(500)),
        socket_timeout: Some(Duration::from_secs(5)),
        name_server: None,
    };
    let connect = || Connection::connect_with_tls(&address, &options, Some(&connector));
    let mut established = connect().await.unwrap();
    let member = MemberRef::Index(0);

    sim.fault(&member, FaultKind::StallTlsHandshake).unwrap();
    let stalled = tokio::time::timeout(PATIENCE, connect())
        .await
        .expect("the connect timeout bounds the stalled handshake");
    assert!(
        matches!(
            stalled,
            Err(ConnectionError::Timeout {
                during: "TLS handshake"
            })
        ),
        "expected a TLS handshake timeout, got {stalled:?}"
    );
    let pong = established.command("admin", doc! { "ping": 1 }).await;
    assert!(pong.is_ok(), "the established connection broke: {pong:?}");

    sim.fault(&member, FaultKind::Clear).unwrap();
    let mut fresh = connect()
        .await
        .expect("the handshake completes once cleared");
    fresh.command("admin", doc! { "ping": 1 }).await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_handshake_stalled_when_the_fault_is_cleared_resumes() {
    let tls = generate(SimTlsOptions::default());
    let sim = tls_standalone(&tls).await;
    let address = address(&sim, 0);
    let connector = TlsConnector::new(&TlsSettings {
        ca_file: Some(ca_file(&tls)),
        ..TlsSettings::default()
    })
    .unwrap();
    let options = ConnectOptions {
        connect_timeout: Some(Duration::from_secs(5)),
        socket_timeout: Some(Duration::from_secs(5)),
        name_server: None,
    };
    let member = MemberRef::Index(0);
    sim.fault(&member, FaultKind::StallTlsHandshake).unwrap();
    let started = tokio::time::Instant::now();
    let pending = Connection::connect_with_tls(&address, &options, Some(&connector));
    let clear_later = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sim.fault(&member, FaultKind::Clear).unwrap();
    };
    let (connected, ()) = tokio::join!(pending, clear_later);
    let mut connected = connected.expect("the stalled handshake completes once cleared");
    assert!(started.elapsed() >= Duration::from_millis(300));
    connected
        .command("admin", doc! { "ping": 1 })
        .await
        .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn dropped_connections_fail_and_the_member_keeps_listening() {
    let tls = generate(SimTlsOptions::default());
    let sim = tls_standalone(&tls).await;
    let address = address(&sim, 0);
    let connector = TlsConnector::new(&TlsSettings {
        ca_file: Some(ca_file(&tls)),
        ..TlsSettings::default()
    })
    .unwrap();
    let options = ConnectOptions {
        connect_timeout: Some(Duration::from_secs(2)),
        socket_timeout: Some(Duration::from_secs(2)),
        name_server: None,
    };
    let connect = || Connection::connect_with_tls(&address, &options, Some(&connector));
    let mut old = connect().await.unwrap();
    sim.drop_connections(&MemberRef::Index(0)).unwrap();
    let outcome = tokio::time::timeout(PATIENCE, async {
        loop {
            if old.command("admin", doc! { "ping": 1 }).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(outcome.is_ok(), "the dropped connection still answers");
    let mut fresh = connect().await.unwrap();
    fresh.command("admin", doc! { "ping": 1 }).await.unwrap();
    sim.shutdown().await;
}
