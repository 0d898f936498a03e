//! Awaitable hello: its parameters, and the wait for a change of the node's
//! topologyVersion while the client stays silent.

use std::time::Duration;

use bson::oid::ObjectId;
use bson::{Bson, Document};
use tokio::sync::watch;
use tokio::time::Instant;

use super::io::{peer_went_away, Close, Reader};
use crate::reply::error_reply;
use crate::shared::Shared;
use mongo_topology_core::wire::framing::FrameError;

/// The longest an awaitable hello waits, whatever maxAwaitTimeMS says.
const MAX_AWAIT_CAP: Duration = Duration::from_secs(24 * 3600);

/// An awaitable hello's parameters.
#[derive(Debug, Clone, Copy)]
pub(super) struct AwaitSpec {
    pub(super) process_id: ObjectId,
    pub(super) counter: i64,
    pub(super) max_await: Duration,
}

/// Parses `topologyVersion` + `maxAwaitTimeMS` of an awaitable hello. `Ok(None)`: not
/// awaitable; `Err(reply)`: malformed, answer with this error.
pub(super) fn await_spec(command: &Document) -> Result<Option<AwaitSpec>, Document> {
    let tv = command.get("topologyVersion");
    let max = command.get("maxAwaitTimeMS");
    let (tv, max) = match (tv, max) {
        (None, None) => return Ok(None),
        (Some(Bson::Document(tv)), Some(max)) => (tv, max),
        _ => {
            return Err(error_reply(
                9,
                "FailedToParse",
                "topologyVersion must be a document and come with maxAwaitTimeMS",
            ))
        }
    };
    let bad = |what: &str| {
        error_reply(
            9,
            "FailedToParse",
            format!("invalid {what} in awaitable hello"),
        )
    };
    let process_id = tv
        .get_object_id("processId")
        .map_err(|_| bad("topologyVersion.processId"))?;
    let counter = match tv.get("counter") {
        Some(Bson::Int64(c)) => *c,
        Some(Bson::Int32(c)) => i64::from(*c),
        _ => return Err(bad("topologyVersion.counter")),
    };
    let millis = match max {
        Bson::Int64(m) => *m,
        Bson::Int32(m) => i64::from(*m),
        Bson::Double(m) if m.is_finite() => *m as i64,
        _ => return Err(bad("maxAwaitTimeMS")),
    };
    let millis = u64::try_from(millis).map_err(|_| bad("maxAwaitTimeMS"))?;
    Ok(Some(AwaitSpec {
        process_id,
        counter,
        max_await: Duration::from_millis(millis),
    }))
}

/// Waits until node `idx`'s topologyVersion differs from (`process_id`, `counter`) or
/// `max_await` passes. Meanwhile the client must stay silent: its closing the connection
/// (or sending anything) ends the connection.
pub(super) async fn wait_for_change(
    shared: &Shared,
    idx: usize,
    changes: &mut watch::Receiver<i64>,
    process_id: ObjectId,
    counter: i64,
    max_await: Duration,
    rd: &mut Reader,
) -> Result<(), Close> {
    // A client may ask for any wait: cap it so the deadline cannot overflow.
    let deadline = Instant::now() + max_await.min(MAX_AWAIT_CAP);
    loop {
        changes.borrow_and_update();
        let same = shared
            .world()
            .node(idx)
            .is_some_and(|n| n.process_id == process_id && n.tv_counter == counter);
        if !same {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return Ok(()),
            changed = changes.changed() => {
                if changed.is_err() {
                    return Err(Close::Quietly); // the deployment is gone
                }
            }
            read = rd.read_available() => {
                return Err(match read {
                    Ok(0) => Close::Quietly,
                    Ok(_) => Close::Because("client sent data while awaiting a hello reply".into()),
                    Err(FrameError::Io(e)) if peer_went_away(&e) => Close::Quietly,
                    Err(e) => Close::Because(format!("read failed: {e}")),
                });
            }
        }
    }
}
