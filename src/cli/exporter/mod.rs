//! `mongo-topology exporter`: monitors every deployment of a TOML configuration in one
//! process and serves their metrics at `/metrics`, each series labelled with its
//! `deployment`. SIGHUP, or a change of the file's contents (polled every
//! [`CONFIG_POLL`]), re-reads the configuration: deployments added start, removed ones stop
//! and their series disappear, changed ones restart; an invalid file keeps the running set
//! (and says why on standard error).

mod config;
mod config_file;
mod deployment;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use tokio::signal::unix::{signal, SignalKind};

use self::config_file::ConfigFile;
use self::deployment::{Live, Running};
use super::metrics::http::{self, Scrape};
use super::metrics::Families;
use super::untrusted::{display_untrusted, LINE_CHARS};

const EXPORTER_HELP: &str = "\
Example:
  mongo-topology exporter --config fleet.toml --metrics-addr 0.0.0.0:9464

fleet.toml:
  [[deployment]]
  name = \"orders\"
  uri = \"mongodb://db1:27017,db2:27017/?replicaSet=rs0\"

  [[deployment]]
  name = \"billing\"
  uri_file = \"/etc/mongo-topology/billing.uri\"   # or: uri_env = \"BILLING_URI\"

Each deployment needs a unique name (the `deployment` label) and exactly one of uri,
uri_file and uri_env. Connection strings are never printed nor exported. Only monitoring
connections are opened (no authentication). SIGHUP re-reads the file, and so does a change
of its contents (checked every 3 s; a change of a uri_file or uri_env needs SIGHUP). The
metrics and the
alert rules for them: docs/fleet.md and deploy/prometheus/alerts.yml.

Exit status: 130 on SIGINT, 143 on SIGTERM; 1 when the configuration cannot be used at the
start or the address cannot be listened on.";

/// Options of the `exporter` command.
#[derive(Debug, Args)]
#[command(after_help = EXPORTER_HELP)]
pub struct ExporterArgs {
    /// The TOML file of deployments (one `[[deployment]]` table each).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Serve the metrics at http://HOST:PORT/metrics (port 0: any free port, printed).
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: String,
    /// Send the DNS queries of mongodb+srv strings to this name server instead of the
    /// system's resolver.
    #[arg(long, value_name = "IP:PORT")]
    dns_server: Option<SocketAddr>,
}

/// How often the configuration file is read to see whether it changed.
const CONFIG_POLL: Duration = Duration::from_secs(3);

/// How long a changed configuration file must stay the same before it is reloaded.
const CONFIG_SETTLE: Duration = Duration::from_millis(300);

/// The running deployments as scrapes see them, by name.
type Lives = Arc<Mutex<HashMap<String, Arc<Live>>>>;

/// What the endpoint serves.
struct Exported {
    families: Arc<Families>,
    lives: Lives,
}

impl Scrape for Exported {
    /// Refreshes what changes without events (ages, RTTs) of every deployment, then encodes.
    fn scrape(&self) -> String {
        let lives: Vec<Arc<Live>> = match self.lives.lock() {
            Ok(lives) => lives.values().cloned().collect(),
            Err(_) => Vec::new(),
        };
        let now = tokio::time::Instant::now();
        for live in lives {
            live.refresh(now);
        }
        self.families.encode()
    }

    fn command(&self) -> &'static str {
        "exporter"
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {}", display_untrusted(message, LINE_CHARS));
    ExitCode::from(1)
}

/// Runs `exporter` until SIGINT or SIGTERM.
pub fn run(args: ExporterArgs) -> ExitCode {
    let deployments = match config::load(&args.config) {
        Ok(deployments) => deployments,
        Err(message) => return fail(&message),
    };
    // One thread: monitoring thousands of servers is waiting on sockets and timers, and a
    // second worker only adds the wake-ups between the two (1,000 streaming replica sets:
    // 0.73× the CPU on one thread; polled, level). Scrapes are encoded on a blocking thread.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
    };
    let code = runtime.block_on(async {
        match export(&args, deployments).await {
            Ok(code) => code,
            Err(message) => fail(&message),
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

async fn export(
    args: &ExporterArgs,
    deployments: Vec<config::DeploymentConfig>,
) -> Result<ExitCode, String> {
    let install =
        |kind| signal(kind).map_err(|error| format!("cannot install signal handlers: {error}"));
    let mut interrupt = install(SignalKind::interrupt())?;
    let mut terminate = install(SignalKind::terminate())?;
    let mut hangup = install(SignalKind::hangup())?;
    let listener = tokio::net::TcpListener::bind(&args.metrics_addr)
        .await
        .map_err(|error| {
            format!(
                "cannot listen on {} for metrics: {error}",
                args.metrics_addr
            )
        })?;
    // First on standard error, before any deployment's log line.
    if let Ok(local) = listener.local_addr() {
        eprintln!("metrics: http://{local}/metrics");
    }
    let families = Arc::new(Families::new());
    let lives = Lives::default();
    let mut fleet = Fleet {
        families: families.clone(),
        dns_server: args.dns_server,
        running: HashMap::new(),
        lives: lives.clone(),
        seen: std::fs::read(&args.config).ok(),
        file: ConfigFile::new(&args.config),
    };
    fleet.apply(deployments).await;
    let server = tokio::spawn(http::serve(
        listener,
        Arc::new(Exported { families, lives }),
    ));
    let mut poll = tokio::time::interval(CONFIG_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let code = loop {
        tokio::select! {
            _ = hangup.recv() => fleet.reload().await,
            _ = poll.tick() => fleet.reload_if_changed().await,
            _ = interrupt.recv() => break ExitCode::from(130),
            _ = terminate.recv() => break ExitCode::from(143),
        }
    };
    server.abort();
    fleet.apply(Vec::new()).await;
    Ok(code)
}

/// The deployments being monitored, by name.
struct Fleet {
    families: Arc<Families>,
    dns_server: Option<SocketAddr>,
    running: HashMap<String, Running>,
    /// The running deployments as scrapes see them (kept equal to `running`).
    lives: Lives,
    /// The configuration file's contents when last read (`None`: it could not be read).
    seen: Option<Vec<u8>>,
    /// The configuration file, read off the runtime's thread.
    file: ConfigFile,
}

impl Fleet {
    /// Reloads when the file's contents differ from the last read (an unreadable file is
    /// reported once, not at every poll).
    /// A file being written (truncated, then filled) is read again after [`CONFIG_SETTLE`]
    /// and reloaded only once two reads agree: a half-written file must not stop every
    /// deployment for a moment. A stuck read was reported when it stopped being awaited.
    async fn reload_if_changed(&mut self) {
        let Ok(contents) = self.file.contents().await else {
            return;
        };
        if contents == self.seen {
            return;
        }
        tokio::time::sleep(CONFIG_SETTLE).await;
        if self
            .file
            .contents()
            .await
            .is_ok_and(|again| again == contents)
        {
            self.reload().await;
        }
    }

    /// Re-reads the configuration; an unusable one changes nothing.
    async fn reload(&mut self) {
        let running = self.running.len();
        let Ok((seen, loaded)) = self.file.load().await else {
            eprintln!(
                "error: configuration not reloaded (the {running} running deployments go on): \
                 a read of the file has not finished"
            );
            return;
        };
        self.seen = seen;
        match loaded {
            Ok(deployments) => {
                self.apply(deployments).await;
                eprintln!("configuration reloaded: {} deployments", self.running.len());
            }
            Err(message) => eprintln!(
                "error: configuration not reloaded (the {running} running deployments go on): {}",
                display_untrusted(&message, LINE_CHARS)
            ),
        }
    }

    /// Makes the running set `deployments`: stops the removed and changed ones (their series
    /// go), then starts the new and changed ones.
    async fn apply(&mut self, deployments: Vec<config::DeploymentConfig>) {
        let wanted: HashMap<String, config::DeploymentConfig> = deployments
            .into_iter()
            .map(|deployment| (deployment.name.clone(), deployment))
            .collect();
        let leaving: Vec<String> = self
            .running
            .iter()
            .filter(|(name, running)| wanted.get(*name) != Some(&running.config))
            .map(|(name, _)| name.clone())
            .collect();
        // Stopped together: each may wait for its cluster to close.
        let mut stopping = tokio::task::JoinSet::new();
        for name in leaving {
            if let Ok(mut lives) = self.lives.lock() {
                lives.remove(&name);
            }
            if let Some(running) = self.running.remove(&name) {
                stopping.spawn(running.stop());
            }
        }
        while stopping.join_next().await.is_some() {}
        for (name, deployment) in wanted {
            if !self.running.contains_key(&name) {
                let running = Running::start(deployment, self.families.clone(), self.dns_server);
                if let Ok(mut lives) = self.lives.lock() {
                    lives.insert(name.clone(), running.live());
                }
                self.running.insert(name, running);
            }
        }
    }
}
