//! Spec runner for initial-dns-seedlist-discovery/tests/{replica-set,sharded,load-balanced}.
//!
//! Every case runs against a real DNS server on loopback (tests/dns_support, hickory-server)
//! serving the records of the suite's README, through the engine's own resolution
//! (`ClusterSettings::resolve`): `error`, `seeds`/`numSeeds`, `options` and
//! `parsed_options` are checked on the resolved connection string. For `hosts`/`numHosts`
//! and `ping`, the simulator is started on the ports the README asks for (27017-27019: a
//! replica set `repl0` advertising `localhost:2701x`; 27017-27018: two mongos, behind the
//! simulator's load balancer on 8000 for the load-balanced suite), and a cluster discovers
//! it and runs `ping`.
//!
//! The deployments serve TLS, as the README requires, with certificates for the names the
//! cases connect to; the connection adds `tlsCAFile` (the simulator's CA). They also serve
//! plain clients (mongod's preferTLS), for the case whose URI says `ssl=false`. When those
//! ports are busy, the case is skipped with the reason.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use mongo_topology::options::ConnectionString;
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::{Cluster, ClusterSettings};
use mongo_topology_sim::tls::{SimTls, SimTlsOptions};
use mongo_topology_sim::{Deployment, DeploymentSpec};
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::dns_support::{DnsServer, Zone};
use crate::harness::{Case, Outcome};

const PATIENCE: Duration = Duration::from_secs(10);

/// The suite's runtime and DNS server, started on first use.
struct Env {
    runtime: Runtime,
    dns: DnsServer,
    /// The deployments started so far, by suite ("replica-set", "sharded"); `Err` holds why
    /// one could not start.
    deployments: Mutex<Vec<(&'static str, Result<Deployment, String>)>>,
    /// The certificates every deployment serves (TLS, as the suite's README requires).
    tls: SimTls,
    /// Their CA, written to a file for `tlsCAFile`.
    ca_file: PathBuf,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let dns = runtime.block_on(async {
            let mut zone = Zone::spec();
            // The replica set advertises its members as localhost:2701x.
            zone.a
                .insert("localhost".to_string(), std::net::Ipv4Addr::LOCALHOST);
            DnsServer::start(zone).await
        });
        // Valid for every name the cases connect to; plain clients are served too, as by a
        // mongod in preferTLS mode, for the case whose URI says ssl=false.
        let tls = SimTls::generate(SimTlsOptions {
            names: [
                "localhost",
                "localhost.test.build.10gen.cc",
                "localhost.sub.test.build.10gen.cc",
                "127.0.0.1",
            ]
            .map(str::to_string)
            .to_vec(),
            allow_plain: true,
            ..SimTlsOptions::default()
        })
        .expect("certificates for the DNS suites");
        let dir =
            std::env::temp_dir().join(format!("mongo-topology-dns-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for the CA");
        let ca_file = dir.join("ca.pem");
        tls.write_ca_file(&ca_file).expect("write the CA");
        Env {
            runtime,
            dns,
            deployments: Mutex::new(Vec::new()),
            tls,
            ca_file,
        }
    })
}

pub fn run_file(path: &Path, json: &Value) -> Vec<Case> {
    let name = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let suite = match path.parent().and_then(Path::file_name) {
        Some(dir) if dir == "replica-set" => "replica-set",
        Some(dir) if dir == "sharded" => "sharded",
        _ => "load-balanced",
    };
    let env = env();
    let outcome = env.runtime.block_on(run_case(env, suite, json));
    vec![Case::new(name, outcome)]
}

async fn run_case(env: &Env, suite: &'static str, test: &Value) -> Outcome {
    match check(env, suite, test).await {
        Ok(None) => Outcome::Passed,
        Ok(Some(skip)) => Outcome::Skipped(skip),
        Err(why) => Outcome::Failed(why),
    }
}

/// `Ok(Some(reason))`: what could be checked passed, the rest was skipped for `reason`.
async fn check(env: &Env, suite: &'static str, test: &Value) -> Result<Option<String>, String> {
    let uri = test.get("uri").and_then(Value::as_str).ok_or("no uri")?;
    let expect_error = test.get("error").and_then(Value::as_bool) == Some(true);
    let resolved = resolve(env, uri).await;
    let resolved = match (resolved, expect_error) {
        (Err(_), true) => return Ok(None),
        (Ok(resolved), true) => {
            // Some errors surface only once the cluster starts (SDAM settings).
            let settings = ClusterSettings::resolve(uri, env.dns.dns_settings()).await;
            return match settings.map(Cluster::new) {
                Ok(Ok(cluster)) => {
                    cluster.close().await;
                    Err(format!("expected an error, resolved {resolved}"))
                }
                _ => Ok(None),
            };
        }
        (Err(error), false) => return Err(format!("expected success: {error}")),
        (Ok(resolved), false) => resolved,
    };
    check_seeds(&resolved, test)?;
    if let Some(options) = test.get("options").and_then(Value::as_object) {
        for (name, expected) in options {
            check_option(&resolved, name, expected)?;
        }
    }
    if let Some(parsed) = test.get("parsed_options").and_then(Value::as_object) {
        for (name, expected) in parsed {
            check_parsed_option(&resolved, name, expected)?;
        }
    }
    let wants_hosts = test.get("hosts").is_some() || test.get("numHosts").is_some();
    let wants_ping = test.get("ping").and_then(Value::as_bool) != Some(false);
    if !wants_hosts && !wants_ping {
        return Ok(None);
    }
    let deployment_ready = ensure_deployment(env, suite).await;
    if let Err(reason) = deployment_ready {
        return Ok(Some(reason));
    }
    connect_and_check(env, uri, test, wants_ping).await?;
    Ok(None)
}

async fn resolve(env: &Env, uri: &str) -> Result<ConnectionString, String> {
    let parsed = ConnectionString::parse(uri).map_err(|e| e.to_string())?;
    let (resolved, _) = mongo_topology::resolve_srv(&parsed, &env.dns.dns_settings())
        .await
        .map_err(|e| e.to_string())?;
    Ok(resolved)
}

fn check_seeds(resolved: &ConnectionString, test: &Value) -> Result<(), String> {
    let actual: BTreeSet<String> = resolved.hosts().iter().map(ToString::to_string).collect();
    if let Some(seeds) = test.get("seeds").and_then(Value::as_array) {
        let expected: BTreeSet<String> = seeds
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .collect();
        let count_only = test.get("numSeeds").is_some() && expected.len() != actual.len();
        if !count_only && expected != actual {
            return Err(format!("seeds: expected {expected:?}, got {actual:?}"));
        }
    }
    if let Some(count) = test.get("numSeeds").and_then(Value::as_u64) {
        if actual.len() as u64 != count {
            return Err(format!("numSeeds: expected {count}, got {actual:?}"));
        }
    }
    Ok(())
}

/// `ssl`/`tls` compare with the effective value (on by default for mongodb+srv); other
/// options with what was set, by the URI or the TXT record, as the URI suites compare them.
fn check_option(resolved: &ConnectionString, name: &str, expected: &Value) -> Result<(), String> {
    let same = if name.eq_ignore_ascii_case("ssl") || name.eq_ignore_ascii_case("tls") {
        expected.as_bool() == Some(resolved.tls())
    } else {
        return crate::uri::check_option(resolved, name, expected);
    };
    if same {
        Ok(())
    } else {
        Err(format!(
            "option {name}: expected {expected}, got {:?}",
            resolved.option(name)
        ))
    }
}

fn check_parsed_option(
    resolved: &ConnectionString,
    name: &str,
    expected: &Value,
) -> Result<(), String> {
    let credential = resolved.credential();
    let actual = match name {
        "user" => credential.as_ref().and_then(|c| c.username.clone()),
        "password" => credential
            .as_ref()
            .and_then(|c| c.password.as_ref())
            .map(|p| p.expose().to_string()),
        "db" | "auth_database" | "defaultDatabase" => {
            resolved.default_database().map(str::to_string)
        }
        other => return Err(format!("parsed_options: unknown field {other}")),
    };
    if actual.as_deref() == expected.as_str() {
        Ok(())
    } else if name == "password" {
        Err("parsed_options password differs".to_string())
    } else {
        Err(format!(
            "parsed_options {name}: expected {expected}, got {actual:?}"
        ))
    }
}

/// Starts (once) the deployment the suite's README asks for, on its fixed ports.
async fn ensure_deployment(env: &Env, suite: &'static str) -> Result<(), String> {
    {
        let deployments = env.deployments.lock().expect("not poisoned");
        if let Some((_, started)) = deployments.iter().find(|(s, _)| *s == suite) {
            return started.as_ref().map(|_| ()).map_err(Clone::clone);
        }
    }
    let spec = with_tls(
        env,
        match suite {
            "replica-set" => {
                let mut spec = DeploymentSpec::replica_set("repl0", 3, 0, 0).with_base_port(27017);
                spec.host = "localhost".to_string();
                spec
            }
            // The README's load balancer listens on 8000 in front of the two mongos.
            "load-balanced" => DeploymentSpec::sharded(2)
                .with_base_port(27017)
                .with_load_balancer(8000),
            _ => DeploymentSpec::sharded(2).with_base_port(27017),
        },
    );
    // One deployment at a time holds the ports.
    let others = {
        let mut deployments = env.deployments.lock().expect("not poisoned");
        deployments
            .iter_mut()
            .filter_map(|(_, started)| started.as_ref().ok())
            .count()
    };
    if others > 0 {
        stop_deployments(env).await;
    }
    let started = Deployment::start(spec).await.map_err(|error| {
        format!(
            "hosts/ping not checked: the simulator cannot use ports 27017-27019 and 8000 \
             ({error})"
        )
    });
    let result = started.as_ref().map(|_| ()).map_err(Clone::clone);
    env.deployments
        .lock()
        .expect("not poisoned")
        .push((suite, started));
    result
}

async fn stop_deployments(env: &Env) {
    let running: Vec<Deployment> = {
        let mut deployments = env.deployments.lock().expect("not poisoned");
        let mut running = Vec::new();
        for (_, started) in deployments.iter_mut() {
            let taken = std::mem::replace(started, Err("stopped for another suite".into()));
            if let Ok(deployment) = taken {
                running.push(deployment);
            }
        }
        running
    };
    for deployment in running {
        deployment.shutdown().await;
    }
}

fn with_tls(env: &Env, spec: DeploymentSpec) -> DeploymentSpec {
    spec.with_tls(env.tls.clone())
}

/// The URI the cluster connects with: the case's, plus `tlsCAFile` (the simulator's CA)
/// unless the case turns TLS off itself.
fn connection_uri(env: &Env, uri: &str) -> String {
    let lower = uri.to_ascii_lowercase();
    if lower.contains("ssl=false") || lower.contains("tls=false") {
        return uri.to_string();
    }
    let separator = if uri.contains('?') {
        "&"
    } else if uri.trim_start_matches("mongodb+srv://").contains('/') {
        "?"
    } else {
        "/?"
    };
    format!("{uri}{separator}tlsCAFile={}", env.ca_file.display())
}

async fn connect_and_check(env: &Env, uri: &str, test: &Value, ping: bool) -> Result<(), String> {
    let mut settings = ClusterSettings::resolve(&connection_uri(env, uri), env.dns.dns_settings())
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    // No warm-up connection: the simulator does not know the cases' users, and a pool
    // connection failing to authenticate marks its server Unknown (SDAM), which would hide
    // the hosts the case checks. The `ping` cases have no credentials.
    settings.warm_up = false;
    let cluster = Cluster::new(settings).map_err(|e| format!("starting: {e}"))?;
    let result = discover_and_ping(&cluster, test, ping).await;
    cluster.close().await;
    result
}

async fn discover_and_ping(cluster: &Cluster, test: &Value, ping: bool) -> Result<(), String> {
    let expected: Option<BTreeSet<String>> = test.get("hosts").and_then(Value::as_array).map(|h| {
        h.iter()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .collect()
    });
    let count = test.get("numHosts").and_then(Value::as_u64);
    let hosts_of = |t: &mongo_topology::sdam::TopologyDescription| -> BTreeSet<String> {
        t.servers.keys().map(ToString::to_string).collect()
    };
    let matches = |t: &mongo_topology::sdam::TopologyDescription| {
        // Before a ping, every server must have answered; without one (cases with
        // credentials the simulator does not know), the set of descriptions is what counts.
        let known = !ping
            || t.servers
                .values()
                .all(|s| s.server_type != mongo_topology::sdam::ServerType::Unknown);
        let hosts = hosts_of(t);
        known
            && expected.as_ref().is_none_or(|want| *want == hosts)
            && count.is_none_or(|n| hosts.len() as u64 == n)
    };
    if let Err(error) = cluster.wait_for(matches, PATIENCE).await {
        let errors: Vec<String> = cluster
            .topology()
            .servers
            .values()
            .filter_map(|s| s.error.as_ref().map(|e| format!("{}: {e}", s.address)))
            .collect();
        return Err(format!(
            "hosts: expected {expected:?} (numHosts {count:?}), have {:?}: {error}; \
             server errors: {errors:?}",
            hosts_of(&cluster.topology())
        ));
    }
    if ping {
        let criteria = SelectionCriteria::write();
        cluster
            .run_command("admin", bson::doc! { "ping": 1 }, &criteria)
            .await
            .map_err(|e| format!("ping: {e}"))?;
    }
    Ok(())
}
