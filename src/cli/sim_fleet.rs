//! `sim --mongos N` at fleet scale: the mongos served from several processes
//! (`--processes P`, when one process's open-file limit cannot hold N listeners and their
//! clients' connections), the connection string written to a file (`--uri-file-out`, for
//! strings past the kernel's 128 KiB argument limit), and the fleet published on a loopback
//! DNS server (`--srv-name`, `--dns-port`) for `mongodb+srv://` clients.
//!
//! With `--processes P` the `sim` process is a parent: it starts P children (`sim` again,
//! from the same executable, each serving its share of the mongos on its own ports), prints
//! one connection string naming them all, routes control commands to the child that owns
//! the mongos named (`status` asks them all), and stops them when its standard input closes
//! or SIGINT/SIGTERM arrives.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use super::sim_io::{read_line, say, Signals};
use clap::Args;
use mongo_topology_sim::dns::{SrvServer, SrvZone};
use mongo_topology_sim::MemberRef;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The most processes `--processes` starts.
const MAX_PROCESSES: usize = 64;

/// How long a child may take to print its connection string (binding thousands of ports
/// on a loaded machine takes seconds).
const CHILD_START_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a child may take to answer a control command.
const CHILD_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// The fleet flags of `sim`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Serve the mongos (--mongos) from this many processes, each with its share of them
    /// on its own ports and under its own open-file limit (a mongos needs one descriptor
    /// for its listener and one per client connection: 10,000 mongos polled by one client
    /// need about 20,000). One connection string names them all; control commands go to
    /// the process owning the mongos named.
    #[arg(long, default_value_t = 1, requires = "mongos",
          value_parser = clap::value_parser!(u16).range(1..=MAX_PROCESSES as i64),
          conflicts_with_all = ["tls", "load_balancer", "users"])]
    pub processes: u16,
    /// Also write the connection string to this file (replaced atomically once every
    /// mongos listens, and the DNS server with --srv-name): pass it to clients with
    /// `--uri-file`, since a string naming thousands of mongos exceeds the 128 KiB limit of
    /// one command-line argument.
    #[arg(long, value_name = "PATH")]
    pub uri_file_out: Option<PathBuf>,
    /// Publish the mongos under this DNS name (at least two labels, e.g. `fleet.test`) on a
    /// loopback DNS server: SRV `_mongodb._tcp.NAME` (one record per mongos, target
    /// `mongos.NAME`), A `mongos.NAME` (--host) and, with --srv-txt, TXT `NAME`. The second
    /// line on standard output is then `dns HOST:PORT mongodb+srv://NAME/?tls=false`: give
    /// clients `--dns-server HOST:PORT`. At most 3,000 mongos (one DNS message).
    #[arg(long, requires = "mongos", conflicts_with = "tls", value_name = "NAME")]
    pub srv_name: Option<String>,
    /// The DNS server's port, UDP and TCP (0: any free port).
    #[arg(long, default_value_t = 0, requires = "srv_name")]
    pub dns_port: u16,
    /// The TXT record of NAME: URI options (`authSource`, `replicaSet`, `loadBalanced`).
    #[arg(long, requires = "srv_name", value_name = "OPTIONS")]
    pub srv_txt: Option<String>,
}

/// What every child gets besides its share of mongos and its first port.
#[derive(Debug)]
pub struct ChildTemplate {
    /// The total number of mongos.
    pub mongos: usize,
    /// The first port (0: any free ports).
    pub base_port: u16,
    /// The address the mongos listen on.
    pub host: String,
    /// Flags passed to every child unchanged (server version, timers, reply times).
    pub flags: Vec<String>,
}

/// What the fleet publishes once its mongos listen.
pub struct Published {
    /// The line announcing the DNS server and the DNS server, with --srv-name (it stops
    /// when dropped).
    dns: Option<(String, SrvServer)>,
}

impl Published {
    /// The second line of standard output with --srv-name:
    /// `dns HOST:PORT mongodb+srv://NAME/?tls=false`.
    pub fn dns_line(&self) -> Option<&str> {
        self.dns.as_ref().map(|(line, _)| line.as_str())
    }

    /// Prints the connection string, then the DNS line if any.
    pub fn say(&self, connection_string: &str) {
        say(connection_string);
        if let Some(line) = self.dns_line() {
            say(line);
        }
    }

    /// Stops the DNS server, if any.
    pub async fn stop(self) {
        if let Some((_, dns)) = self.dns {
            dns.stop().await;
        }
    }
}

/// Starts the DNS server with --srv-name, then writes the connection string to
/// --uri-file-out; the caller then prints the connection string and
/// [`Published::dns_line`], so that whoever reads them finds the file written and the
/// DNS server answering.
pub async fn publish(
    fleet: &FleetArgs,
    host: &str,
    ports: Vec<u16>,
    connection_string: &str,
) -> Result<Published, String> {
    let mut dns = None;
    if let Some(name) = &fleet.srv_name {
        let address = ipv4_of(host).await?;
        let zone = SrvZone {
            name: name.clone(),
            address,
            ports,
            txt: fleet.srv_txt.clone(),
        };
        let bind = SocketAddr::new(IpAddr::V4(address), fleet.dns_port);
        let server = SrvServer::start(&zone, bind)
            .await
            .map_err(|e| e.to_string())?;
        dns = Some((
            format!(
                "dns {} mongodb+srv://{}/?tls=false",
                server.address(),
                name.trim_end_matches('.')
            ),
            server,
        ));
    }
    if let Some(path) = &fleet.uri_file_out {
        write_atomically(path, connection_string)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(Published { dns })
}

/// The IPv4 address of `host` (an address, or a name resolved by the system).
async fn ipv4_of(host: &str) -> Result<Ipv4Addr, String> {
    if let Ok(address) = host.parse::<Ipv4Addr>() {
        return Ok(address);
    }
    let addresses = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| format!("cannot resolve --host {host}: {e}"))?;
    addresses
        .filter_map(|a| match a.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .next()
        .ok_or_else(|| format!("--host {host} has no IPv4 address for the DNS A record"))
}

/// Writes `text` and a newline to a temporary file beside `path`, then renames it there, so
/// that a reader never sees a partial string.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, format!("{text}\n"))?;
    std::fs::rename(&temporary, path)
}

/// One child process and its share of the mongos.
struct ChildSim {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    /// The "host:port" of its mongos, in order.
    seeds: Vec<String>,
}

/// Runs the parent of `--processes P`: starts the children, prints and publishes the one
/// connection string, routes control commands, stops the children at the end.
pub fn run(template: &ChildTemplate, fleet: &FleetArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(template, fleet));
    runtime.shutdown_background();
    code
}

async fn serve(template: &ChildTemplate, fleet: &FleetArgs) -> ExitCode {
    let Ok(mut signals) = Signals::new() else {
        eprintln!("error: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    let mut children = match start_children(template, usize::from(fleet.processes)).await {
        Ok(children) => children,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let seeds: Vec<String> = children.iter().flat_map(|c| c.seeds.clone()).collect();
    let printed = format!("mongodb://{}/", seeds.join(","));
    let ports = seeds.iter().filter_map(|seed| port_of(seed)).collect();
    let published = match publish(fleet, &template.host, ports, &printed).await {
        Ok(published) => published,
        Err(e) => {
            eprintln!("error: {e}");
            stop_children(&mut children).await;
            return ExitCode::FAILURE;
        }
    };
    published.say(&printed);
    tracing::info!(
        "{} mongos served by {} processes",
        seeds.len(),
        children.len()
    );
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    let mut code = ExitCode::SUCCESS;
    loop {
        tokio::select! {
            read = read_line(&mut stdin, &mut line) => match read {
                Ok(true) => {
                    match std::str::from_utf8(&line) {
                        Ok(text) if text.trim().is_empty() => {}
                        Ok(text) => {
                            let reply = route(&mut children, &seeds, text.trim()).await;
                            say(&reply);
                        }
                        Err(e) => say(&format!("error: the line is not UTF-8: {e}")),
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
    stop_children(&mut children).await;
    code
}

/// The port of a "host:port" seed.
fn port_of(seed: &str) -> Option<u16> {
    seed.rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
}

/// Starts `processes` children, each serving its share of the mongos, and reads the
/// connection string each prints.
async fn start_children(
    template: &ChildTemplate,
    processes: usize,
) -> Result<Vec<ChildSim>, String> {
    let executable =
        std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let processes = processes.min(template.mongos.max(1));
    let mut children = Vec::with_capacity(processes);
    let mut first = 0;
    for index in 0..processes {
        let share = template.mongos / processes + usize::from(index < template.mongos % processes);
        let port = if template.base_port == 0 {
            0
        } else {
            u16::try_from(usize::from(template.base_port) + first)
                .map_err(|_| format!("--port {}: too few ports above it", template.base_port))?
        };
        first += share;
        let mut command = Command::new(&executable);
        command
            .args([
                "sim",
                "--mongos",
                &share.to_string(),
                "--port",
                &port.to_string(),
            ])
            .args(["--host", &template.host])
            .args(&template.flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start simulator process {index}: {e}"))?;
        let stdin = child.stdin.take();
        let Some(stdout) = child.stdout.take() else {
            return Err(format!("simulator process {index} has no standard output"));
        };
        children.push(ChildSim {
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            seeds: Vec::new(),
        });
    }
    for (index, child) in children.iter_mut().enumerate() {
        let first_line = tokio::time::timeout(CHILD_START_TIMEOUT, child.stdout.next_line())
            .await
            .map_err(|_| {
                format!("simulator process {index} did not start within {CHILD_START_TIMEOUT:?}")
            })?
            .map_err(|e| format!("simulator process {index}: {e}"))?
            .ok_or_else(|| format!("simulator process {index} exited before listening"))?;
        child.seeds = seeds_of(&first_line)
            .ok_or_else(|| format!("simulator process {index} printed {first_line:?}"))?;
    }
    Ok(children)
}

/// The seeds of a `mongodb://h1,h2/…` string.
fn seeds_of(connection_string: &str) -> Option<Vec<String>> {
    let rest = connection_string.strip_prefix("mongodb://")?;
    let hosts = rest.split('/').next()?;
    Some(hosts.split(',').map(str::to_owned).collect())
}

/// Answers one control line: `status` from every child, joined in one line; a command naming a
/// mongos (index, port or host:port) from the child owning it, with the mongos named by its
/// port there.
async fn route(children: &mut [ChildSim], seeds: &[String], line: &str) -> String {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    if words.first() == Some(&"status") {
        let mut parts = Vec::with_capacity(children.len());
        for child in children.iter_mut() {
            let reply = ask(child, line).await;
            match reply.strip_prefix("ok ") {
                Some(nodes) => parts.push(nodes.to_owned()),
                None => return reply,
            }
        }
        return format!("ok {}", parts.join("; "));
    }
    let Some(named) = words.get(1) else {
        return format!(
            "error: {line:?} names no mongos (with --processes, every command but status does)"
        );
    };
    let port = match named.parse::<MemberRef>() {
        Ok(MemberRef::Index(index)) => seeds.get(index).and_then(|seed| port_of(seed)),
        Ok(MemberRef::Port(port)) => Some(port),
        Ok(MemberRef::Address(address)) => port_of(&address),
        Err(e) => return format!("error: {e}"),
    };
    let Some(port) = port else {
        return format!("error: no such member: {named}");
    };
    let Some(child) = children
        .iter_mut()
        .find(|child| child.seeds.iter().any(|seed| port_of(seed) == Some(port)))
    else {
        return format!("error: no such member: {named}");
    };
    let port = port.to_string();
    words[1] = &port;
    ask(child, &words.join(" ")).await
}

/// Sends one line to a child and reads its one-line answer.
async fn ask(child: &mut ChildSim, line: &str) -> String {
    let Some(stdin) = child.stdin.as_mut() else {
        return "error: the simulator process has stopped".into();
    };
    if let Err(e) = stdin.write_all(format!("{line}\n").as_bytes()).await {
        return format!("error: cannot reach the simulator process: {e}");
    }
    let _ = stdin.flush().await;
    match tokio::time::timeout(CHILD_REPLY_TIMEOUT, child.stdout.next_line()).await {
        Ok(Ok(Some(reply))) => reply,
        Ok(Ok(None)) => "error: the simulator process exited".into(),
        Ok(Err(e)) => format!("error: cannot read the simulator process: {e}"),
        Err(_) => format!("error: no answer within {CHILD_REPLY_TIMEOUT:?}"),
    }
}

/// Closes every child's standard input (it then stops its mongos and exits), waits for
/// them, and kills any still running after 10 s.
async fn stop_children(children: &mut [ChildSim]) {
    for child in children.iter_mut() {
        child.stdin = None;
    }
    for child in children.iter_mut() {
        if tokio::time::timeout(Duration::from_secs(10), child.child.wait())
            .await
            .is_err()
        {
            let _ = child.child.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_and_ports_of_a_child_string() {
        let seeds = seeds_of("mongodb://127.0.0.1:4000,127.0.0.1:4001/").unwrap();
        assert_eq!(seeds, ["127.0.0.1:4000", "127.0.0.1:4001"]);
        assert_eq!(port_of(&seeds[1]), Some(4001));
        assert_eq!(seeds_of("error: cannot listen"), None);
    }

    #[test]
    fn the_uri_file_is_replaced_whole() {
        let dir = std::env::temp_dir().join(format!("sim-fleet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("uri");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, "mongodb://127.0.0.1:1/").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "mongodb://127.0.0.1:1/\n"
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
