//! Command dispatch: what a node answers to each command, given the simulated world.

use std::time::SystemTime;

use bson::{doc, Bson, Document};

use super::faults::CommandFault;
use super::hello::{hello_reply, HelloRequest};
use super::reply::error_reply;
use super::state::{NodeKind, World};
use super::status::repl_set_get_status;

/// One command to run, with where it came from.
#[derive(Debug, Clone, Copy)]
pub struct CommandContext<'a> {
    /// The command document (document sequences merged in as arrays).
    pub command: &'a Document,
    /// The database the command runs on.
    pub db: &'a str,
    /// The connection's id (reported as hello's connectionId).
    pub connection_id: i64,
    /// The request was a legacy OP_QUERY.
    pub via_op_query: bool,
    /// OP_QUERY SecondaryOk bit (OP_MSG uses `$readPreference` instead).
    pub secondary_ok_flag: bool,
    /// This connection's last handshake carried `helloOk: true` (the server's
    /// `Client::supportsHello`), which from 5.0 on selects "not primary" error messages.
    pub client_hello_ok: bool,
}

impl CommandContext<'_> {
    /// The command name: the first key of the command document.
    pub fn name(&self) -> &str {
        self.command.keys().next().map(String::as_str).unwrap_or("")
    }
}

/// Whether `name` is the handshake command (answered in every state and over OP_QUERY).
pub fn is_handshake(name: &str) -> bool {
    matches!(name, "hello" | "isMaster" | "ismaster")
}

/// Runs one command on node `idx` and returns the reply document.
pub fn run_command(
    world: &mut World,
    idx: usize,
    now: SystemTime,
    ctx: &CommandContext<'_>,
) -> Document {
    let name = ctx.name().to_owned();
    let version = world.version_of(idx);
    if ctx.via_op_query && !version.accepts_over_op_query(&name) {
        return error_reply(
            352,
            "UnsupportedOpQueryCommand",
            format!(
                "Unsupported OP_QUERY command: {name}. The client driver may require an upgrade. \
                 For more details see https://dochub.mongodb.org/core/legacy-opcode-removal"
            ),
        );
    }
    if !is_handshake(&name) {
        let fault = world
            .nodes
            .get_mut(idx)
            .and_then(|n| n.faults.take_command_fault());
        if let Some(fault) = fault {
            return with_cluster_time(world, idx, now, injected_error(world, idx, ctx, fault));
        }
    }
    let reply = match name.as_str() {
        // `hello` exists in every emulated release: it is new in 5.0 and was backported to
        // 4.4.2, 4.2.10, 4.0.21 and 3.6.21, all older than the patch releases emulated.
        "hello" => hello(world, idx, now, ctx, false),
        "isMaster" | "ismaster" => hello(world, idx, now, ctx, true),
        "ping" => doc! { "ok": 1.0 },
        "buildInfo" | "buildinfo" => build_info(world, idx),
        "endSessions" => doc! { "ok": 1.0 },
        "getnonce" if version.has_getnonce() => {
            doc! { "nonce": format!("{:016x}", rand::random::<u64>()), "ok": 1.0 }
        }
        "replSetGetStatus" if world.node(idx).map(|n| n.kind) != Some(NodeKind::Mongos) => {
            repl_set_get_status(world, idx, now)
        }
        "configureFailPoint" => world.fail_points.configure(idx, ctx.command),
        _ if crate::crud::is_store_command(&name) == Some(true) => {
            write(world, idx, now, ctx, &name)
        }
        _ if crate::crud::is_store_command(&name) == Some(false) => read(world, idx, ctx, &name),
        _ => error_reply(59, "CommandNotFound", format!("no such command: '{name}'")),
    };
    with_cluster_time(world, idx, now, reply)
}

fn hello(
    world: &World,
    idx: usize,
    now: SystemTime,
    ctx: &CommandContext<'_>,
    legacy: bool,
) -> Document {
    // The server answers `helloOk: true` whenever the field is present, whatever its value.
    let hello_ok = matches!(ctx.command.get("helloOk"), Some(Bson::Boolean(_)));
    hello_reply(
        world,
        idx,
        now,
        ctx.connection_id,
        HelloRequest { legacy, hello_ok },
    )
}

/// buildInfo, in the order `VersionInfoInterface::appendBuildInfo` writes it
/// (src/mongo/util/version.cpp); mongod then appends its storage engines, mongos does not.
fn build_info(world: &World, idx: usize) -> Document {
    let v = world.version_of(idx);
    let array: Vec<Bson> = v.version_array().iter().map(|n| Bson::Int32(*n)).collect();
    let mut reply = doc! {
        "version": v.full_version(),
        "gitVersion": "0000000000000000000000000000000000000000",
        "modules": [],
        "allocator": "tcmalloc",
        "javascriptEngine": "mozjs",
        "sysInfo": "deprecated",
        "versionArray": array,
        // What a build without TLS support reports.
        "openssl": { "running": "disabled", "compiled": "disabled" },
        "buildEnvironment": {},
        "bits": 64,
        "debug": false,
        "maxBsonObjectSize": mongo_topology_core::wire::MAX_BSON_OBJECT_SIZE,
    };
    if world.node(idx).is_some_and(|n| n.kind != NodeKind::Mongos) {
        reply.insert("storageEngines", vec!["devnull", "wiredTiger"]);
    }
    reply.insert("ok", 1.0);
    reply
}

/// Whether the command is a retryable write (it carries a txnNumber outside a transaction).
fn is_retryable_write(ctx: &CommandContext<'_>) -> bool {
    ctx.command.contains_key("txnNumber") && !ctx.command.contains_key("autocommit")
}

/// A "not primary" family error with the labels and topologyVersion a real server of the
/// emulated version adds.
fn state_error(
    world: &World,
    idx: usize,
    ctx: &CommandContext<'_>,
    code: i32,
    names: (&str, &str),
) -> Document {
    let mut reply = error_reply(code, names.0, names.1);
    if world.version_of(idx).labels_retryable_writes() && is_retryable_write(ctx) {
        reply.insert(
            "errorLabels",
            vec![Bson::String("RetryableWriteError".into())],
        );
    }
    if world.version_of(idx).has_topology_version() {
        if let Some(node) = world.node(idx) {
            reply.insert(
                "topologyVersion",
                doc! { "processId": node.process_id, "counter": node.tv_counter },
            );
        }
    }
    reply
}

fn not_writable_primary(world: &World, idx: usize, ctx: &CommandContext<'_>) -> Document {
    let names = world
        .version_of(idx)
        .not_writable_primary_names(ctx.client_hello_ok);
    state_error(world, idx, ctx, 10107, names)
}

fn injected_error(
    world: &World,
    idx: usize,
    ctx: &CommandContext<'_>,
    fault: CommandFault,
) -> Document {
    match fault {
        CommandFault::NotWritablePrimary => not_writable_primary(world, idx, ctx),
        CommandFault::NodeIsRecovering => state_error(
            world,
            idx,
            ctx,
            13436,
            (
                world.version_of(idx).not_primary_or_secondary_name(),
                "node is recovering",
            ),
        ),
    }
}

fn write(
    world: &mut World,
    idx: usize,
    now: SystemTime,
    ctx: &CommandContext<'_>,
    name: &str,
) -> Document {
    if !world.is_writable(idx) {
        return not_writable_primary(world, idx, ctx);
    }
    if let Some(set) = world.set.as_mut() {
        let term = set.term;
        set.oplog.record_write(now, term);
    }
    world.data.run(ctx.db, name, ctx.command)
}

/// Whether a read may run on a secondary: `$readPreference` other than primary (OP_MSG) or
/// the SecondaryOk bit (OP_QUERY).
fn secondary_ok(ctx: &CommandContext<'_>) -> bool {
    if ctx.secondary_ok_flag {
        return true;
    }
    match ctx.command.get("$readPreference") {
        Some(Bson::Document(pref)) => pref.get_str("mode").is_ok_and(|m| m != "primary"),
        _ => false,
    }
}

fn read(world: &mut World, idx: usize, ctx: &CommandContext<'_>, name: &str) -> Document {
    let continues_a_cursor = matches!(name, "getMore" | "killCursors");
    if !continues_a_cursor {
        if let Some(refusal) = read_refusal(world, idx, ctx) {
            return refusal;
        }
    }
    world.data.run(ctx.db, name, ctx.command)
}

/// Why a read (a command allowed on secondaries when the client opts in) may not run on
/// node `idx`, in the order the server's command dispatch checks it
/// (service_entry_point_common.cpp): without secondaryOk any non-primary refuses with 13435;
/// with it, a node that is neither primary nor secondary refuses with 13436.
fn read_refusal(world: &World, idx: usize, ctx: &CommandContext<'_>) -> Option<Document> {
    if world.is_writable(idx) {
        return None;
    }
    let version = world.version_of(idx);
    if !secondary_ok(ctx) {
        let names = version.not_primary_no_secondary_ok_names(ctx.client_hello_ok);
        return Some(state_error(world, idx, ctx, 13435, names));
    }
    if world.is_secondary(idx) {
        return None;
    }
    let recovering = world.node(idx).is_some_and(|n| n.recovering && n.in_config);
    let message = if recovering {
        "node is recovering"
    } else {
        "node is not in primary or recovering state"
    };
    let names = (version.not_primary_or_secondary_name(), message);
    Some(state_error(world, idx, ctx, 13436, names))
}

/// Replica set members (in a config) and mongos gossip `$clusterTime` and `operationTime`.
fn with_cluster_time(world: &World, idx: usize, now: SystemTime, mut reply: Document) -> Document {
    let Some(node) = world.node(idx) else {
        return reply;
    };
    let ts = match (&world.set, node.kind) {
        (Some(set), NodeKind::Member) if node.in_config => set.oplog.at(now).ts,
        _ => return reply,
    };
    reply.insert(
        "$clusterTime",
        doc! {
            "clusterTime": ts,
            "signature": {
                "hash": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![0u8; 20] },
                "keyId": 0i64,
            },
        },
    );
    reply.insert("operationTime", ts);
    reply
}
