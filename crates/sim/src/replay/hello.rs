//! The replayed hello: the recorded reply shaped for the request (legacy `isMaster` or
//! `hello`), with the replay's `topologyVersion`; and the awaitable hello's parameters.

use std::time::Duration;

use bson::oid::ObjectId;
use bson::{doc, Bson, Document};

/// The longest an awaitable hello waits, whatever maxAwaitTimeMS says.
const MAX_AWAIT_CAP: Duration = Duration::from_secs(24 * 3600);

/// An awaitable hello: the client's topologyVersion and how long it may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Awaitable {
    /// The processId the client knows.
    pub(crate) process_id: ObjectId,
    /// The counter the client knows.
    pub(crate) counter: i64,
    /// maxAwaitTimeMS (capped).
    pub(crate) max_await: Duration,
}

/// The awaitable hello parameters of `command`, if it has usable ones (a hello without
/// them, or with malformed ones, is answered at once).
pub(crate) fn awaitable(command: &Document) -> Option<Awaitable> {
    let tv = command.get_document("topologyVersion").ok()?;
    let process_id = tv.get_object_id("processId").ok()?;
    let counter = match tv.get("counter")? {
        Bson::Int64(counter) => *counter,
        Bson::Int32(counter) => i64::from(*counter),
        _ => return None,
    };
    let millis = match command.get("maxAwaitTimeMS")? {
        Bson::Int64(millis) => *millis,
        Bson::Int32(millis) => i64::from(*millis),
        Bson::Double(millis) if millis.is_finite() => *millis as i64,
        _ => return None,
    };
    let millis = u64::try_from(millis).ok()?;
    Some(Awaitable {
        process_id,
        counter,
        max_await: Duration::from_millis(millis).min(MAX_AWAIT_CAP),
    })
}

/// `reply` as the answer to `command` (`hello`, `isMaster` or `ismaster`): the writable
/// field named as the request's spelling expects, `helloOk` when asked for, and the
/// replay's topologyVersion (`process_id`, `version`).
pub(crate) fn shaped(
    reply: &Document,
    command: &Document,
    process_id: ObjectId,
    version: i64,
) -> Document {
    let legacy = command.keys().next().is_some_and(|name| name != "hello");
    let (wanted, other) = if legacy {
        ("ismaster", "isWritablePrimary")
    } else {
        ("isWritablePrimary", "ismaster")
    };
    let mut shaped = Document::new();
    if command.contains_key("helloOk") {
        shaped.insert("helloOk", true);
    }
    shaped.insert(
        "topologyVersion",
        doc! { "processId": process_id, "counter": version },
    );
    for (key, value) in reply {
        match key.as_str() {
            "helloOk" | "topologyVersion" => {}
            key if key == other => {
                shaped.insert(wanted, value.clone());
            }
            _ => {
                shaped.insert(key.clone(), value.clone());
            }
        }
    }
    shaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_answers_in_the_requests_spelling_with_the_replays_topology_version() {
        let recorded = doc! { "isWritablePrimary": true, "topologyVersion": 1, "ok": 1.0 };
        let id = ObjectId::new();
        let legacy = shaped(&recorded, &doc! { "isMaster": 1, "helloOk": true }, id, 3);
        assert_eq!(legacy.get_bool("ismaster").ok(), Some(true));
        assert!(!legacy.contains_key("isWritablePrimary"));
        assert_eq!(legacy.get_bool("helloOk").ok(), Some(true));
        assert_eq!(
            legacy.get_document("topologyVersion").unwrap(),
            &doc! { "processId": id, "counter": 3_i64 }
        );
        let hello = shaped(&legacy, &doc! { "hello": 1 }, id, 4);
        assert_eq!(hello.get_bool("isWritablePrimary").ok(), Some(true));
        assert!(!hello.contains_key("helloOk"));
    }

    #[test]
    fn an_awaitable_hello_needs_a_topology_version_and_max_await_time() {
        let id = ObjectId::new();
        let command = doc! {
            "hello": 1,
            "topologyVersion": { "processId": id, "counter": 2_i64 },
            "maxAwaitTimeMS": 500,
        };
        assert_eq!(
            awaitable(&command),
            Some(Awaitable {
                process_id: id,
                counter: 2,
                max_await: Duration::from_millis(500)
            })
        );
        assert_eq!(awaitable(&doc! { "hello": 1, "maxAwaitTimeMS": 500 }), None);
        assert_eq!(
            awaitable(&doc! { "hello": 1, "topologyVersion": { "processId": id, "counter": 2 } }),
            None
        );
    }
}
