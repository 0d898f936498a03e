//! `mongo-topology doctor --json` as a process against simulated deployments: for each
//! rule that today's simulator can stage, a fixture where it fires (rule id, severity,
//! servers), healthy deployments where no error or warning fires, and the time bounds
//! (a healthy set within a few round trips, a frozen member named within
//! connectTimeoutMS + 1 s).

mod doctor_support;

use std::time::{Duration, Instant};

use doctor_support::{
    assert_fires, assert_healthy, control, doctor, findings, fired, replica_set, run, three,
};
use mongo_topology_sim::{
    Deployment, DeploymentSpec, MemberSpec, ServerVersion, SimTls, SimTlsOptions, SimUser,
};

// --- healthy deployments: no error, no warning ----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_replica_set_has_no_error_or_warning() {
    let sim = three().await;
    let (code, report) = doctor(&sim.connection_string(), &[]).await;
    assert_healthy(code, &report);
    assert_eq!(report["topology_type"], "ReplicaSetWithPrimary");
    assert_fires(&report, "timing.failover-detection", "info", &[]);
    // --fail-on warning still passes: notes only.
    let (code, _) = doctor(&sim.connection_string(), &["--fail-on", "warning"]).await;
    assert_eq!(code, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_sharded_and_load_balanced_deployments() {
    let sharded = Deployment::start(DeploymentSpec::sharded(2)).await.unwrap();
    let (code, report) = doctor(&sharded.connection_string(), &[]).await;
    assert_healthy(code, &report);
    assert_eq!(report["topology_type"], "Sharded");
    sharded.shutdown().await;

    let balanced = Deployment::start(DeploymentSpec::sharded(2).with_load_balancer(0))
        .await
        .unwrap();
    let uri = balanced.load_balancer_connection_string().unwrap();
    let (code, report) = doctor(&uri, &[]).await;
    assert_healthy(code, &report);
    assert!(
        report["verdicts"]["write"]["service_id"].is_string(),
        "{report:#}"
    );
    balanced.shutdown().await;
}

fn ca_file(tls: &SimTls, name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "mongo-topology-doctor-{}-{name}.pem",
        std::process::id()
    ));
    tls.write_ca_file(&path).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_tls_and_authenticated_sets() {
    let tls = SimTls::generate(SimTlsOptions::default()).unwrap();
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0).with_tls(tls.clone()))
        .await
        .unwrap();
    let ca = ca_file(&tls, "healthy");
    let uri = format!("{}&tlsCAFile={}", sim.connection_string(), ca.display());
    let (code, report) = doctor(&uri, &[]).await;
    assert_healthy(code, &report);
    sim.shutdown().await;

    let sim = Deployment::start(
        DeploymentSpec::replica_set("rs0", 3, 0, 0).with_user(SimUser::new("admin", "s3cret")),
    )
    .await
    .unwrap();
    let uri = sim
        .connection_string()
        .replacen("mongodb://", "mongodb://admin:s3cret@", 1);
    let (code, report) = doctor(&uri, &[]).await;
    assert_healthy(code, &report);
    sim.shutdown().await;
}

// --- time -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_set_takes_a_few_round_trips() {
    let sim = three().await;
    let latency = Duration::from_millis(100);
    for member in 0..3 {
        control(&sim, &format!("latency {member} {}", latency.as_millis())).await;
    }
    let (code, report) = doctor(&sim.connection_string(), &[]).await;
    assert_healthy(code, &report);
    // Discovery: at most 4 round trips of the slowest server. The whole run adds the
    // checks' own: the probes (hello, buildInfo, replSetGetStatus) beside discovery, and
    // the verdicts (handshake and ping) after it; 9 round trips in all, and a margin for
    // a loaded machine.
    let rtt = latency.as_millis() as u64;
    let discovery = report["elapsed_ms"].as_u64().unwrap();
    let total = report["total_ms"].as_u64().unwrap();
    assert!(discovery <= 4 * rtt + 150, "discovery {discovery} ms");
    assert!(total <= 9 * rtt + 300, "total {total} ms");
    assert!(total >= 2 * rtt, "the latency applied: {total} ms");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_member_is_named_within_connect_timeout_plus_one_second() {
    let sim = three().await;
    control(&sim, "freeze 2").await;
    let frozen = sim.addresses()[2].clone();
    let uri = format!("{}&connectTimeoutMS=2000", sim.connection_string());
    let started = Instant::now();
    let (code, report) = doctor(&uri, &[]).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(3000), "took {took:?}");
    assert_fires(&report, "members.unreachable", "warning", &[&frozen]);
    assert_eq!(code, 0, "the set works without it: {report:#}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_shorter_than_the_connect_timeout_names_the_servers_not_checked() {
    let sim = three().await;
    control(&sim, "freeze 2").await;
    let frozen = sim.addresses()[2].clone();
    let started = Instant::now();
    let (_, report) = doctor(&sim.connection_string(), &["--timeout-ms", "1000"]).await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report["discovery_complete"], false);
    assert_fires(
        &report,
        "timing.discovery-incomplete",
        "warning",
        &[&frozen],
    );
    sim.shutdown().await;
}

// --- rules fired ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_connection_to_a_secondary() {
    let sim = three().await;
    let secondary = sim.addresses()[1].clone();
    let (code, report) = doctor(
        &format!("mongodb://{secondary}/?directConnection=true"),
        &[],
    )
    .await;
    assert_eq!(code, 2);
    assert_fires(&report, "direct.non-primary", "error", &[&secondary]);
    assert_fires(
        &report,
        "direct.discovery-would-work",
        "warning",
        &[&secondary],
    );
    assert_eq!(report["verdicts"]["write"]["class"], "not-writable");
    assert_eq!(report["verdicts"]["read"]["ok"], true);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_reporting_another_set_name() {
    let sim = three().await;
    control(&sim, "fault 2 wrong-setname").await;
    let stray = sim.addresses()[2].clone();
    let (code, report) = doctor(&sim.connection_string(), &[]).await;
    assert_eq!(code, 2);
    assert_fires(&report, "names.set-name-mismatch", "error", &[&stray]);
    let finding = fired(&report, "names.set-name-mismatch")[0];
    assert!(
        finding["evidence"].as_str().unwrap().contains("rs0-wrong"),
        "{finding}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_member_is_unreachable_by_its_advertised_name() {
    let sim = three().await;
    let killed = sim.addresses()[2].clone();
    control(&sim, "kill 2").await;
    let seed = sim.addresses()[0].clone();
    let (code, report) = doctor(&format!("mongodb://{seed}/?replicaSet=rs0"), &[]).await;
    assert_eq!(code, 2);
    assert_fires(&report, "names.member-unreachable", "error", &[&killed]);
    let finding = fired(&report, "names.member-unreachable")[0];
    assert!(
        finding["evidence"]
            .as_str()
            .unwrap()
            .contains("resolves to 127.0.0.1"),
        "{finding}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advertised_names_differ_from_the_seed() {
    let mut spec = DeploymentSpec::replica_set("rs0", 3, 0, 0);
    spec.host = "localhost".to_owned();
    let sim = Deployment::start(spec).await.unwrap();
    let port = sim.ports()[0];
    let (_, report) = doctor(&format!("mongodb://127.0.0.1:{port}/?replicaSet=rs0"), &[]).await;
    let seed = format!("127.0.0.1:{port}");
    let advertised = format!("localhost:{port}");
    assert_fires(
        &report,
        "names.advertised-differs",
        "warning",
        &[&seed, &advertised],
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_seeds_by_address() {
    let sim = three().await;
    let port = sim.ports()[0];
    let uri = format!("mongodb://127.0.0.1:{port},localhost:{port}/?replicaSet=rs0");
    let (_, report) = doctor(&uri, &[]).await;
    let a = format!("127.0.0.1:{port}");
    let b = format!("localhost:{port}");
    assert_fires(&report, "names.duplicate-seeds", "warning", &[&a, &b]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_that_are_only_hidden_members() {
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 1))
        .await
        .unwrap();
    let hidden = sim.addresses()[3].clone();
    let (_, report) = doctor(&format!("mongodb://{hidden}/?replicaSet=rs0"), &[]).await;
    assert_fires(&report, "names.seeds-not-electable", "warning", &[&hidden]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_a_user_unknown_in_auth_source() {
    let sim = Deployment::start(
        DeploymentSpec::replica_set("rs0", 3, 0, 0).with_user(SimUser::new("admin", "s3cret")),
    )
    .await
    .unwrap();
    let wrong = sim
        .connection_string()
        .replacen("mongodb://", "mongodb://admin:wrong@", 1);
    let output = run(&["doctor", &wrong]).await;
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("wrong@"),
        "password shown"
    );
    let (code, report) = doctor(&wrong, &[]).await;
    assert_eq!(code, 2);
    let finding = fired(&report, "auth.failed")[0];
    assert_eq!(finding["severity"], "error");
    assert_eq!(report["verdicts"]["write"]["class"], "authentication");
    let elsewhere = format!(
        "{}&authSource=app",
        sim.connection_string()
            .replacen("mongodb://", "mongodb://admin:s3cret@", 1)
    );
    let (_, report) = doctor(&elsewhere, &[]).await;
    assert_fires(&report, "auth.user-not-in-source", "warning", &[]);
    assert!(
        findings(&report)
            .iter()
            .all(|f| f["rule"] != "auth.required"),
        "{report}"
    );

    // No credentials at all: ping answers, data is refused.
    let (code, report) = doctor(&sim.connection_string(), &[]).await;
    assert_eq!(code, 2, "{report}");
    let finding = fired(&report, "auth.required")[0];
    assert_eq!(finding["severity"], "error");
    assert_eq!(report["verdicts"]["read"]["class"], "authentication");
    assert!(
        findings(&report).iter().all(|f| f["rule"] != "auth.failed"),
        "{report}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balanced_mode_with_nothing_listening_or_no_service_id() {
    let (code, report) = doctor("mongodb://127.0.0.1:1/?loadBalanced=true", &[]).await;
    assert_eq!(code, 2);
    assert_fires(&report, "lb.unreachable", "error", &["127.0.0.1:1"]);

    // A replica set member is not a balancer: no serviceId, and a set member answers.
    let sim = three().await;
    let member = sim.addresses()[0].clone();
    let (code, report) = doctor(&format!("mongodb://{member}/?loadBalanced=true"), &[]).await;
    assert_eq!(code, 2);
    assert_fires(&report, "lb.no-service-id", "error", &[&member]);
    assert_fires(&report, "lb.flipping-hellos", "error", &[&member]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_problems_are_named() {
    let tls = SimTls::generate(SimTlsOptions {
        names: vec!["localhost".to_owned()],
        ..SimTlsOptions::default()
    })
    .unwrap();
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 1, 0, 0).with_tls(tls.clone()))
        .await
        .unwrap();
    let member = sim.addresses()[0].clone();
    let ca = ca_file(&tls, "localhost-only");
    // IP literal against a certificate for localhost only.
    let uri = format!("mongodb://{member}/?tls=true&tlsCAFile={}", ca.display());
    let (code, report) = doctor(&uri, &[]).await;
    assert_eq!(code, 2);
    assert_fires(&report, "tls.ip-literal-seed", "error", &[&member]);
    // No CA: unknown issuer.
    let (_, report) = doctor(&format!("mongodb://{member}/?tls=true"), &[]).await;
    assert_fires(&report, "tls.unknown-issuer", "error", &[&member]);
    // TLS off against a TLS-only server.
    let (_, report) = doctor(&format!("mongodb://{member}/"), &[]).await;
    assert_fires(&report, "tls.server-requires-tls", "error", &[&member]);
    // Verification turned off.
    let (_, report) = doctor(
        &format!("mongodb://{member}/?tls=true&tlsAllowInvalidCertificates=true"),
        &[],
    )
    .await;
    assert_fires(&report, "tls.insecure-options", "warning", &[]);
    sim.shutdown().await;

    let expired = SimTls::generate(SimTlsOptions {
        expired: true,
        ..SimTlsOptions::default()
    })
    .unwrap();
    let sim =
        Deployment::start(DeploymentSpec::replica_set("rs0", 1, 0, 0).with_tls(expired.clone()))
            .await
            .unwrap();
    let member = sim.addresses()[0].clone();
    let ca = ca_file(&expired, "expired");
    let (_, report) = doctor(
        &format!("mongodb://{member}/?tls=true&tlsCAFile={}", ca.display()),
        &[],
    )
    .await;
    assert_fires(&report, "tls.expiry", "error", &[&member]);
    sim.shutdown().await;

    // A certificate for 127.0.0.1 only, reached as localhost.
    let by_ip = SimTls::generate(SimTlsOptions {
        names: vec!["127.0.0.1".to_owned()],
        ..SimTlsOptions::default()
    })
    .unwrap();
    let sim =
        Deployment::start(DeploymentSpec::replica_set("rs0", 1, 0, 0).with_tls(by_ip.clone()))
            .await
            .unwrap();
    let port = sim.ports()[0];
    let ca = ca_file(&by_ip, "ip-only");
    let uri = format!(
        "mongodb://localhost:{port}/?tls=true&directConnection=true&tlsCAFile={}",
        ca.display()
    );
    let (_, report) = doctor(&uri, &[]).await;
    assert_fires(
        &report,
        "tls.name-mismatch",
        "error",
        &[&format!("localhost:{port}")],
    );
    sim.shutdown().await;

    // TLS on against a plain server.
    let plain = three().await;
    let member = plain.addresses()[0].clone();
    let (_, report) = doctor(
        &format!("mongodb://{member}/?tls=true&directConnection=true"),
        &[],
    )
    .await;
    assert_fires(&report, "tls.server-without-tls", "error", &[&member]);
    plain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incompatible_servers_are_each_named() {
    let sim = Deployment::start(
        DeploymentSpec::replica_set("rs0", 2, 0, 0).with_version(ServerVersion::V3_6),
    )
    .await
    .unwrap();
    let addresses = sim.addresses();
    let (code, report) = doctor(&sim.connection_string(), &[]).await;
    assert_eq!(code, 2);
    assert_fires(&report, "wire.incompatible", "error", &[&addresses[0]]);
    assert_fires(&report, "wire.incompatible", "error", &[&addresses[1]]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn option_typos_get_did_you_mean_and_fail_on_warning() {
    let sim = three().await;
    let seed = sim.addresses()[0].clone();
    let uri = format!("mongodb://{seed}/?replSet=rs0&readPreference=secondry&appName=a&appName=b&socketTimeoutMS=200");
    let (code, report) = doctor(&uri, &[]).await;
    assert_eq!(code, 0, "warnings only: {report:#}");
    let unknown = fired(&report, "options.unknown")[0];
    assert!(
        unknown["evidence"]
            .as_str()
            .unwrap()
            .contains("did you mean \"replicaSet\""),
        "{unknown}"
    );
    let invalid = fired(&report, "options.invalid-value")[0];
    assert!(
        invalid["evidence"]
            .as_str()
            .unwrap()
            .contains("did you mean \"secondary\""),
        "{invalid}"
    );
    assert_fires(&report, "options.repeated", "warning", &[]);
    assert_fires(&report, "options.senseless-value", "warning", &[]);
    let (code, _) = doctor(&uri, &["--fail-on", "warning"]).await;
    assert_eq!(code, 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_preferences_that_cannot_be_served() {
    let sim = replica_set(vec![
        MemberSpec::data(),
        MemberSpec::data().with_tags([("dc", "east")]),
        MemberSpec::data().with_tags([("dc", "east")]),
    ])
    .await;
    let base = sim.connection_string();
    let (code, report) = doctor(
        &format!("{base}&readPreference=secondary&readPreferenceTags=dc:west"),
        &[],
    )
    .await;
    assert_eq!(code, 2);
    assert_fires(&report, "readpref.tags-match-none", "error", &[]);
    // The failed read verdict is the tags rule's: not said twice.
    assert!(
        !report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "verdict.read-fails"),
        "{report:#}"
    );
    assert_eq!(report["verdicts"]["read"]["class"], "no-suitable-server");
    let (_, report) = doctor(
        &format!("{base}&readPreference=secondary&maxStalenessSeconds=30"),
        &[],
    )
    .await;
    assert_fires(&report, "readpref.max-staleness-too-low", "error", &[]);
    sim.shutdown().await;

    let single = Deployment::start(DeploymentSpec::replica_set("rs0", 1, 0, 0))
        .await
        .unwrap();
    let member = single.addresses()[0].clone();
    let (_, report) = doctor(
        &format!("{}&readPreference=secondary", single.connection_string()),
        &[],
    )
    .await;
    assert_fires(&report, "readpref.no-secondary", "error", &[&member]);
    single.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_beyond_the_latency_window_with_nearest() {
    let sim = three().await;
    control(&sim, "latency 2 120").await;
    let (_, report) = doctor(
        &format!("{}&readPreference=nearest", sim.connection_string()),
        &[],
    )
    .await;
    assert_fires(&report, "readpref.beyond-latency-window", "info", &[]);
    assert_fires(&report, "readpref.nearest-rtt-spread", "info", &[]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_concern_traps_psa_and_even_voters() {
    let psa = Deployment::start(DeploymentSpec::replica_set("rs0", 2, 1, 0))
        .await
        .unwrap();
    let arbiter = psa.addresses()[2].clone();
    let (_, report) = doctor(&format!("{}&w=majority", psa.connection_string()), &[]).await;
    assert_fires(&report, "wc.arbiter-majority", "warning", &[&arbiter]);
    let psa_finding = fired(&report, "wc.arbiter-majority")[0];
    assert!(
        psa_finding["evidence"]
            .as_str()
            .unwrap()
            .contains("writeMajorityCount 2 of 2"),
        "{psa_finding}"
    );
    psa.shutdown().await;

    let four = Deployment::start(DeploymentSpec::replica_set("rs0", 4, 0, 0))
        .await
        .unwrap();
    let (_, report) = doctor(&four.connection_string(), &[]).await;
    assert_fires(&report, "wc.even-voters", "warning", &[]);
    let even = fired(&report, "wc.even-voters")[0];
    assert!(
        even["evidence"]
            .as_str()
            .unwrap()
            .contains("votingMembersCount"),
        "{even}"
    );
    four.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovering_ghost_and_lagging_members() {
    let sim = replica_set(vec![
        MemberSpec::data(),
        MemberSpec::data(),
        MemberSpec::data().recovering(),
        MemberSpec::data().spare(),
    ])
    .await;
    control(&sim, "lag 1 30").await;
    let addresses = sim.addresses();
    let uri = format!(
        "mongodb://{},{}/?replicaSet=rs0",
        addresses[0], addresses[3]
    );
    let (_, report) = doctor(&uri, &[]).await;
    assert_fires(&report, "members.not-ready", "warning", &[&addresses[2]]);
    assert_fires(&report, "members.ghost", "warning", &[&addresses[3]]);
    assert_fires(&report, "members.lagging", "warning", &[&addresses[1]]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_primary_and_nothing_reachable() {
    let sim = three().await;
    control(&sim, "stepdown").await;
    let (code, report) = doctor(&sim.connection_string(), &[]).await;
    assert_eq!(code, 2);
    assert_fires(&report, "verdict.write-fails", "error", &[]);
    assert_fires(&report, "verdict.read-fails", "error", &[]);
    assert_eq!(report["verdicts"]["write"]["class"], "no-suitable-server");
    sim.shutdown().await;

    let (code, report) = doctor("mongodb://127.0.0.1:1,127.0.0.1:2/", &[]).await;
    assert_eq!(code, 2);
    assert_fires(
        &report,
        "verdict.nothing-reachable",
        "error",
        &["127.0.0.1:1", "127.0.0.1:2"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_failover_settings_are_a_warning() {
    let sim = three().await;
    let uri = format!(
        "{}&heartbeatFrequencyMS=60000&serverSelectionTimeoutMS=5000",
        sim.connection_string()
    );
    let (_, report) = doctor(&uri, &[]).await;
    assert_fires(&report, "timing.failover-detection", "warning", &[]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_1_and_text_output_is_the_default() {
    let output = run(&["doctor", "http://nope"]).await;
    assert_eq!(output.status.code(), Some(1));
    let output = run(&["doctor", "mongodb://127.0.0.1:1/", "--fail-on", "sometimes"]).await;
    assert_eq!(output.status.code(), Some(1));
    let sim = three().await;
    let output = run(&["doctor", &sim.connection_string()]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("writes: works (proven on"), "{text}");
    assert!(text.contains("INFO    timing.failover-detection"), "{text}");
    assert!(text.contains("0 error(s), 0 warning(s)"), "{text}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_router_a_standalone_seeded_as_a_set_and_a_hidden_seed() {
    let sharded = Deployment::start(DeploymentSpec::sharded(2)).await.unwrap();
    let stopped = sharded.addresses()[1].clone();
    control(&sharded, "kill 1").await;
    let (code, report) = doctor(&sharded.connection_string(), &[]).await;
    assert_eq!(code, 0, "one router still serves: {report:#}");
    assert_fires(&report, "members.unreachable", "warning", &[&stopped]);
    sharded.shutdown().await;

    let standalone = Deployment::start(DeploymentSpec::standalone())
        .await
        .unwrap();
    let server = standalone.addresses()[0].clone();
    let (code, report) = doctor(&format!("mongodb://{server}/?replicaSet=rs0"), &[]).await;
    assert_eq!(code, 2);
    assert_fires(&report, "names.set-name-mismatch", "error", &[&server]);
    let (code, report) = doctor(&format!("mongodb://{server}/"), &[]).await;
    assert_healthy(code, &report);
    standalone.shutdown().await;

    let set = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 1))
        .await
        .unwrap();
    let addresses = set.addresses();
    let uri = format!(
        "mongodb://{},{}/?replicaSet=rs0",
        addresses[0], addresses[3]
    );
    let (_, report) = doctor(&uri, &[]).await;
    assert_fires(
        &report,
        "names.seed-not-member",
        "warning",
        &[&addresses[3]],
    );
    set.shutdown().await;
}
