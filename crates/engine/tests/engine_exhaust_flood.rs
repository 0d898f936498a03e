//! A server that answers the awaitable hello with identical streamed replies (moreToCome)
//! as fast as it can write them: the spec lets a server reply early only when its topology
//! changed, so the monitor must not keep processing such a flood. Before the bound the
//! client spent ~1.1 cores on it; now the monitor drops the stream past a small budget and
//! comes back after the normal interval.
//!
//! Measured: the awaited heartbeats the client processed over the flood, and the CPU time
//! of this whole process (client and fake server together, read from /proc/self/stat).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{doc, Document};
use mongo_topology::wire::framing::MessageReader;
use mongo_topology::wire::{
    encode_message, Message, MsgFlags, OpMsg, Payload, MAX_MESSAGE_SIZE_BYTES,
};
use mongo_topology::{Cluster, ClusterSettings, EventKind, EventRecvError, ServerAddress};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// How long the flood is watched.
const FLOOD: Duration = Duration::from_secs(4);

/// A standalone that streams the same reply forever once asked for an awaitable hello;
/// counts the streamed replies it wrote.
async fn start_flooding_server() -> (ServerAddress, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local address").port();
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let process_id = ObjectId::new();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, process_id, counter.clone()));
        }
    });
    (ServerAddress::tcp("127.0.0.1", port), written)
}

fn hello_reply(process_id: ObjectId) -> Document {
    doc! {
        "helloOk": true,
        "isWritablePrimary": true,
        "topologyVersion": { "processId": process_id, "counter": 0_i64 },
        "minWireVersion": 0,
        "maxWireVersion": 17,
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "maxMessageSizeBytes": MAX_MESSAGE_SIZE_BYTES,
        "maxWriteBatchSize": 100_000,
        "localTime": bson::DateTime::now(),
        "ok": 1,
    }
}

async fn serve(stream: TcpStream, process_id: ObjectId, written: Arc<AtomicUsize>) {
    let mut reader = MessageReader::new(stream, MAX_MESSAGE_SIZE_BYTES);
    while let Ok(Some(request)) = reader.read_message().await {
        let Payload::Msg(message) = &request.payload else {
            return;
        };
        let awaitable = message.body.contains_key("maxAwaitTimeMS");
        let body = if message.body.contains_key("hello") || message.body.contains_key("isMaster") {
            hello_reply(process_id)
        } else {
            doc! { "ok": 1 }
        };
        let mut reply = OpMsg::new(body);
        if !awaitable {
            let bytes = encode_message(&Message {
                request_id: 1,
                response_to: request.request_id,
                payload: Payload::Msg(reply),
            })
            .expect("encodable");
            if reader.get_mut().write_all(&bytes).await.is_err() {
                return;
            }
            continue;
        }
        // The flood: the same reply, as fast as the socket takes it, until it closes; each
        // streamed reply answers the one before (exhaust's responseTo chain).
        reply.flags = MsgFlags::MORE_TO_COME;
        let mut response_to = request.request_id;
        let mut request_id = response_to.wrapping_add(1);
        loop {
            let bytes = encode_message(&Message {
                request_id,
                response_to,
                payload: Payload::Msg(reply.clone()),
            })
            .expect("encodable");
            if reader.get_mut().write_all(&bytes).await.is_err() {
                return;
            }
            written.fetch_add(1, Ordering::Relaxed);
            response_to = request_id;
            request_id = request_id.wrapping_add(1);
        }
    }
}

/// CPU time (user + system) of this process so far, from /proc/self/stat.
fn process_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the command name (which ends with the last ')'): utime is the 12th and
    // stime the 13th of those, in clock ticks.
    let rest = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let per_second = clock_ticks_per_second();
    Duration::from_secs_f64(ticks as f64 / per_second as f64)
}

fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_identical_streamed_replies_is_bounded() {
    let (server, written) = start_flooding_server().await;
    let uri = format!("mongodb://{server}/?directConnection=true&heartbeatFrequencyMS=1000");
    let settings = ClusterSettings::parse(&uri).expect("valid URI");
    let (cluster, mut events) = Cluster::with_events(settings).expect("cluster starts");
    // Wait for the first streamed reply: the flood has begun.
    let began = Instant::now();
    loop {
        assert!(began.elapsed() < Duration::from_secs(10), "no stream began");
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Ok(event)) => {
                if let EventKind::HeartbeatSucceeded { awaited: true, .. } = event.kind {
                    break;
                }
            }
            Ok(Err(EventRecvError::Missed(_))) => break,
            Ok(Err(closed)) => panic!("event stream ended: {closed}"),
            Err(_) => panic!("no streamed reply within 10 s"),
        }
    }
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let mut processed: u64 = 0;
    while started.elapsed() < FLOOD {
        match tokio::time::timeout_at(started + FLOOD, events.recv()).await {
            Ok(Ok(event)) => {
                if let EventKind::HeartbeatSucceeded { awaited: true, .. } = event.kind {
                    processed += 1;
                }
            }
            Ok(Err(EventRecvError::Missed(count))) => processed += count,
            Ok(Err(closed)) => panic!("event stream ended: {closed}"),
            Err(_) => break,
        }
    }
    let wall = started.elapsed();
    let cpu = process_cpu_time().saturating_sub(cpu_before);
    let share = cpu.as_secs_f64() / wall.as_secs_f64();
    eprintln!(
        "flood: {processed} streamed replies processed in {wall:?} ({} written by the server); \
         CPU of the process {cpu:?} = {:.0}% of one core",
        written.load(Ordering::Relaxed),
        share * 100.0
    );
    // The monitor stays connected and usable: the server is still known.
    assert!(cluster.topology().servers.contains_key(&server));
    cluster.close().await;
    // Bounds generous for a loaded machine: a budget of a few replies per
    // minHeartbeatFrequencyMS and one abandoned stream per heartbeatFrequencyMS process
    // dozens of replies, not tens of thousands.
    assert!(
        processed <= 200,
        "{processed} streamed replies processed in {wall:?}"
    );
    assert!(
        share < 0.25,
        "the process used {:.0}% of a core during the flood",
        share * 100.0
    );
}
