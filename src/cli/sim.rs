//! `mongo-topology sim`: start a simulated deployment, print its connection string, then
//! take control commands on standard input (one per line, each answered `ok` or `error: …`)
//! until standard input closes or SIGINT/SIGTERM arrives; exit 0.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::sim_fleet::{self, ChildTemplate, FleetArgs};
use super::sim_io::{read_line, say, Signals};
use super::sim_replay::{self, ReplayArgs};
use super::sim_tls;
use super::sim_world::WorldArgs;
use clap::Args;
use mongo_topology_sim::{
    ControlCommand, Deployment, DeploymentSpec, MemberSpec, ServerVersion, SimError, SimTimers,
    SimUser, TopologySpec,
};
use tokio::io::BufReader;

/// Shown after the options in `sim --help`.
const CONTROL_HELP: &str = "\
The first line on standard output is the connection string (the load balancer's with
--load-balancer or --load-balancer-in-front-of-members; see docs/sim-traps.md for the
staging flags and commands). Then one control command per line on standard input,
each answered with `ok` (or `ok <details>`) or `error: <reason>`:
  stepdown                      the primary steps down (no primary until `elect`)
  elect M                       elect member M (new term and electionId)
  kill M / restart M            close M's listener and connections / start it again
  freeze M / thaw M             M accepts connections but never answers / answers again
  latency M MS                  delay every reply of M
  lag M SECONDS                 replication lag of M behind the primary
  fault M KIND                  reset-after-bytes N | garbage-reply | oversized-length |
                                wrong-setname | not-writable-primary N |
                                node-is-recovering N | stall-tls-handshake | clear
  drop-connections M            close M's established connections (it keeps listening)
  reconfig add|remove M         change the replica set config (setVersion+1)
  recovering M on|off           put M in RECOVERING or back to SECONDARY
  member-state M STATE          startup | startup2 | recovering | normal
  tags M K:V,...                reconfigure M's tags (`-`: none; setVersion+1)
  advertise M HOST[:PORT]       reconfigure the name M is known by (setVersion+1)
  server-version M V            restart M on another server version
  claim-primary M on|off        the primary M is cut off but keeps claiming its term;
                                after `elect N` two members say they are primary
  status                        one line describing every node
M is a 0-based index, a port or host:port. The simulator exits 0 when standard input
closes or on SIGINT/SIGTERM.";

/// Options of the `sim` command.
#[derive(Debug, Args)]
#[command(after_help = CONTROL_HELP)]
pub struct SimArgs {
    /// Replica set name (the default topology is a replica set).
    #[arg(long, default_value = "rs0")]
    replset: String,
    /// Number of ordinary data-bearing members.
    #[arg(long, default_value_t = 3)]
    members: usize,
    /// Number of arbiters (after the data-bearing members).
    #[arg(long, default_value_t = 0)]
    arbiters: usize,
    /// Number of hidden members.
    #[arg(long, default_value_t = 0)]
    hidden: usize,
    /// Number of passive (priority 0) members.
    #[arg(long, default_value_t = 0)]
    passives: usize,
    /// Number of spare members outside the config (RSGhost) until `reconfig add`.
    #[arg(long, default_value_t = 0)]
    spares: usize,
    /// Run this many mongos routers instead of a replica set.
    #[arg(long, conflicts_with = "standalone")]
    mongos: Option<usize>,
    /// Run one standalone server instead of a replica set.
    #[arg(long)]
    standalone: bool,
    /// First port; nodes use consecutive ports (0: any free ports).
    #[arg(long, default_value_t = 27017)]
    port: u16,
    /// Address to listen on and advertise.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Emulated server version (3.6, 4.0, 4.2, 4.4, 5.0, 6.0, 7.0, 8.0).
    #[arg(long, default_value = "7.0")]
    server_version: ServerVersion,
    /// How long an `elect` takes, in milliseconds (default: immediate).
    #[arg(long, default_value_t = 0)]
    election_ms: u64,
    /// Idle-write period of the primary, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    idle_write_ms: u64,
    /// A user in `admin` with SCRAM-SHA-1 and SCRAM-SHA-256 credentials (repeatable). With
    /// any user, commands other than the handshake, ping, buildInfo and SASL need
    /// authentication. The connection string printed carries no credentials.
    #[arg(long = "auth", value_name = "USER:PASSWORD", value_parser = SimUser::parse)]
    users: Vec<SimUser>,
    /// Put a load balancer in front of the mongos routers (with --mongos): the connection
    /// string printed is then the balancer's, with `loadBalanced=true`.
    #[arg(long, requires = "mongos", group = "balancer")]
    load_balancer: bool,
    /// Put a load balancer in front of the replica set members instead, staging a common
    /// mistake: round robin per connection, so successive hellos through the one address
    /// flip between members (`me`, primary or secondary, electionId), and none carries a
    /// serviceId. The connection string printed is the balancer's, with `loadBalanced=true`.
    #[arg(long, conflicts_with_all = ["mongos", "standalone"], group = "balancer")]
    load_balancer_in_front_of_members: bool,
    /// The load balancer's port (0: any free port).
    #[arg(long, default_value_t = 0, requires = "balancer")]
    load_balancer_port: u16,
    /// Append ` at=<µs>` to every control reply: the UNIX time (CLOCK_REALTIME, shared by
    /// every process on the machine) taken just before the command was applied. Used by
    /// `scripts/bench` to time a failover from inside the simulator.
    #[arg(long, hide = true)]
    reply_times: bool,
    /// Serve TLS with certificates generated at start (a CA, and a server certificate for
    /// localhost, 127.0.0.1 and --host). The CA is written to a file whose path is printed
    /// on standard error and added to the connection string as tlsCAFile.
    #[arg(long)]
    tls: bool,
    /// Where to write the CA (ca.pem) and client certificates (default: a new directory
    /// under the system's temporary directory).
    #[arg(long, requires = "tls", value_name = "DIR")]
    tls_dir: Option<PathBuf>,
    /// A MONGODB-X509 user in $external: a client certificate subject in RFC 2253 form,
    /// e.g. `CN=app,OU=clients,O=mongo-topology-sim` (repeatable). The nodes then ask
    /// clients for certificates.
    #[arg(long = "x509-user", requires = "tls", value_name = "SUBJECT")]
    x509_users: Vec<String>,
    /// Write a client certificate and key signed by the CA, with this common name (its
    /// subject is `CN=<CN>,OU=clients,O=mongo-topology-sim`), to the TLS directory; its path
    /// is printed on standard error (repeatable).
    #[arg(long = "tls-client-cert", requires = "tls", value_name = "CN")]
    client_certs: Vec<String>,
    /// Real-world situations staged on the members.
    #[command(flatten)]
    world: Box<WorldArgs>,
    #[command(flatten)]
    replay: ReplayArgs,
    /// Fleets: several processes, the string in a file, SRV records on loopback DNS.
    #[command(flatten)]
    fleet: FleetArgs,
}

impl SimArgs {
    /// What each child process of `--processes` is started with.
    fn child_template(&self) -> ChildTemplate {
        let mut flags = vec![
            "--server-version".to_owned(),
            self.server_version.to_string(),
            "--idle-write-ms".to_owned(),
            self.idle_write_ms.to_string(),
        ];
        if self.reply_times {
            flags.push("--reply-times".to_owned());
        }
        ChildTemplate {
            mongos: self.mongos.unwrap_or(0),
            base_port: self.port,
            host: self.host.clone(),
            flags,
        }
    }

    fn spec(&self) -> Result<DeploymentSpec, String> {
        let topology = if let Some(count) = self.mongos {
            TopologySpec::Sharded { count }
        } else if self.standalone {
            TopologySpec::Standalone
        } else {
            let mut members: Vec<MemberSpec> =
                (0..self.members).map(|_| MemberSpec::data()).collect();
            members.extend((0..self.passives).map(|_| MemberSpec::passive()));
            members.extend((0..self.arbiters).map(|_| MemberSpec::arbiter()));
            members.extend((0..self.hidden).map(|_| MemberSpec::hidden()));
            members.extend((0..self.spares).map(|_| MemberSpec::data().spare()));
            TopologySpec::ReplicaSet {
                name: self.replset.clone(),
                members,
            }
        };
        let mut spec = DeploymentSpec {
            topology,
            host: self.host.clone(),
            base_port: self.port,
            version: self.server_version,
            timers: SimTimers {
                idle_write_period: Duration::from_millis(self.idle_write_ms.max(1)),
                election_delay: Duration::from_millis(self.election_ms),
            },
            users: self.users.clone(),
            load_balancer: (self.load_balancer || self.load_balancer_in_front_of_members)
                .then_some(self.load_balancer_port),
            load_balancer_in_front_of_members: self.load_balancer_in_front_of_members,
            x509_users: self.x509_users.clone(),
            tls: None,
            scram_mechanisms: None,
        };
        self.world.apply(&mut spec)?;
        Ok(spec)
    }
}

/// Runs the simulator until stdin closes or a termination signal arrives.
pub fn run(args: SimArgs) -> ExitCode {
    if args.replay.requested() {
        raise_open_file_limit();
        return sim_replay::run(&args.replay);
    }
    let mut spec = match args.spec() {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.fleet.processes > 1 {
        return sim_fleet::run(&args.child_template(), &args.fleet);
    }
    raise_open_file_limit();
    if let Err(message) = check_open_file_limit(&spec) {
        eprintln!("error: {message}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut ca_file = None;
    if args.tls {
        let prepared = match sim_tls::prepare(
            &args.host,
            &args.world.certificate_names(),
            args.tls_dir.as_deref(),
            !args.x509_users.is_empty() || !args.client_certs.is_empty(),
            &args.client_certs,
        ) {
            Ok(prepared) => prepared,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!("TLS CA certificate: {}", prepared.ca_file.display());
        for (name, path) in &prepared.client_files {
            eprintln!("TLS client certificate for CN={name}: {}", path.display());
        }
        spec.tls = Some(prepared.tls);
        ca_file = Some(prepared.ca_file);
    }
    let code = runtime.block_on(serve(spec, ca_file, args.reply_times, &args.fleet));
    // Standard input is read on a blocking thread that cannot be interrupted: do not wait.
    runtime.shutdown_background();
    code
}

/// Each node holds a listener plus one descriptor per client connection, so a large
/// deployment (`--mongos 1000`) exceeds the common default soft limit of 1,024 open files.
/// Raise the soft limit to the hard limit, as servers do; if that fails, the start may still
/// succeed for smaller deployments, and a bind error will say what ran out.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!("open file limit: {limit}"),
        Err(error) => tracing::warn!("cannot raise the open file limit: {error}"),
    }
}

/// Descriptors the process needs besides one per node: the runtime, standard streams,
/// TLS files, and the first client connections.
const DESCRIPTORS_BESIDES_NODES: u64 = 64;

/// How many descriptors `spec` needs at the least: one listener per node (and the load
/// balancer's) plus [`DESCRIPTORS_BESIDES_NODES`].
fn descriptors_needed(spec: &DeploymentSpec) -> u64 {
    let nodes = match &spec.topology {
        TopologySpec::Standalone => 1,
        TopologySpec::ReplicaSet { members, .. } => members.len(),
        TopologySpec::Sharded { count } => *count,
    };
    let load_balancer = usize::from(spec.load_balancer.is_some());
    u64::try_from(nodes.saturating_add(load_balancer))
        .unwrap_or(u64::MAX)
        .saturating_add(DESCRIPTORS_BESIDES_NODES)
}

/// Refuses a deployment that cannot open its listeners under the open file limit (after
/// [`raise_open_file_limit`]), at once and saying what is needed, instead of failing
/// part-way through binding with "Too many open files".
fn check_open_file_limit(spec: &DeploymentSpec) -> Result<(), String> {
    let needed = descriptors_needed(spec);
    let Ok((soft, hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
        // Unknown limit: binding will say what ran out.
        return Ok(());
    };
    if needed <= soft {
        return Ok(());
    }
    let hard = if hard == rlimit::INFINITY {
        "unlimited".to_string()
    } else {
        hard.to_string()
    };
    Err(format!(
        "this deployment needs at least {needed} open files (one per node, plus \
         {DESCRIPTORS_BESIDES_NODES} for the process and its first connections), but the \
         open file limit is {soft} (hard limit {hard}); raise it (e.g. `ulimit -n {needed}`, \
         as root past the hard limit) or simulate fewer nodes"
    ))
}

async fn serve(
    spec: DeploymentSpec,
    ca_file: Option<PathBuf>,
    reply_times: bool,
    fleet: &FleetArgs,
) -> ExitCode {
    // Handlers first: whoever reads the connection string may signal us at once, and a
    // signal before the handlers exist would kill the process with a non-zero status.
    let Ok(mut signals) = Signals::new() else {
        eprintln!("error: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    let started = Instant::now();
    let host = spec.host.clone();
    let fixed_ports = spec.base_port != 0;
    let deployment = match Deployment::start(spec).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            if fixed_ports && port_in_use(&e) {
                eprintln!(
                    "hint: consecutive ports from --port may be taken (ports above 32767 are \
                     the kernel's for outgoing connections); --port 0 uses any free ports"
                );
            }
            return ExitCode::FAILURE;
        }
    };
    let nodes = deployment.ports().len();
    let mut printed = deployment.connection_string();
    if let Some(through_balancer) = deployment.load_balancer_connection_string() {
        tracing::info!("behind the load balancer: {printed}");
        printed = through_balancer;
    }
    if let Some(ca) = &ca_file {
        printed = format!("{printed}&tlsCAFile={}", ca.display());
    }
    let published = sim_fleet::publish(fleet, &host, deployment.ports(), &printed).await;
    let published = match published {
        Ok(published) => published,
        Err(e) => {
            eprintln!("error: {e}");
            deployment.shutdown().await;
            return ExitCode::FAILURE;
        }
    };
    published.say(&printed);
    tracing::info!("{nodes} node(s) started in {:?}", started.elapsed());
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    let mut code = ExitCode::SUCCESS;
    loop {
        tokio::select! {
            read = read_line(&mut stdin, &mut line) => match read {
                Ok(true) => {
                    let reply = match std::str::from_utf8(&line) {
                        Ok(text) if text.trim().is_empty() => None,
                        Ok(text) => {
                            let at = unix_micros();
                            let reply = answer(&deployment, text.trim()).await;
                            Some(if reply_times { format!("{reply} at={at}") } else { reply })
                        }
                        Err(e) => Some(format!("error: the line is not UTF-8: {e}")),
                    };
                    if let Some(reply) = reply {
                        say(&reply);
                    }
                    line.clear();
                }
                Ok(false) => break,
                Err(e) => {
                    eprintln!("error: cannot read standard input: {e}");
                    code = ExitCode::FAILURE;
                    break;
                }
            },
            _ = signals.recv() => break,
        }
    }
    published.stop().await;
    deployment.shutdown().await;
    code
}

/// The one-line answer to a control line: `ok`, `ok <details>` or `error: <reason>`.
async fn answer(deployment: &Deployment, line: &str) -> String {
    let command = match line.parse::<ControlCommand>() {
        Ok(c) => c,
        Err(e) => return format!("error: {e}"),
    };
    match deployment.control(command).await {
        Ok(details) if details.is_empty() => "ok".to_owned(),
        Ok(details) => format!("ok {details}"),
        Err(e) => format!("error: {e}"),
    }
}

/// Microseconds since the UNIX epoch (0 if the clock is before it).
fn unix_micros() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_micros())
}

/// Whether `error` is a port already taken.
fn port_in_use(error: &SimError) -> bool {
    matches!(error, SimError::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse)
}
