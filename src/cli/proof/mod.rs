//! Verdicts proven by doing: whether a read or a write with these settings would work, found
//! out the way an application finds out — select a server for the intent, check a
//! connection out of its **pool** (TCP or TLS, the full handshake, authentication when the
//! connection string has credentials), run `ping` on it, without credentials make sure the
//! server does not require them (`listCollections` is refused with Unauthorized when it
//! does, while `ping` is not), and for a write ask the server (`hello`) whether it takes
//! writes. In load-balanced mode the connection must come through
//! the balancer with a `serviceId` in its handshake reply.
//!
//! The API, shared by `discover`, `select` and `doctor` (and stable):
//! - [`Intent`]: a read with a read preference, or a write;
//! - [`prove`]`(cluster, intent, selection_wait) -> Verdict`: runs the proof on a started
//!   [`Cluster`] (the caller owns it and closes it);
//! - [`Verdict`]: plain data — passed or not, the server, a [`Cause`] class when it failed,
//!   the evidence (what was done and observed, step by step) and a note on the consequence;
//! - [`text`] / [`json`] (in `render`): one line for people, one JSON object.
//!
//! Nothing here prints or decides exit statuses: callers do. No text here holds a password
//! (authentication errors name the mechanism, the user and the source only); evidence may
//! quote servers, so callers show it through `display_untrusted`.

mod cause;
mod render;

use std::time::{Duration, Instant};

use mongo_topology::bson::oid::ObjectId;
use mongo_topology::bson::{doc, Document};
use mongo_topology::sdam::{ServerType, TopologyType};
use mongo_topology::selection::{explain_selection, ReadPreference, SelectionCriteria};
use mongo_topology::{Cluster, ClusterError, ServerAddress, ServerConnection};

pub use cause::Cause;
pub use render::{json, text};

/// What the application wants to do.
#[derive(Debug, Clone)]
pub enum Intent {
    /// A read with this read preference (the connection string's, or `select`'s).
    Read(ReadPreference),
    /// A write (always to a primary, a mongos, a standalone or through a load balancer).
    Write,
}

impl Intent {
    /// `read (mode primary)` or `write`.
    pub fn label(&self) -> String {
        match self {
            Intent::Read(read_preference) => format!("read ({read_preference})"),
            Intent::Write => "write".to_string(),
        }
    }

    fn criteria(&self) -> SelectionCriteria {
        match self {
            Intent::Read(read_preference) => SelectionCriteria::read(read_preference.clone()),
            Intent::Write => SelectionCriteria::write(),
        }
    }
}

/// The outcome of one proof: plain data, no behaviour beyond reading it.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// What was proven (or not).
    pub intent: Intent,
    /// Whether the operation would work now.
    pub passed: bool,
    /// The server selected (and, when a connection was checked out, the one it reached).
    pub server: Option<ServerAddress>,
    /// That server's SDAM type when it was selected.
    pub server_type: Option<ServerType>,
    /// In load-balanced mode, the `serviceId` the connection through the balancer reached.
    pub service_id: Option<ObjectId>,
    /// Why it failed (`None` when it passed).
    pub cause: Option<Cause>,
    /// What was done and observed, in order (`selected …`, `pool connection …`, `ping …`).
    pub evidence: Vec<String>,
    /// The consequence for the application, when there is one worth saying (also on a pass:
    /// "reads only with secondaryOk; writes fail (NotWritablePrimary)").
    pub note: Option<String>,
    /// How long the proof took.
    pub elapsed: Duration,
}

impl Verdict {
    fn new(intent: &Intent) -> Verdict {
        Verdict {
            intent: intent.clone(),
            passed: false,
            server: None,
            server_type: None,
            service_id: None,
            cause: None,
            evidence: Vec::new(),
            note: None,
            elapsed: Duration::ZERO,
        }
    }
}

/// The consequence of a direct connection to a secondary, said on both verdicts.
const SECONDARY_ONLY: &str = "reads only with secondaryOk; writes fail (NotWritablePrimary)";

/// The consequence of a load balancer that accepts connections and then closes them.
const BALANCER_CLOSED: &str = "the load balancer accepted the TCP connection, then closed it \
     before the handshake's reply: no healthy mongos behind it (or it expects TLS)";

/// Proves `intent` on `cluster`: selection (waiting at most `selection_wait`, and never more
/// than serverSelectionTimeoutMS; a suitable server in the current description is taken at
/// once), a pool check-out, `ping`, and for a write `hello`'s `isWritablePrimary`. Every
/// step is bounded: the check-out by connectTimeoutMS (plus the authentication round trips),
/// `ping` and `hello` by socketTimeoutMS when set.
pub async fn prove(cluster: &Cluster, intent: &Intent, selection_wait: Duration) -> Verdict {
    let started = Instant::now();
    let mut verdict = Verdict::new(intent);
    run(cluster, intent, selection_wait, &mut verdict).await;
    verdict.elapsed = started.elapsed();
    verdict
}

async fn run(cluster: &Cluster, intent: &Intent, selection_wait: Duration, verdict: &mut Verdict) {
    let criteria = intent.criteria();
    let wait = selection_wait.min(cluster.settings().server_selection_timeout);
    // Selection first, bounded by the caller's wait: an application would wait
    // serverSelectionTimeoutMS, but the outcome is the same when nothing is suitable now.
    match tokio::time::timeout(wait, cluster.select_server(&criteria)).await {
        Ok(Ok(selected)) => {
            verdict.server = Some(selected.address().clone());
            verdict.server_type = Some(selected.description().server_type);
        }
        Ok(Err(error)) => return fail(verdict, cause::of_cluster_error(&error), error),
        Err(_) => {
            let topology = cluster.topology();
            let explanation =
                explain_selection(&topology, &criteria, &cluster.settings().selection(), &[]);
            verdict.cause = Some(Cause::ServerSelectionTimeout);
            verdict.evidence.push(format!(
                "no suitable server after {} ms (an application waits serverSelectionTimeoutMS, \
                 {} ms, and fails this way unless a server becomes suitable): {}",
                wait.as_millis(),
                cluster.settings().server_selection_timeout.as_millis(),
                one_line(&explanation.to_string())
            ));
            return;
        }
    }
    let checkout_limit = connection_limit(cluster);
    let mut connection =
        match tokio::time::timeout(checkout_limit, cluster.checkout(&criteria)).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => {
                let cause = cause::of_cluster_error(&error);
                let load_balanced = cluster.topology().topology_type == TopologyType::LoadBalanced;
                if load_balanced && cause == Cause::Network {
                    verdict.note = Some(BALANCER_CLOSED.to_string());
                }
                return fail(verdict, cause, error);
            }
            Err(_) => {
                verdict.cause = Some(Cause::Timeout);
                verdict.evidence.push(format!(
                    "no pool connection within {} ms (connectTimeoutMS and the authentication \
                 round trips)",
                    checkout_limit.as_millis()
                ));
                return;
            }
        };
    record_connection(cluster, &connection, verdict);
    if cluster.topology().topology_type == TopologyType::LoadBalanced {
        match connection.service_id() {
            Some(service_id) => {
                verdict.service_id = Some(service_id);
                verdict.evidence.push(format!(
                    "through the load balancer to serviceId {}",
                    service_id.to_hex()
                ));
            }
            None => {
                verdict.cause = Some(Cause::NoServiceId);
                verdict
                    .evidence
                    .push("the handshake reply through the balancer has no serviceId".to_string());
                return;
            }
        }
    }
    let started = Instant::now();
    match command(cluster, &mut connection, doc! { "ping": 1 }).await {
        Ok(_) => verdict.evidence.push(format!(
            "ping: ok in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        )),
        Err(error) => return fail(verdict, cause::of_cluster_error(&error), error),
    }
    if cluster.settings().credential.is_none()
        && !prove_no_auth_required(cluster, &mut connection, verdict).await
    {
        return;
    }
    let secondary_direct = cluster.topology().topology_type == TopologyType::Single
        && connection.description().server_type == ServerType::RsSecondary;
    match intent {
        Intent::Read(_) => {
            if secondary_direct {
                verdict.note = Some(format!(
                    "a direct connection to a secondary: {SECONDARY_ONLY}"
                ));
            }
            verdict.passed = true;
        }
        Intent::Write => prove_writable(cluster, &mut connection, verdict).await,
    }
}

/// Without credentials, `ping` and `hello` pass even where the server requires
/// authentication (they are among the few commands it runs before authentication), while
/// every operation on data fails with Unauthorized (13). `listCollections` (names only, on
/// `admin`) tells the two apart. Returns whether the proof goes on; another refusal is kept
/// as evidence but decides nothing (the verdict is about authentication here).
async fn prove_no_auth_required(
    cluster: &Cluster,
    connection: &mut ServerConnection,
    verdict: &mut Verdict,
) -> bool {
    let probe = doc! { "listCollections": 1, "nameOnly": true, "authorizedCollections": true };
    match command(cluster, connection, probe).await {
        Ok(_) => {
            verdict.evidence.push(
                "listCollections without credentials: ok (no authentication required)".to_string(),
            );
            true
        }
        Err(ClusterError::Command { failure, .. })
            if is_unauthorized(failure.code, failure.code_name.as_deref()) =>
        {
            verdict.cause = Some(Cause::AuthRequired);
            verdict.evidence.push(format!(
                "listCollections without credentials: refused ({}{})",
                failure.code_name.as_deref().unwrap_or("Unauthorized"),
                failure
                    .code
                    .map(|code| format!(" {code}"))
                    .unwrap_or_default()
            ));
            verdict.note = Some(AUTH_REQUIRED.to_string());
            false
        }
        Err(error @ ClusterError::Command { .. }) => {
            verdict.evidence.push(format!(
                "listCollections without credentials: {} (not an authentication refusal)",
                one_line(&error.to_string())
            ));
            true
        }
        Err(error) => {
            fail(verdict, cause::of_cluster_error(&error), error);
            false
        }
    }
}

/// Unauthorized (13) by code, or by name when the code is missing.
fn is_unauthorized(code: Option<i32>, code_name: Option<&str>) -> bool {
    code == Some(13) || (code.is_none() && code_name == Some("Unauthorized"))
}

/// The consequence of a server that requires authentication and a connection string without
/// credentials.
const AUTH_REQUIRED: &str = "the server requires authentication and the connection string has \
     no credentials: connections open and ping answers, but every operation on data fails \
     with Unauthorized (13)";

/// Asks the server whether it takes writes (`hello`: `isWritablePrimary`, or the legacy
/// `ismaster`), as a write would find out.
async fn prove_writable(
    cluster: &Cluster,
    connection: &mut ServerConnection,
    verdict: &mut Verdict,
) {
    let reply = match command(cluster, connection, doc! { "hello": 1 }).await {
        Ok(reply) => reply,
        Err(error) => return fail(verdict, cause::of_cluster_error(&error), error),
    };
    let writable = ["isWritablePrimary", "ismaster"]
        .iter()
        .find_map(|field| reply.get_bool(field).ok())
        .unwrap_or(false);
    if writable {
        verdict
            .evidence
            .push("hello: isWritablePrimary true".to_string());
        verdict.passed = true;
        return;
    }
    let role = if reply.get_bool("secondary").unwrap_or(false) {
        "a secondary"
    } else if reply.get_bool("arbiterOnly").unwrap_or(false) {
        "an arbiter"
    } else {
        "not a primary"
    };
    verdict.evidence.push(format!(
        "hello: isWritablePrimary false ({role}{})",
        reply
            .get_str("setName")
            .map(|name| format!(" of set {name}"))
            .unwrap_or_default()
    ));
    verdict.cause = Some(Cause::NotWritable);
    verdict.note = Some(if role == "a secondary" {
        format!("a direct connection to a secondary: {SECONDARY_ONLY}")
    } else {
        "writes fail (NotWritablePrimary)".to_string()
    });
}

/// Runs `command` on `admin`, bounded by socketTimeoutMS when set (else by connectTimeoutMS
/// as a guard: a proof must end).
async fn command(
    cluster: &Cluster,
    connection: &mut ServerConnection,
    command: Document,
) -> Result<Document, ClusterError> {
    let limit = cluster
        .settings()
        .socket_timeout
        .unwrap_or_else(|| connection_limit(cluster));
    match tokio::time::timeout(limit, connection.run_command("admin", command)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(ClusterError::Connection {
            address: connection.address().clone(),
            source: mongo_topology::ConnectionError::Timeout { during: "read" },
        }),
    }
}

/// connectTimeoutMS (10 s by default, none when 0) plus room for the handshake and the
/// authentication round trips.
fn connection_limit(cluster: &Cluster) -> Duration {
    cluster
        .settings()
        .connect_timeout
        .unwrap_or(mongo_topology::DEFAULT_CONNECT_TIMEOUT)
        .saturating_add(Duration::from_secs(1))
}

fn record_connection(cluster: &Cluster, connection: &ServerConnection, verdict: &mut Verdict) {
    let server_type = connection.description().server_type;
    verdict.server = Some(connection.address().clone());
    verdict.server_type = Some(server_type);
    let authenticated = match &cluster.settings().credential {
        Some(credential) => format!(
            ", authenticated as {:?} on {:?}",
            credential.username.as_deref().unwrap_or_default(),
            credential.source
        ),
        None => String::new(),
    };
    verdict.evidence.push(format!(
        "pool connection to {} ({server_type}): handshake done{authenticated}",
        connection.address()
    ));
}

fn fail(verdict: &mut Verdict, cause: Cause, error: ClusterError) {
    if let ClusterError::Command { failure, .. } = &error {
        if failure.code_name.as_deref() == Some("NotWritablePrimary") {
            verdict.note = Some("writes fail (NotWritablePrimary)".to_string());
        }
    }
    verdict.cause = Some(cause);
    // The verdict names its server already: the error's leading "address: " is not repeated.
    let text = error.to_string();
    let text = verdict
        .server
        .as_ref()
        .and_then(|server| text.strip_prefix(&format!("{server}: ")))
        .map_or_else(|| text.clone(), str::to_string);
    verdict.evidence.push(one_line(&text));
}

/// A multi-line message (a selection explanation: a header, then a line per server) as one
/// line, its lines separated by `; `.
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    lines.join("; ")
}
